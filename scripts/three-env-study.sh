#!/usr/bin/env bash
# The three-environment study (docs/results.md, "One genome, three environments"): the reference
# SFNN (3 node types) against the one-type ablation, 3 seeds each, on a protocol a 2-core machine
# affords; each run's final mean genome evaluated on 64 fresh wirings per environment; meta-tests
# (other network sizes, permuted and extra inputs, two untrained environments) against random
# genomes; the report drawn by `sfnn report` into docs/results.md.
#
# Every run lives in docs/results/three-env/runs/GROUP/seedK. Only the compressed history and
# checkpoint (history.jsonl.gz, checkpoint.json.gz), the spec, compute.json, the final genomes and
# the evaluations are committed; `train` unpacks them first, so a run stopped on one machine
# continues on another from what the repository holds, bit for bit.
#
#   scripts/three-env-study.sh train [GENERATIONS]   # run (or continue) all six to GENERATIONS
#   scripts/three-env-study.sh evaluate              # final evaluations and meta-tests
#   scripts/three-env-study.sh report                # redraw the report (needs nothing else)
#   scripts/three-env-study.sh pack                  # compress what train left uncompressed
#
# SFNN=path/to/sfnn overrides the binary (default: a release build); JOBS=2 runs at once,
# each on one thread at nice 19.
set -euo pipefail
cd "$(dirname "$0")/.."

STUDY=docs/results/three-env
RUNS=$STUDY/runs
GROUPS_=(types3 types1)
read -ra SEEDS <<<"${STUDY_SEEDS:-1 2 3}" # STUDY_SEEDS="3": one seed only
JOBS=${JOBS:-2}
EVAL_SEED=100000 # far from the training seeds' lifetime streams
LIFETIMES=64

unpack() { # DIR: the plain files a resume needs, from their committed .gz
  local dir=$1 f
  for f in history.jsonl checkpoint.json; do
    if [ -e "$dir/$f.gz" ] && [ ! -e "$dir/$f" ]; then gunzip -k "$dir/$f.gz"; fi
  done
}

pack() { # DIR: compress what is committed, drop what is not
  local dir=$1 f
  for f in history.jsonl checkpoint.json; do
    if [ -e "$dir/$f" ]; then gzip -9 -n -f -k "$dir/$f"; fi
  done
}

train_one() { # GROUP SEED GENERATIONS
  local group=$1 seed=$2 generations=$3 out=$RUNS/$1/seed$2
  mkdir -p "$out"
  unpack "$out"
  local resume=()
  if [ -e "$out/checkpoint.json" ]; then resume=(--resume); fi
  nice -n 19 "$BIN" run "$STUDY/specs/$group.json" --seed "$seed" --generations "$generations" \
    --out "$out" --threads 1 --quiet "${resume[@]}" >"$out/train.log" 2>&1
  pack "$out"
}

evaluate_one() { # DIR GENOME ENVS...: the final evaluation and the meta-tests of one genome
  local dir=$1 genome=$2 episodes=$3
  shift 3
  local envs=() env
  for env in "$@"; do envs+=(--env "$env"); done
  local common=(--episodes "$episodes" --lifetimes "$LIFETIMES" --seed "$EVAL_SEED" --threads 1)
  mkdir -p "$dir/evaluations"
  "$BIN" eval "$genome" "${envs[@]}" "${common[@]}" --json "$dir/evaluations/final.json" >/dev/null
  "$BIN" eval "$genome" "${envs[@]}" "${common[@]}" --nodes 16 --json "$dir/evaluations/nodes-16.json" >/dev/null
  "$BIN" eval "$genome" "${envs[@]}" "${common[@]}" --nodes 64 --json "$dir/evaluations/nodes-64.json" >/dev/null
  "$BIN" eval "$genome" "${envs[@]}" "${common[@]}" --permute-inputs 7 --json "$dir/evaluations/permuted.json" >/dev/null
  "$BIN" eval "$genome" "${envs[@]}" "${common[@]}" --extra-inputs 2 --json "$dir/evaluations/extra-inputs.json" >/dev/null
  "$BIN" eval "$genome" --env Pendulum-v1 --env MountainCarContinuous-v0 "${common[@]}" \
    --json "$dir/evaluations/untrained-envs.json" >/dev/null
}

binary() {
  if [ -n "${SFNN:-}" ]; then
    BIN=$SFNN
  else
    cargo build --release --quiet --bin sfnn
    BIN=target/release/sfnn
  fi
}

case "${1:-}" in
  train)
    binary
    generations=${2:?train GENERATIONS}
    running=0
    # Seed by seed, both groups side by side, so a study stopped early compares like with like.
    for seed in "${SEEDS[@]}"; do
      for group in "${GROUPS_[@]}"; do
        train_one "$group" "$seed" "$generations" &
        running=$((running + 1))
        if [ "$running" -ge "$JOBS" ]; then wait -n; running=$((running - 1)); fi
      done
    done
    wait
    ;;
  evaluate)
    binary
    episodes=$(python3 -c "import json; print(json.load(open('$STUDY/specs/types3.json'))['lifetime']['episodes'])")
    for group in "${GROUPS_[@]}"; do
      for seed in "${SEEDS[@]}"; do
        dir=$RUNS/$group/seed$seed
        evaluate_one "$dir" "$dir/mean_genome.safetensors" "$episodes" CartPole-v1 Acrobot-v1 MountainCar-v0 &
        if [ "$(jobs -r | wc -l)" -ge "$JOBS" ]; then wait -n; fi
      done
    done
    # Random genomes: the distribution the strategies start from (N(0, 1) around a zero mean).
    for seed in "${SEEDS[@]}"; do
      dir=$RUNS/random/seed$seed
      mkdir -p "$dir"
      PYTHONPATH=python python3 -c "
import numpy as np
from sfnn_genome import Genome, ModelConfig, save_genome
values = np.random.default_rng($seed).normal(0.0, 1.0, ModelConfig().param_count())
save_genome(Genome.from_flat(values.astype(np.float32)), '$dir/genome.safetensors')"
      evaluate_one "$dir" "$dir/genome.safetensors" "$episodes" CartPole-v1 Acrobot-v1 MountainCar-v0 &
      if [ "$(jobs -r | wc -l)" -ge "$JOBS" ]; then wait -n; fi
    done
    wait
    ;;
  report)
    binary
    list() { local g=$1 s out=""; for s in "${SEEDS[@]}"; do out+="$RUNS/$g/seed$s,"; done; echo "${out%,}"; }
    P=$STUDY/protocol
    "$BIN" report --title "Protocol study: three environments, seed 1" \
      --group "cma32 mean=$P/cma32-e4-mean" --group "sep64 mean=$P/sep64-e4-mean" \
      --group "sep64 product=$P/sep64-e4-product" \
      --out "$P" --into docs/results.md --section three-env-protocol
    "$BIN" report --title "One genome, three environments: three node types against one" \
      --group "3 types=$(list types3)" --group "1 type=$(list types1)" \
      --baseline "random genome=$(list random)" \
      --out "$STUDY" --into docs/results.md --section three-env
    ;;
  pack)
    for group in "${GROUPS_[@]}"; do for seed in "${SEEDS[@]}"; do pack "$RUNS/$group/seed$seed"; done; done
    ;;
  *)
    sed -n '2,20p' "$0"
    exit 2
    ;;
esac
