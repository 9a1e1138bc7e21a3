"""sfnn-genome (or python -m sfnn_genome): run an SFNN Lab genome file outside SFNN Lab.

  sfnn-genome GENOME --env NAME [--lifetimes K] [--episodes E] [--seed S]
      evaluates the genome on a gymnasium environment (needs gymnasium) and prints one row per
      lifetime, as 'sfnn eval' does: seed, episode returns, weighted return, normalised score,
      environment; the mean and standard deviation go to stderr.
  sfnn-genome GENOME --replay TRACE
      replays a trace written by 'sfnn eval --trace' and compares the actions.
"""

import argparse
import sys

import numpy as np

from .files import load_genome
from .lifetime import default_episodes, default_mode, evaluate, load_trace, replay_trace

GYM_MISSING = "--env needs gymnasium, which is not installed; install it with: pip install './python[gym]'"

EPILOG = """\
Wirings and synapse states are drawn with NumPy's RNG, so the returns differ from those of
'sfnn eval' for the same seed; to compare with SFNN Lab on identical inputs, use --replay.

examples:
  sfnn-genome best_genome.safetensors --env CartPole-v1 --lifetimes 4
  sfnn-genome best_genome.json --env Acrobot-v1 --env MountainCar-v0 --episodes 4 --seed 7
  sfnn-genome best_genome.json --replay trace.json
"""


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="sfnn-genome",
        description="Run an SFNN Lab genome file (.json or .safetensors) on gymnasium environments,\n"
        "printing a row per lifetime as 'sfnn eval' does (seed, episode returns, weighted return,\n"
        "normalised score, env), or replay a trace of 'sfnn eval --trace'.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("genome", help="genome file (.json or .safetensors), as SFNN Lab writes it")
    p.add_argument(
        "--env",
        action="append",
        metavar="NAME",
        help="gymnasium environment id, e.g. CartPole-v1; repeat for several (needs gymnasium: "
        "pip install './python[gym]')",
    )
    p.add_argument(
        "--lifetimes",
        type=int,
        default=1,
        metavar="K",
        help="independent lifetimes, each with a fresh wiring (seeds SEED, SEED+1, ...; default 1)",
    )
    p.add_argument(
        "--episodes",
        type=int,
        metavar="E",
        help="episodes per lifetime, the network's state carried across them (default: the "
        "episodes of the spec in the genome's file, else 8)",
    )
    p.add_argument(
        "--seed",
        type=int,
        default=0,
        metavar="SEED",
        help="seed of the first lifetime's wiring, synapse states and resets (default 0)",
    )
    p.add_argument(
        "--mode",
        choices=["fixed_horizon", "stop_on_done"],
        help="fixed_horizon (the reference: every episode runs the full horizon, only its first "
        "sub-episode counts) or stop_on_done (default: the genome's spec's, else fixed_horizon)",
    )
    p.add_argument("--replay", metavar="TRACE", help="replay a trace of 'sfnn eval --trace' instead of running an env")
    return p


def format_return(x: float) -> str:
    """As sfnn eval prints a return: 500 rather than 500.0, otherwise the shortest repr."""
    x = float(x)
    if x.is_integer() and abs(x) < 1e15:
        return str(int(x))
    return repr(x)


def main(argv=None) -> int:
    p = parser()
    args = p.parse_args(argv)
    if args.replay:
        report = replay_trace(load_genome(args.genome), load_trace(args.replay))
        print(report)
        return 0 if report.mismatches == 0 else 1
    if not args.env:
        p.error("--env or --replay is required")
    if args.lifetimes < 1:
        p.error("--lifetimes must be at least 1")
    if args.episodes is not None and args.episodes < 1:
        p.error("--episodes must be at least 1")
    try:
        import gymnasium
    except ImportError:
        print(f"{p.prog}: {GYM_MISSING}", file=sys.stderr)
        return 2
    genome = load_genome(args.genome)
    episodes = default_episodes(genome) if args.episodes is None else args.episodes
    mode = default_mode(genome) if args.mode is None else args.mode
    try:
        envs = {name: gymnasium.make(name) for name in args.env}
    except gymnasium.error.Error as e:
        print(f"{p.prog}: --env: {e}", file=sys.stderr)
        return 2
    print("seed\tepisode returns\tweighted return\tnormalised score\tenv")
    summaries = []
    for name, env in envs.items():
        results = evaluate(genome, env, args.lifetimes, episodes, args.seed, mode)
        for k, r in enumerate(results):
            score = float("nan") if r.score is None else r.score
            returns = " ".join(format_return(x) for x in r.episode_returns)
            print(f"{args.seed + k}\t{returns}\t{r.weighted_return:.4f}\t{score:.6f}\t{name}")
        w = np.array([r.weighted_return for r in results])
        scores = [r.score for r in results]
        score = "n/a (no bounds for this environment)" if None in scores else f"{np.mean(scores):.6f}"
        summaries.append(
            f"{name}: weighted return {w.mean():.4f} ± {w.std():.4f} (mean ± std over {len(w)} "
            f"lifetimes of {episodes} episodes), score {score}"
        )
    for line in summaries:
        print(line, file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
