#!/usr/bin/env bash
# Sets up what the tests need, then runs every check and test.
# Usage: scripts/test.sh   (CI runs exactly this through .ci/run)
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '\n== %s\n' "$*"; }

log "toolchain"
cargo --version
for tool in fmt clippy; do
  cargo "$tool" --version >/dev/null 2>&1 || { echo "cargo $tool is missing: rustup component add rustfmt clippy" >&2; exit 1; }
done

log "format and lints"
cargo fmt --check
cargo clippy --all-targets --locked -- -D warnings

log "benchmarks compile"
cargo bench --locked --no-run

log "doc tests"
cargo test --doc --locked

# Last, so that its summary closes the output.
log "tests"
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --locked --no-fail-fast
else
  cargo test --locked --no-fail-fast
fi
