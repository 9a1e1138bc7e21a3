#!/usr/bin/env python3
"""The native evaluator (`sfnn_lab.native`) against the NumPy forward pass (`sfnn_genome`) on the
same population, in SFNN steps per second (one network step and one environment step), timed in
the same run on the same machine.

    maturin build --release -m python/native/Cargo.toml -o /tmp/wheels
    pip install /tmp/wheels/sfnn_lab_native-*.whl gymnasium
    python3 python/native/bench.py                     # 8 genomes × 8 CartPole episodes

Both run every member's lifetime at the full horizon (`fixed_horizon`): the native evaluator on
its Rust environments, the NumPy network on gymnasium's (`run_lifetime`). The NumPy figure is
given twice: whole lifetimes, and the time inside `Network.step` alone (the forward pass and
the synapse updates, without gymnasium), so the ratio is not just Python's environment cost.
"""

import argparse
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "python"))

from sfnn_genome import Genome, ModelConfig, run_lifetime  # noqa: E402
from sfnn_genome import model as numpy_model  # noqa: E402
from sfnn_lab import native  # noqa: E402


def cpu_model():
    try:
        for line in subprocess.run(["lscpu"], capture_output=True, text=True).stdout.splitlines():
            if line.startswith("Model name:"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--popsize", type=int, default=8)
    parser.add_argument("--episodes", type=int, default=8)
    parser.add_argument("--env", default="CartPole-v1")
    parser.add_argument("--rounds", type=int, default=3, help="native timings per thread count (median)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    import gymnasium

    spec = {"lifetime": {"episodes": args.episodes}, "seed": args.seed}
    evaluators = {t: native.Evaluator(spec, envs=[args.env], threads=t) for t in (1, 0)}
    params = evaluators[1].param_count
    population = 0.5 * np.random.default_rng(args.seed).standard_normal((args.popsize, params)).astype(np.float32)

    rows = []
    for threads, evaluator in evaluators.items():
        evaluator.evaluate(population)  # warm-up
        rates = []
        for _ in range(args.rounds):
            started = time.perf_counter()
            result = evaluator.evaluate(population)
            rates.append(result.env_steps / (time.perf_counter() - started))
        rows.append((f"native, {evaluator.threads} thread{'s' if evaluator.threads > 1 else ''}",
                     statistics.median(rates), result.env_steps))

    # NumPy: the same genomes, one lifetime each, the time inside Network.step counted apart.
    step = numpy_model.Network.step
    inside = [0.0]

    def timed_step(self, obs):
        started = time.perf_counter()
        try:
            return step(self, obs)
        finally:
            inside[0] += time.perf_counter() - started

    numpy_model.Network.step = timed_step
    env = gymnasium.make(args.env)
    steps, started = 0, time.perf_counter()
    try:
        for i, values in enumerate(population):
            genome = Genome.from_flat(values, ModelConfig())
            run_lifetime(genome, env, episodes=args.episodes, seed=args.seed + i)
            steps += args.episodes * env.spec.max_episode_steps
    finally:
        numpy_model.Network.step = step
    whole = time.perf_counter() - started
    rows.append(("NumPy + gymnasium, 1 thread", steps / whole, steps))
    rows.append(("NumPy `Network.step` alone, 1 thread", steps / inside[0], steps))

    print(f"CPU: {cpu_model()}; Python {platform.python_version()}, NumPy {np.__version__}, "
          f"gymnasium {gymnasium.__version__}, sfnn_lab_native {native.__version__}")
    print(f"{args.popsize} genomes x {args.episodes} {args.env} episodes (full horizon)\n")
    print("| evaluator | SFNN steps/s |")
    print("| --- | --- |")
    for name, rate, _ in rows:
        print(f"| {name} | {rate:,.0f} |")
    print()
    for native_name, native_rate, _ in rows[:2]:
        for numpy_name, numpy_rate, _ in rows[2:]:
            print(f"{native_name} / {numpy_name}: {native_rate / numpy_rate:,.0f}x")


if __name__ == "__main__":
    main()
