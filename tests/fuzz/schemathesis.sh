#!/usr/bin/env bash
# Fuzzes the HTTP API with schemathesis against the server's own OpenAPI
# document (GET /api/v1/openapi.json): every documented operation, with
# generated valid and invalid input, checked for
#   not_a_server_error          no 5xx, no dropped connection (a panic)
#   status_code_conformance     every status the server answers is documented
#   response_schema_conformance bodies match the documented schemas
# and fails on any failure, on any error (a connection the server closed
# without answering), and on any panic in the server's log.
#
# Usage: tests/fuzz/schemathesis.sh [BINARY]     (default target/debug/hallcall)
#
# It makes a Python venv at target/fuzz-venv with a pinned schemathesis (kept
# for the next run), starts BINARY in demo mode on a free port with a fresh
# store and the sample halls without opening hours (so every zone is open),
# signs in once as admin, and runs four bounded passes:
#   staff      every operation but the sign-outs, as admin (the role that
#              reaches the most routes)
#   anonymous  every operation with no token
#   accounts   POST …/accounts/{user}/sign-out as admin (the user names it is
#              given leave admin out)
#   sign-out   POST …/sign-out as admin: last, since it voids the token
# Reports (NDJSON of every request, JUnit, the server's log, a summary) go to
# target/fuzz-report/.
#
# Environment: FUZZ_EXAMPLES (cases per operation and phase, default 25),
# FUZZ_SEED (default: random), FUZZ_TIMEOUT (seconds for the staff pass,
# default 100; the others get less), FUZZ_WORKERS (default 1: with more,
# Python 3.11's ast module, which Hypothesis calls from every worker thread,
# now and then fails with "SystemError: AST constructor recursion depth
# mismatch", a flaky error of the tool, not of the server).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BIN=${1:-$ROOT/target/debug/hallcall}
[ -x "$BIN" ] || { echo "no hallcall binary at $BIN: build it (cargo build) or pass its path" >&2; exit 2; }
BIN=$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")

ST_VERSION=4.32.5
VENV=$ROOT/target/fuzz-venv
REPORT=$ROOT/target/fuzz-report
EXAMPLES=${FUZZ_EXAMPLES:-25}
STAFF_TIMEOUT=${FUZZ_TIMEOUT:-100}
WORKERS=${FUZZ_WORKERS:-1}
SEED=${FUZZ_SEED:-$((RANDOM * 32768 + RANDOM))}

log() { printf '\n== %s\n' "$*"; }

# ---- schemathesis, pinned, in its own venv (reused when it has the version)
if [ "$("$VENV/bin/schemathesis" --version 2>/dev/null)" != "schemathesis, version $ST_VERSION" ]; then
  log "making $VENV with schemathesis $ST_VERSION"
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet "schemathesis==$ST_VERSION"
fi
ST=$VENV/bin/schemathesis
PY=$VENV/bin/python

WORK=$(mktemp -d "${TMPDIR:-/tmp}/hallcall-fuzz.XXXXXX")
SERVER_PID=
cleanup() {
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill "$SERVER_PID" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$SERVER_PID" 2>/dev/null || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- the sample halls without opening hours (derived here, so it cannot drift)
sed '/^[[:space:]]*hours[[:space:]]*=/d' "$ROOT/config/hall.toml" > "$WORK/hall.toml"
"$PY" - "$WORK/hall.toml" <<'EOF'
import sys, tomllib
def walk(v, path):
    if isinstance(v, dict):
        for k, x in v.items():
            if k == "hours":
                sys.exit(f"{sys.argv[1]}: `hours` left at {path}.{k}: the sed in tests/fuzz/schemathesis.sh missed a form")
            walk(x, f"{path}.{k}")
    elif isinstance(v, list):
        for i, x in enumerate(v):
            walk(x, f"{path}[{i}]")
walk(tomllib.load(open(sys.argv[1], "rb")), "")
EOF
"$BIN" --check-config --config "$WORK/hall.toml" >/dev/null

# ---- the server, on a free port with a fresh store
PORT=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
BASE=http://127.0.0.1:$PORT
mkdir -p "$WORK/store"
log "starting $BIN on $BASE"
"$BIN" --demo --config "$WORK/hall.toml" --sounds "$ROOT/sounds" --listen "127.0.0.1:$PORT" \
  --store "file:$WORK/store" >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 100); do
  curl -fsS "$BASE/healthz" >/dev/null 2>&1 && break
  kill -0 "$SERVER_PID" 2>/dev/null || { tail -20 "$WORK/server.log" >&2; echo "the server exited" >&2; exit 1; }
  sleep 0.2
done
curl -fsS "$BASE/healthz" >/dev/null || { tail -20 "$WORK/server.log" >&2; echo "no /healthz in 20 s" >&2; exit 1; }
curl -fsS "$BASE/api/v1/openapi.json" -o "$WORK/openapi.json"

# ---- one sign-in (sign-in is rate limited per address and per account)
HALL=qiaocheng
TOKEN=$(curl -fsS -X POST -H 'Content-Type: application/json' \
  -d "{\"hall\":\"$HALL\",\"user\":\"admin\",\"password\":\"hallcall-demo\"}" "$BASE/api/v1/login" |
  "$PY" -c 'import json, sys; print(json.load(sys.stdin)["token"])')

# ---- schemathesis configuration: real ids from the configuration and the
# document, most of the time, so cases get past "unknown hall/zone/window"
"$PY" - "$WORK/hall.toml" "$WORK/openapi.json" "$HALL" > "$WORK/schemathesis.toml" <<'EOF'
import json, re, sys, tomllib
cfg = tomllib.load(open(sys.argv[1], "rb"))
doc = json.load(open(sys.argv[2]))
hall = next(h for h in cfg["hall"] if h["id"] == sys.argv[3])
zones = [z["id"] for z in hall["zone"]]
services = sorted({s["id"] for z in hall["zone"] for s in z["service"]})
windows = [w["number"] for w in hall["window"]]
users = [a["user"] for a in hall["account"] if a["user"] != "admin"] + ["nobody"]
categories = [c["id"] for c in hall.get("category", [])]
tickets = [f'{z["prefix"]}{n:03}' for z in hall["zone"] for n in (1, 2, 3)]
actions = ["open", "close", "call-next"]
for p in doc["paths"].get("/api/v1/halls/{hall}/windows/{window}/{action}", {}).get("post", {}).get("parameters", []):
    if p.get("name") == "action":
        actions = [w for w in re.findall(r"[a-z][a-z-]*", p.get("description", "")) if w != "or"] or actions
# ID numbers: valid ones of each kind the halls accept, in the spellings
# people type, so cases reach the per-person rules; and strings of the
# lengths the checks slice at (18 bytes: a resident ID card; 11: a Taiwan
# permit) with a character of several bytes across the cut (such strings
# crashed the handler once).
ids = ["11010519491231002X", "110105194912310021", "110105 19491231 002x", "13800138000",
       "+86 138-0013-8000", "0086 13800138000", "H12345678", "E12345678",
       "1101051949123100\u00e9", "11010519491231002\u00e9", "110105194912310\u4e2d",
       "\uff11\uff13\uff18\uff10\uff10\uff11\uff13\uff18\uff10\uff10\uff10",
       "+86\u00e9\u00e9\u00e9\u00e9\u00e9", "1380013800\u00e9", "123456789\u00e9"]
def values(xs):
    return json.dumps(xs, ensure_ascii=False)
print(f"""
# Generated by tests/fuzz/schemathesis.sh from config/hall.toml and the document.
[dictionaries]
halls = {{ values = {values([hall["id"]])} }}
zones = {{ values = {values(zones)} }}
services = {{ values = {values(services)} }}
windows = {{ values = {values(windows)} }}
actions = {{ values = {values(actions)} }}
users = {{ values = {values(users)} }}
categories = {{ values = {values(categories)} }}
tickets = {{ values = {values(tickets)} }}
ids = {{ values = {values(ids)} }}

[parameters]
"path.hall" = {{ dictionary = "halls", probability = 0.9 }}
"path.zone" = {{ dictionary = "zones", probability = 0.7 }}
"path.window" = {{ dictionary = "windows", probability = 0.7 }}
"path.action" = {{ dictionary = "actions", probability = 0.8 }}
"path.user" = {{ dictionary = "users", probability = 0.7 }}
"path.ticket" = {{ dictionary = "tickets", probability = 0.5 }}
"body.zone" = {{ dictionary = "zones", probability = 0.7 }}
"body.service" = {{ dictionary = "services", probability = 0.7 }}
"body.category" = {{ dictionary = "categories", probability = 0.5 }}
"body.ticket" = {{ dictionary = "tickets", probability = 0.5 }}
"body.id_number" = {{ dictionary = "ids", probability = 0.8 }}
""")
EOF

rm -rf "$REPORT"
mkdir -p "$REPORT"
cp "$WORK/schemathesis.toml" "$WORK/openapi.json" "$REPORT/"

# One pass: NAME TIMEOUT [schemathesis run options…]. Runs in $WORK so the
# Hypothesis database and crash files stay out of the tree.
status=0
pass() {
  local name=$1 limit=$2
  shift 2
  log "pass $name (at most ${limit}s)"
  local rc=0
  (cd "$WORK" && timeout --kill-after=10 "$limit" "$ST" --config-file "$WORK/schemathesis.toml" run \
    "$BASE/api/v1/openapi.json" \
    --checks not_a_server_error,status_code_conformance,response_schema_conformance \
    --max-examples "$EXAMPLES" --workers "$WORKERS" --seed "$SEED" \
    --continue-on-failure --request-timeout 10 --output-sanitize false --no-color \
    --report junit,ndjson --report-dir "$REPORT" \
    --report-junit-path "$REPORT/$name.junit.xml" --report-ndjson-path "$REPORT/$name.ndjson" \
    "$@") >"$REPORT/$name.txt" 2>&1 || rc=$?
  # The summary block, not the whole output (it is in $REPORT/$name.txt).
  sed -n '/^=* SUMMARY =*$/,$p' "$REPORT/$name.txt"
  case $rc in
    0) ;;
    124 | 137) echo "pass $name: stopped after ${limit}s (FUZZ_TIMEOUT): incomplete" >&2; status=1 ;;
    *) echo "pass $name: exit $rc ($REPORT/$name.txt)" >&2; status=1 ;;
  esac
}

AUTH="Authorization: Bearer $TOKEN"
T0=$(date +%s)
pass staff "$STAFF_TIMEOUT" -H "$AUTH" --exclude-path-regex '/sign-out$'
pass anonymous 45
pass accounts 15 -H "$AUTH" --include-path '/api/v1/halls/{hall}/accounts/{user}/sign-out'
pass sign-out 15 -H "$AUTH" --include-path '/api/v1/halls/{hall}/sign-out'
log "fuzzing took $(($(date +%s) - T0))s (seed $SEED, $EXAMPLES examples per operation)"

if ! kill -0 "$SERVER_PID" 2>/dev/null; then
  echo "the server died during the fuzz" >&2
  status=1
elif ! curl -fsS "$BASE/healthz" >/dev/null; then
  echo "the server no longer answers /healthz after the fuzz" >&2
  status=1
fi
cp "$WORK/server.log" "$REPORT/server.log"
if grep -q 'panicked at' "$REPORT/server.log"; then
  log "server panics"
  sed 's/\x1b\[[0-9;]*m//g' "$REPORT/server.log" | grep -A1 'panicked at' | grep -v '^--$' |
    sed -E 's/\(([0-9]+)\)//' | paste - - | sort | uniq -c
  status=1
fi

log "failures by operation, check and status"
"$PY" "$ROOT/tests/fuzz/summarize.py" --token "$TOKEN" --base "$BASE" "$REPORT"/{staff,anonymous,accounts,sign-out}.ndjson |
  tee "$REPORT/summary.txt" || { echo "(the summary failed: see the passes' output in $REPORT)" >&2; status=1; }

echo
echo "reports: $REPORT"
[ "$status" = 0 ] && echo "schemathesis: no failures" || echo "schemathesis: FAILED"
exit "$status"
