#!/usr/bin/env bash
# Sets up what the tests need, then runs every check and test.
# Usage: scripts/test.sh   (CI runs exactly this through .ci/run)
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '\n== %s (at %ss)\n' "$*" "$SECONDS"; }

log "toolchain"
cargo --version
for tool in fmt clippy; do
  cargo "$tool" --version >/dev/null 2>&1 || { echo "cargo $tool is missing: rustup component add rustfmt clippy" >&2; exit 1; }
done

# Debian packages the tests use. Installed when missing and we may (root or
# CI); otherwise stop and say what to install. Never skip the tests.
need() {
  local bin=$1 pkg=$2
  command -v "$bin" >/dev/null 2>&1 && return 0
  if [ "$(id -u)" = 0 ]; then
    log "installing $pkg"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$pkg" >/dev/null
  elif [ -n "${CI:-}" ] && command -v sudo >/dev/null 2>&1; then
    sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$pkg" >/dev/null
  fi
  command -v "$bin" >/dev/null 2>&1 || { echo "$bin is missing: install it with 'apt-get install $pkg'" >&2; exit 1; }
}

# A library package, found by pkg-config.
need_lib() {
  local lib=$1 pkg=$2
  pkg-config --exists "$lib" 2>/dev/null && return 0
  if [ "$(id -u)" = 0 ]; then
    log "installing $pkg"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq pkg-config "$pkg" >/dev/null
  elif [ -n "${CI:-}" ] && command -v sudo >/dev/null 2>&1; then
    sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq pkg-config "$pkg" >/dev/null
  fi
  pkg-config --exists "$lib" 2>/dev/null || { echo "$lib is missing: install it with 'apt-get install pkg-config $pkg'" >&2; exit 1; }
}

log "test dependencies"
# Redis tests start redis-servers of their own on free ports (never 6379).
need redis-server redis-server
need redis-benchmark redis-tools
redis-server --version
# The audio-output feature (the server's sound card) links ALSA.
need pkg-config pkg-config
need_lib alsa libasound2-dev
# Archive tests start PostgreSQL servers of their own (initdb + postgres
# on a free port), never the one a machine may run.
have_initdb() { compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || command -v initdb >/dev/null 2>&1; }
if ! have_initdb; then
  if [ "$(id -u)" = 0 ]; then
    log "installing postgresql"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  elif [ -n "${CI:-}" ] && command -v sudo >/dev/null 2>&1; then
    sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  fi
  have_initdb || { echo "PostgreSQL's initdb is missing: install it with 'apt-get install postgresql'" >&2; exit 1; }
fi
# The pages are tested in Debian's Chromium, driven by playwright-core.
need chromium chromium
# The hall display's device voice: Chromium speaks through speech-dispatcher.
need speech-dispatcher speech-dispatcher
need /usr/lib/speech-dispatcher-modules/sd_espeak-ng speech-dispatcher-espeak-ng
need node nodejs
need npm npm
# Directory sign-in is tested against an OpenLDAP slapd of the test's own.
need /usr/sbin/slapd slapd
need ldapsearch ldap-utils
# The reverse-proxy test runs config/nginx/ in a real nginx, over TLS too.
need /usr/sbin/nginx nginx
need openssl openssl
need curl curl
# The API fuzz runs schemathesis (PyPI) from a venv of its own.
need python3 python3
if ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    log "installing python3-venv"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
  else
    echo "python3 cannot make a venv: install it with 'apt-get install python3-venv'" >&2
    exit 1
  fi
fi
# Chinese glyphs for the pages' screenshots.
if ! fc-list :lang=zh 2>/dev/null | grep -q .; then
  if [ "$(id -u)" = 0 ]; then
    log "installing fonts-noto-cjk"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-noto-cjk >/dev/null
  else
    echo "no Chinese font: install it with 'apt-get install fonts-noto-cjk'" >&2
    exit 1
  fi
fi

log "format and lints"
cargo fmt --check
cargo clippy --workspace --all-targets --locked -- -D warnings

log "audio output feature"
cargo clippy --all-targets --locked --features audio-output -- -D warnings

# The tests run on the build with the server's sound card (the
# audio-output feature): its code is tested too, and one build serves both
# (building the tests twice took six minutes of CI). Without a sound card,
# as here, a server built so plays in the hall display pages only, as the
# build without it does.
AUDIO=(--features hallcall/audio-output)
log "doc tests"
cargo test --doc --locked "${AUDIO[@]}"

log "tests"
status=0
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --locked --no-fail-fast "${AUDIO[@]}" || status=$?
else
  cargo test --workspace --locked --no-fail-fast "${AUDIO[@]}" || status=$?
fi

# The benchmarks build and link. Clippy has type-checked them above; built
# here in the tests' profile they reuse what the tests compiled (a release
# build of everything took ten minutes of CI).
log "benchmarks build"
cargo test --workspace --benches --no-run --locked "${AUDIO[@]}" || status=$?

# The pages in a real browser, against the binary the tests above built.
log "browser tests"
(
  cd tests/browser
  npm ci --no-audit --no-fund --loglevel=error
  HALLCALL_BIN="$PWD/../../target/debug/hallcall" npm test --silent
) || status=$?
# Every documented route fuzzed from the OpenAPI document: no 5xx, no
# dropped connection, no status or body the document does not describe.
# A fixed seed, so a run is repeatable (FUZZ_SEED=… tries others).
log "API fuzz (schemathesis)"
FUZZ_SEED=${FUZZ_SEED:-20261206} tests/fuzz/schemathesis.sh target/debug/hallcall || status=$?
log "done, status $status"
exit "$status"
