#!/usr/bin/env bash
# Fuzzes the live API with schemathesis against its own OpenAPI document: every operation through
# the examples, coverage, fuzzing and stateful (linked create → read → act) phases, for a bounded
# time. Fails on any 5xx and on any response that breaks the document (status code, content type,
# headers, body schema), and on a panic in the server's log.
#
#   scripts/schemathesis.sh                 # as CI runs it (.ci/run)
#   SCHEMATHESIS_SECONDS=600 SCHEMATHESIS_SEED=7 scripts/schemathesis.sh   # longer, other cases
#   SCHEMATHESIS_ARGS='--exclude-operation-id upload' scripts/schemathesis.sh  # extra st options
set -euo pipefail
cd "$(dirname "$0")/.."

VERSION=4.32.5
SECONDS_BUDGET=${SCHEMATHESIS_SECONDS:-150}
SEED=${SCHEMATHESIS_SEED:-1}

if [ "$(st --version 2>/dev/null)" != "st, version $VERSION" ]; then
  python3 -m pip install -q --disable-pip-version-check --root-user-action=ignore \
    "schemathesis==$VERSION"
fi

cargo build -q --bin sfnn
work=$(mktemp -d)
server_pid=
cleanup() {
  if [ -n "$server_pid" ]; then
    kill -TERM "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

# A fresh store, a free loopback port, no workers (fuzzed specs must not start real runs), and
# none of the caller's SFNN_* settings. The admission limits stay at their defaults, so 429s are
# part of what is checked.
env -u SFNN_API_TOKEN -u SFNN_BIND -u SFNN_ALLOWED_HOSTS -u DATABASE_URL \
  -u SFNN_MAX_QUEUED_JOBS -u SFNN_SUBMIT_RATE -u SFNN_SUBMIT_BURST \
  RUST_LOG=sfnn=warn target/debug/sfnn serve --bind 127.0.0.1:0 --workers 0 \
  --data-dir "$work/data" >"$work/stdout" 2>"$work/server.log" &
server_pid=$!
url=
for _ in $(seq 300); do
  url=$(sed -n 's|^SFNN Lab dashboard: \(http://[^/]*\)/$|\1|p' "$work/stdout")
  [ -n "$url" ] && break
  kill -0 "$server_pid" 2>/dev/null || { cat "$work/server.log" >&2; exit 1; }
  sleep 0.1
done
[ -n "$url" ] || { echo "sfnn serve did not report its address" >&2; exit 1; }
echo "schemathesis $VERSION against $url for ${SECONDS_BUDGET}s (seed $SEED)"

# Two runs, so that the stateful phase always gets its share: with one time budget the fuzzing
# phase repeats until the budget is spent. One worker: schemathesis 4.32's coverage phase can
# crash in hypothesis's lambda printing when several threads generate at once.
fuzz() { # PHASES SECONDS
  timeout $(($2 + 120)) st run "$url/api/v1/openapi.json" --phases="$1" \
    --checks=not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance \
    --max-examples 25 --seed "$SEED" --max-time "$2" --workers 1 --request-timeout 30 \
    --report junit --report-junit-path "target/schemathesis/${1//,/-}.xml" \
    ${SCHEMATHESIS_ARGS:-}
}
status=0
fuzz examples,coverage,fuzzing $((SECONDS_BUDGET * 3 / 5)) || status=$?
fuzz stateful $((SECONDS_BUDGET * 2 / 5)) || status=$?

mkdir -p target/schemathesis
cp "$work/server.log" target/schemathesis/server.log
if grep -m 3 -A 2 "panicked" "$work/server.log" >&2; then
  echo "the server panicked during the run (target/schemathesis/server.log)" >&2
  status=1
fi
exit "$status"
