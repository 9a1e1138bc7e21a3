"""``python -m sfnn_genome GENOME --env NAME``: evaluate a genome file on a gymnasium environment,
or ``--replay TRACE`` to check it against a trace written by ``sfnn eval --trace``."""

import argparse
import sys

import numpy as np

from .files import load_genome
from .lifetime import evaluate, load_trace, replay_trace


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="sfnn-genome", description=__doc__)
    p.add_argument("genome", help="genome file (.json or .safetensors)")
    p.add_argument("--env", help="gymnasium environment id, e.g. CartPole-v1")
    p.add_argument("--lifetimes", type=int, default=1)
    p.add_argument("--episodes", type=int, default=8)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--mode", default="fixed_horizon", choices=["fixed_horizon", "stop_on_done"])
    p.add_argument("--replay", metavar="TRACE", help="replay a trace instead of running an env")
    args = p.parse_args(argv)
    if args.replay:
        report = replay_trace(load_genome(args.genome), load_trace(args.replay))
        print(report)
        return 0 if report.mismatches == 0 else 1
    if not args.env:
        p.error("--env or --replay is required")
    results = evaluate(args.genome, args.env, args.lifetimes, args.episodes, args.seed, args.mode)
    for k, r in enumerate(results):
        print(f"{args.seed + k}\t{' '.join(f'{x:g}' for x in r.episode_returns)}\t{r.weighted_return:.4f}")
    w = np.array([r.weighted_return for r in results])
    print(f"{args.env}: weighted return {w.mean():.4f} ± {w.std():.4f} over {len(w)} lifetimes", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
