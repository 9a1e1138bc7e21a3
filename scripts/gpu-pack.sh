#!/usr/bin/env bash
# Builds, on a machine with Rust, everything scripts/gpu-check.sh runs on a GPU machine that has
# no Rust toolchain and no package registry: stripped release binaries with `--features cuda`
# (`sfnn`, and the cuda_compile and cuda_parity test binaries), in one ignored folder of at most
# 40 MiB, with a manifest (commit, sizes, SHA-256).
#
#   bash scripts/gpu-pack.sh            # -> target/gpu-pack (PACK_DIR overrides)
#
# Carry that folder to the GPU machine with the working tree and run scripts/gpu-check.sh there.
# The kernels are compiled into the binaries (NVRTC compiles them at run time on the GPU
# machine), so nothing else of the build is needed there.
set -euo pipefail
cd "$(dirname "$0")/.."
PACK=${PACK_DIR:-target/gpu-pack}
TARGET=${CARGO_TARGET_DIR:-target}
MAX_BYTES=$((40 << 20))
export CARGO_TERM_COLOR=never
# No debug info and stripped symbols: the pack must stay small enough to carry.
export CARGO_PROFILE_RELEASE_DEBUG=false CARGO_PROFILE_RELEASE_STRIP=symbols

rm -rf "$PACK"
mkdir -p "$PACK"
echo "== cargo build --release --features cuda --bin sfnn"
cargo build --release --features cuda --bin sfnn
cp "$TARGET/release/sfnn" "$PACK/sfnn"

echo "== test binaries: cuda_compile, cuda_parity"
cargo test --release --features cuda --no-run --test cuda_compile --test cuda_parity \
  --message-format=json >"$PACK/.cargo-messages.json"
python3 - "$PACK" <<'PY'
import json, shutil, sys
pack = sys.argv[1]
found = {}
for line in open(f"{pack}/.cargo-messages.json"):
    message = json.loads(line)
    if message.get("reason") == "compiler-artifact" and message.get("executable") \
            and message["target"]["kind"] == ["test"]:
        found[message["target"]["name"]] = message["executable"]
for name in ("cuda_compile", "cuda_parity"):
    if name not in found:
        sys.exit(f"cargo built no {name} test binary")
    shutil.copy2(found[name], f"{pack}/{name}")
PY
rm "$PACK/.cargo-messages.json"

{
  echo "commit: $(git rev-parse HEAD)$(git diff --quiet HEAD -- src kernels Cargo.toml Cargo.lock || echo ' (with local changes)')"
  echo "built: $(date -u +%FT%TZ) on $(uname -m)"
  (cd "$PACK" && sha256sum sfnn cuda_compile cuda_parity)
} >"$PACK/MANIFEST"
total=$(du -cb "$PACK"/* | tail -1 | cut -f1)
ls -l "$PACK"
echo "pack: $PACK, $((total >> 20)) MiB"
if [ "$total" -gt "$MAX_BYTES" ]; then
  echo "the pack is $total bytes, over the 40 MiB that may be carried" >&2
  exit 1
fi
