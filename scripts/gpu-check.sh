#!/usr/bin/env bash
# GPU check for the CUDA executor, for a machine with an NVIDIA GPU (H100/H200, driver >= 580):
# builds with `--features cuda`, runs the NVRTC compile checks, the g++ mirror test and the
# CPU-vs-GPU parity tests, then the GPU benchmark (paper config, 1,024 and 8,192 genomes), and
# prints a summary. Sized to finish in under 8 minutes on one H100 with 16 cores, including the
# cold release build.
#
# NVRTC 13.0 comes from a CUDA toolkit if one is on the loader path, else from the pinned PyPI
# wheels (installed into $CUDA_WHEELS_DIR, default ~/.cache/sfnn-cuda-wheels; needs pip and
# network on first use).
set -euo pipefail
cd "$(dirname "$0")/.."
START=$(date +%s)
LOG_DIR=${LOG_DIR:-target/gpu-check}
mkdir -p "$LOG_DIR"
summary=()
note() { summary+=("$1"); echo "== $1"; }

echo "== GPU"
nvidia-smi -L || { echo "nvidia-smi failed: no usable GPU here" >&2; exit 1; }

if [ -z "${NVRTC_LIB_DIR:-}" ]; then
  for dir in /usr/local/cuda/lib64 /usr/local/cuda-13.0/lib64 /usr/local/cuda/targets/x86_64-linux/lib; do
    if [ -e "$dir/libnvrtc.so.13" ]; then export NVRTC_LIB_DIR="$dir"; break; fi
  done
fi
if [ -z "${NVRTC_LIB_DIR:-}" ]; then
  TC=${CUDA_WHEELS_DIR:-$HOME/.cache/sfnn-cuda-wheels}
  if [ ! -e "$TC/nvidia/cu13/lib/libnvrtc.so.13" ]; then
    echo "== installing the pinned NVRTC wheels into $TC"
    python3 -m pip install -q --disable-pip-version-check --no-deps --target "$TC" \
      nvidia-cuda-nvrtc==13.0.88 nvidia-cuda-runtime==13.0.96
  fi
  export NVRTC_LIB_DIR="$TC/nvidia/cu13/lib"
fi
note "NVRTC from $NVRTC_LIB_DIR"
export REQUIRE_CUDA=1 REQUIRE_NVRTC=1 REQUIRE_GXX=1
export CARGO_TERM_COLOR=never

echo "== cargo build --release --features cuda"
cargo build --release --features cuda --bin sfnn 2>&1 | tail -3
note "release build done after $(( $(date +%s) - START )) s"

if timeout 300 cargo test --release --features cuda --test cuda_compile --test cuda_mirror \
    --test cuda_kernel_emulation --test cuda_parity -- --nocapture --test-threads=1 >"$LOG_DIR/tests.log" 2>&1; then
  note "tests: PASS (cuda_compile, cuda_mirror, cuda_kernel_emulation, cuda_parity)"
else
  note "tests: FAIL (see $LOG_DIR/tests.log)"
fi
grep -E "registers|identical|SKIP|GPU:|panicked|differ" "$LOG_DIR/tests.log" | head -60 || true

echo "== benchmark"
if timeout 180 target/release/sfnn bench --executor cuda --popsize 128,1024,8192 --generations 3 \
    --json "$LOG_DIR/bench.json" 2>&1 | tee "$LOG_DIR/bench.log"; then
  note "bench: done ($LOG_DIR/bench.json)"
else
  note "bench: FAILED (see $LOG_DIR/bench.log)"
fi

if command -v ncu >/dev/null 2>&1; then
  echo "== ncu (one paper-config launch)"
  timeout 60 ncu --launch-count 1 --section SpeedOfLight --section Occupancy \
    target/release/sfnn bench --executor cuda --popsize 128 --generations 1 --cpu-members 1 \
    >"$LOG_DIR/ncu.log" 2>&1 && note "ncu: $LOG_DIR/ncu.log" || note "ncu: failed or timed out"
fi

echo
echo "================ summary ================"
printf '%s\n' "${summary[@]}"
grep -E "^generation|CPU executor|GFLOP" "$LOG_DIR/bench.log" || true
echo "total: $(( $(date +%s) - START )) s"
grep -q "tests: PASS" <(printf '%s\n' "${summary[@]}")
