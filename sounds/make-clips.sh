#!/usr/bin/env bash
# Makes every clip the announcer composes from, with espeak-ng and sox
# (Debian packages `espeak-ng` and `sox`). Run from anywhere:
#   sounds/make-clips.sh
# Mandarin is spoken by espeak-ng's `cmn-latn-pinyin` voice from pinyin
# (its `cmn` voice mispronounces most characters); letters and English by
# its `en` voice. Each clip is trimmed of silence at both ends, normalised
# to -3 dBFS and written as 16-bit mono WAV at 22,050 Hz. To use recorded
# clips instead, replace the files under the same names (README.md).
set -euo pipefail
cd "$(dirname "$0")"
RATE=22050
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# say VOICE TEXT OUT
say() {
  espeak-ng -v "$1" -s 150 -w "$tmp/raw.wav" "$2"
  sox "$tmp/raw.wav" -r "$RATE" -c 1 -b 16 "$3" \
    silence 1 0.02 0.5% reverse silence 1 0.02 0.5% reverse gain -n -3
}

mkdir -p zh en letters

# 叮咚: two soft tones.
sox -n -r "$RATE" -c 1 -b 16 "$tmp/ding.wav" synth 0.35 sine 880 fade q 0.01 0.35 0.30
sox -n -r "$RATE" -c 1 -b 16 "$tmp/dong.wav" synth 0.55 sine 660 fade q 0.01 0.55 0.50
sox "$tmp/ding.wav" "$tmp/dong.wav" chime.wav gain -n -6

# Ticket prefixes, read as English letter names (as halls do).
for l in A B C D E F G H I J K L M N O P Q R S T U V W X Y Z; do
  say en "$l" "letters/$l.wav"
done

# Mandarin: digits one by one (零 一 二 …), the number words, the phrases.
zh_digits=(ling2 yi1 er4 san1 si4 wu3 liu4 qi1 ba1 jiu3)
for d in 0 1 2 3 4 5 6 7 8 9; do say cmn-latn-pinyin "${zh_digits[$d]}" "zh/digit-$d.wav"; done
say cmn-latn-pinyin shi2 zh/shi.wav       # 十
say cmn-latn-pinyin bai3 zh/bai.wav       # 百
say cmn-latn-pinyin liang3 zh/liang.wav   # 两 (two, in "两号窗口")
cat > zh/words.toml <<'TOML'
# Template words and their clips. Made by make-clips.sh from the pinyin shown.
"请" = "qing.wav"                # qing3
"号" = "hao.wav"                 # hao4
"到" = "dao.wav"                 # dao4
"号窗口办理" = "hao-chuangkou-banli.wav"  # hao4 chuang1 kou3 ban4 li3
"号窗口" = "hao-chuangkou.wav"   # hao4 chuang1 kou3
"办理" = "banli.wav"             # ban4 li3
"重呼" = "chonghu.wav"           # chong2 hu1
TOML
say cmn-latn-pinyin qing3 zh/qing.wav
say cmn-latn-pinyin hao4 zh/hao.wav
say cmn-latn-pinyin dao4 zh/dao.wav
say cmn-latn-pinyin "hao4 chuang1 kou3 ban4 li3" zh/hao-chuangkou-banli.wav
say cmn-latn-pinyin "hao4 chuang1 kou3" zh/hao-chuangkou.wav
say cmn-latn-pinyin "ban4 li3" zh/banli.wav
say cmn-latn-pinyin "chong2 hu1" zh/chonghu.wav

# English: digits, 10-19, the tens, hundred, the phrases.
en_digits=(zero one two three four five six seven eight nine)
for d in 0 1 2 3 4 5 6 7 8 9; do say en "${en_digits[$d]}" "en/digit-$d.wav"; done
teens=(ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen)
for i in 0 1 2 3 4 5 6 7 8 9; do say en "${teens[$i]}" "en/n-$((10 + i)).wav"; done
tens=(twenty thirty forty fifty sixty seventy eighty ninety)
for i in 0 1 2 3 4 5 6 7; do say en "${tens[$i]}" "en/n-$((20 + 10 * i)).wav"; done
say en hundred en/hundred.wav
cat > en/words.toml <<'TOML'
# Template words and their clips. Made by make-clips.sh.
"ticket" = "ticket.wav"
"number" = "number.wav"
"please" = "please.wav"
"please go to window" = "please-go-to-window.wav"
"go to" = "go-to.wav"
"window" = "window.wav"
"again" = "again.wav"
TOML
say en ticket en/ticket.wav
say en number en/number.wav
say en please en/please.wav
say en "please go to window" en/please-go-to-window.wav
say en "go to" en/go-to.wav
say en window en/window.wav
say en again en/again.wav

echo "clips written under $(pwd)"
