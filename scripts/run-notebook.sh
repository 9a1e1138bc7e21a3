#!/usr/bin/env bash
# Runs examples/quickstart.ipynb top to bottom against a fresh `sfnn serve` (its own port and
# temporary SQLite file), fails on any cell's error, and stops the server. The committed notebook
# must have no outputs (so it diffs cleanly); that is checked first.
#
#   scripts/run-notebook.sh                  # target/debug/sfnn; SFNN_BIN=... for another
#   NOTEBOOK_OUT=out.ipynb scripts/run-notebook.sh   # also keep the executed copy
#
# Needs: pip install './python[notebook]' (or the pinned line in python/README.md).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

notebook=${NOTEBOOK:-examples/quickstart.ipynb}
bin=${SFNN_BIN:-target/debug/sfnn}
if [ ! -x "$bin" ]; then
  echo "run-notebook: no sfnn binary at $bin (cargo build, or set SFNN_BIN)" >&2
  exit 1
fi

# The committed notebook: valid, and without outputs (so it diffs cleanly).
python3 - "$notebook" <<'PY'
import sys
import nbformat
path = sys.argv[1]
nb = nbformat.read(path, as_version=4)
nbformat.validate(nb)
dirty = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and (c.outputs or c.execution_count is not None)]
if dirty:
    sys.exit(f"run-notebook: {path} has outputs (cells {dirty}); clear them before committing "
             f"(Jupyter: Clear All Outputs, or jupyter nbconvert --clear-output --inplace {path})")
PY

tmp=$(mktemp -d)
pid=
stop() {
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  fi
  rm -rf "$tmp"
}
trap stop EXIT

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
url="http://127.0.0.1:$port"
env -u SFNN_API_TOKEN -u DATABASE_URL RUST_LOG=sfnn=warn \
  "$bin" serve --bind "127.0.0.1:$port" --database "$tmp/sfnn.db" --workers 1 --poll-ms 50 \
  --static-dir "$root/static" >"$tmp/server.log" 2>&1 &
pid=$!

python3 - "$url" <<'PY' || { echo "run-notebook: the server did not start:" >&2; cat "$tmp/server.log" >&2; exit 1; }
import sys, time, urllib.request
deadline = time.monotonic() + 30
while time.monotonic() < deadline:
    try:
        with urllib.request.urlopen(sys.argv[1] + "/healthz", timeout=1) as r:
            if r.status == 200:
                sys.exit(0)
    except OSError:
        time.sleep(0.1)
sys.exit(1)
PY

export SFNN_URL=$url
unset SFNN_API_TOKEN
export PYTHONPATH="$root/python${PYTHONPATH:+:$PYTHONPATH}"

started=$(date +%s)
python3 - "$notebook" "${NOTEBOOK_OUT:-}" <<'PY' || { echo "run-notebook: server log:" >&2; tail -n 40 "$tmp/server.log" >&2; exit 1; }
import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

path, out = Path(sys.argv[1]), sys.argv[2]
nb = nbformat.read(path, as_version=4)
client = NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}})
try:
    client.execute()
except CellExecutionError as e:
    sys.exit(f"run-notebook: {path} failed:\n{e}")
finally:
    if out:
        nbformat.write(nb, out)
errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
if errors:
    sys.exit(f"run-notebook: {path}: {len(errors)} cells raised errors")
print(f"run-notebook: {path}: {sum(c.cell_type == 'code' for c in nb.cells)} code cells ran without error")
PY
echo "run-notebook: $(( $(date +%s) - started )) s"
