#!/usr/bin/env bash
# The GPU verdict, on a GPU machine with a CUDA 13 driver and NVRTC but no Rust toolchain, no
# pip and no network: runs the binaries that scripts/gpu-pack.sh built elsewhere.
#   1. NVRTC compiles the kernels for this GPU (cuda_compile);
#   2. CPU and GPU executors agree bit for bit on identical requests (cuda_parity);
#   3. the benchmark at populations 128, 1,024 and 8,192 with the CPU executor on a few
#      members and all cores;
#   4. a capped `ncu --clock-control none` profile of one paper-config launch.
# Writes summary.txt and its logs to $OUT when set (the device tool brings that folder back),
# else to target/gpu-check. Exits non-zero when there is no usable GPU or any parity or compile
# check fails. Sized for under 4 minutes on one H200.
#
#   bash scripts/gpu-check.sh           # PACK_DIR (default target/gpu-pack) holds the binaries
set -uo pipefail
cd "$(dirname "$0")/.."
START=$(date +%s)
PACK=${PACK_DIR:-target/gpu-pack}
LOGS=${OUT:-target/gpu-check}
mkdir -p "$LOGS"
SUMMARY="$LOGS/summary.txt"
: >"$SUMMARY"
note() { echo "$1" | tee -a "$SUMMARY"; }
fail() {
  note "FAIL: $1"
  note "total: $(($(date +%s) - START)) s"
  exit "${2:-1}"
}

note "== sfnn GPU check, $(date -u +%FT%TZ)"
for binary in sfnn cuda_compile cuda_parity; do
  [ -x "$PACK/$binary" ] || fail "no $PACK/$binary: run scripts/gpu-pack.sh on a build machine and carry $PACK"
done
[ -f "$PACK/MANIFEST" ] && head -1 "$PACK/MANIFEST" | sed 's/^/pack /' | tee -a "$SUMMARY"

# 0. A GPU and its driver, before anything that needs them.
if ! command -v nvidia-smi >/dev/null 2>&1; then
  fail "no NVIDIA GPU here: nvidia-smi is not installed (this check needs a GPU machine)" 2
fi
if ! nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv,noheader \
    >"$LOGS/gpu.txt" 2>&1; then
  fail "no NVIDIA GPU here: nvidia-smi failed: $(head -1 "$LOGS/gpu.txt")" 2
fi
note "GPU: $(head -1 "$LOGS/gpu.txt")"

# NVRTC 13: the toolkit's, else the one in Python's nvidia-cuda-nvrtc wheel.
if [ -z "${NVRTC_LIB_DIR:-}" ]; then
  for dir in /usr/local/cuda/lib64 /usr/local/cuda-13.0/lib64 /usr/local/cuda/targets/x86_64-linux/lib \
      /usr/lib/x86_64-linux-gnu; do
    if [ -e "$dir/libnvrtc.so.13" ]; then NVRTC_LIB_DIR=$dir; break; fi
  done
fi
if [ -z "${NVRTC_LIB_DIR:-}" ] && command -v python3 >/dev/null 2>&1; then
  dir=$(python3 -c 'import nvidia, os; print(os.path.join(list(nvidia.__path__)[0], "cu13", "lib"))' 2>/dev/null)
  if [ -n "$dir" ] && [ -e "$dir/libnvrtc.so.13" ]; then NVRTC_LIB_DIR=$dir; fi
fi
[ -n "${NVRTC_LIB_DIR:-}" ] || fail "libnvrtc.so.13 not found in the CUDA toolkit or in Python's nvidia/cu13/lib"
export NVRTC_LIB_DIR REQUIRE_CUDA=1 REQUIRE_NVRTC=1
note "NVRTC: $NVRTC_LIB_DIR"

status=0
# 1 + 2. Compile checks and parity: any failure fails the check.
if timeout 60 "$PACK/cuda_compile" --test-threads=1 --nocapture >"$LOGS/tests.log" 2>&1; then
  note "cuda_compile: PASS"
else
  note "cuda_compile: FAIL (tests.log)"; status=1
fi
echo "---- cuda_parity" >>"$LOGS/tests.log"
if timeout 120 "$PACK/cuda_parity" --test-threads=1 --nocapture >>"$LOGS/tests.log" 2>&1; then
  note "cuda_parity: PASS"
else
  note "cuda_parity: FAIL (tests.log)"; status=1
fi
grep -E "^test |test result|registers|GPU:|differ|panicked" "$LOGS/tests.log" | head -40 >>"$SUMMARY"

# 3. Throughput, with the CPU executor on the same inputs (a few members, all cores).
if timeout 90 "$PACK/sfnn" bench --executor cuda --popsize 128,1024,8192 --generations 3 \
    --cpu-members 16 --json "$LOGS/bench.json" >"$LOGS/bench.log" 2>&1; then
  note "bench: done (bench.json)"
else
  note "bench: FAILED (bench.log)"; status=1
fi
# The SASS model's estimate beside each measurement (kernels/model-estimate.json, compiled into
# sfnn: "kernel model: X ms per generation ..., measured Y ms"; docs/gpu-model.md).
grep -E "^generation|CPU executor|GFLOP|identical|differ|kernel model" "$LOGS/bench.log" >>"$SUMMARY" || true

# 4. One paper-config launch under ncu, at the GPU's own clocks, capped.
if command -v ncu >/dev/null 2>&1; then
  if timeout 45 ncu --clock-control none --launch-count 1 --section SpeedOfLight \
      --section Occupancy --section LaunchStats \
      "$PACK/sfnn" bench --executor cuda --popsize 128 --generations 1 --cpu-members 1 \
      >"$LOGS/ncu.log" 2>&1; then
    note "ncu: ncu.log"
    grep -E "Duration|Registers Per Thread|Achieved Occupancy|Compute \(SM\) Throughput" \
      "$LOGS/ncu.log" >>"$SUMMARY" || true
  else
    note "ncu: failed or timed out (ncu.log)"
  fi
else
  note "ncu: not installed"
fi

note "total: $(($(date +%s) - START)) s"
[ "$status" -eq 0 ] && note "VERDICT: PASS" || note "VERDICT: FAIL"
exit "$status"
