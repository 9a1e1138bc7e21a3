#!/usr/bin/env python3
"""An evosax-style ask/evaluate/tell loop in Python, evolving an SFNN on CartPole with SFNN Lab's
executor (`sfnn_lab.native`): the strategy is yours, the lifetimes are the server's, bit for bit.

    pip install ./python ./python/native          # the native wheel compiles Rust (needs cargo)
    pip install evosax 'jax[cpu]'                 # optional: without it, a NumPy OpenAI-ES runs
    python3 examples/native_es.py                 # 5 generations, a few seconds
    python3 examples/native_es.py --generations 100 --popsize 64 --out best.json
    sfnn eval best.json --env CartPole-v1         # the best genome, run by the CLI

Generation g's members live the lifetimes a job with the same seed draws in its generation g, so
each generation meets fresh wirings, as on the server.
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "python"))  # a checkout, uninstalled

from sfnn_lab import native  # noqa: E402


class NumpyOpenES:
    """OpenAI-ES (Salimans et al. 2017) in NumPy: antithetic Gaussian samples, centred ranks,
    a plain gradient step on the mean. The fallback when evosax is not installed."""

    def __init__(self, dim, popsize, sigma=0.1, learning_rate=0.05, seed=0):
        assert popsize % 2 == 0, "antithetic sampling needs an even population"
        self.mean = np.zeros(dim)
        self.sigma, self.learning_rate, self.popsize = sigma, learning_rate, popsize
        self.rng = np.random.default_rng(seed)

    def ask(self):
        half = self.rng.standard_normal((self.popsize // 2, self.mean.size))
        self.noise = np.concatenate([half, -half])
        return self.mean + self.sigma * self.noise

    def tell(self, fitness):
        ranks = np.empty(self.popsize)
        ranks[np.argsort(fitness)] = np.arange(self.popsize)
        utility = ranks / (self.popsize - 1) - 0.5  # -0.5 worst ... +0.5 best
        gradient = utility @ self.noise / (self.popsize * self.sigma)
        self.mean = self.mean + self.learning_rate * gradient


class EvosaxOpenES:
    """evosax's OpenAI-ES (0.3 API) behind the same ask/tell; evosax minimises, so it is told
    the negated fitness."""

    def __init__(self, dim, popsize, sigma=0.1, learning_rate=0.05, seed=0):
        import jax
        import optax
        from evosax.algorithms import Open_ES

        self.jax = jax
        self.es = Open_ES(
            population_size=popsize,
            solution=jax.numpy.zeros(dim),
            optimizer=optax.sgd(learning_rate),
            std_schedule=optax.constant_schedule(sigma),
        )
        self.params = self.es.default_params
        self.key = jax.random.key(seed)
        self.key, key = jax.random.split(self.key)
        self.state = self.es.init(key, jax.numpy.zeros(dim), self.params)

    def ask(self):
        self.key, key = self.jax.random.split(self.key)
        self.population, self.state = self.es.ask(key, self.state, self.params)
        return np.asarray(self.population)

    def tell(self, fitness):
        self.key, key = self.jax.random.split(self.key)
        self.state, _ = self.es.tell(key, self.population, -fitness, self.state, self.params)

    @property
    def mean(self):
        return np.asarray(self.state.mean)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--generations", type=int, default=5)
    parser.add_argument("--popsize", type=int, default=16)
    parser.add_argument("--episodes", type=int, default=4, help="episodes per lifetime (reference: 8)")
    parser.add_argument("--env", action="append", help="environment (repeat for several; default CartPole-v1)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=0, help="CPU threads (0: one per core)")
    parser.add_argument("--strategy", choices=["auto", "evosax", "numpy"], default="auto",
                        help="auto: evosax when it imports, else the NumPy OpenAI-ES")
    parser.add_argument("--out", type=Path, help="write the best genome here (JSON, as sfnn writes them)")
    args = parser.parse_args(argv)

    spec = {"lifetime": {"episodes": args.episodes}, "seed": args.seed}
    evaluator = native.Evaluator(spec, envs=args.env or ["CartPole-v1"], threads=args.threads)

    strategy = None
    if args.strategy in ("auto", "evosax"):
        try:
            strategy = EvosaxOpenES(evaluator.param_count, args.popsize, seed=args.seed)
        except ImportError as error:
            if args.strategy == "evosax":
                raise SystemExit(f"--strategy evosax: {error} (pip install evosax 'jax[cpu]')")
    if strategy is None:
        strategy = NumpyOpenES(evaluator.param_count, args.popsize, seed=args.seed)
    print(f"{type(strategy).__name__}, {evaluator}", flush=True)

    best_fitness, best_genome = -np.inf, None
    for generation in range(args.generations):
        population = strategy.ask()                                    # ask
        started = time.perf_counter()
        result = evaluator.evaluate(population, generation=generation)  # evaluate
        seconds = time.perf_counter() - started
        strategy.tell(result.fitness)                                  # tell
        champion = int(np.argmax(result.fitness))
        if result.fitness[champion] > best_fitness:
            best_fitness = float(result.fitness[champion])
            best_genome = np.asarray(population[champion], dtype=np.float32)
        returns = ", ".join(
            f"{env} {result.env_returns[:, e].mean():.1f}" for e, env in enumerate(result.envs)
        )
        print(
            f"gen {generation:3d}  best {result.fitness.max():.4f}  mean {result.fitness.mean():.4f}"
            f"  (best so far {best_fitness:.4f})  mean weighted return: {returns}"
            f"  {result.env_steps / seconds:,.0f} steps/s",
            flush=True,
        )

    if args.out is not None:
        from sfnn_genome import Genome, ModelConfig, save_genome

        model = evaluator.spec["model"]
        config = ModelConfig(model["nodes"], model["msg_dims"], model["node_types"])
        save_genome(Genome.from_flat(best_genome, config, fitness=best_fitness), args.out)
        print(f"best genome (fitness {best_fitness:.4f}) written to {args.out}")


if __name__ == "__main__":
    main()
