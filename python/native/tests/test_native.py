"""The native evaluator (`sfnn_lab.native`, the sfnn-lab-native wheel) against this build's
`sfnn eval` and `sfnn run` (``$SFNN_BIN``, default target/debug/sfnn): every number bit for bit.

    python3 -m unittest discover -s python/native/tests      # after pip install ./python/native

tests/python_native.rs runs this from `cargo test`. Without the wheel or the binary the tests
are skipped, with the reason; with REQUIRE_SFNN_NATIVE=1 they fail instead.
"""

import _thread
import json
import math
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[3]
if str(ROOT / "python") not in sys.path:
    sys.path.insert(0, str(ROOT / "python"))

REQUIRED = os.environ.get("REQUIRE_SFNN_NATIVE") == "1"
SFNN_BIN = Path(os.environ.get("SFNN_BIN", ROOT / "target" / "debug" / "sfnn"))
EVOLVED = ROOT / "tests" / "fixtures" / "evolved"

try:
    from sfnn_lab import native
except ImportError as error:  # the wheel is not installed
    native, MISSING = None, str(error)


def setUpModule():
    missing = MISSING if native is None else None
    if missing is None and not SFNN_BIN.is_file():
        missing = f"no sfnn binary at {SFNN_BIN} (cargo build, or set SFNN_BIN)"
    if missing is not None:
        if REQUIRED:
            raise RuntimeError(f"REQUIRE_SFNN_NATIVE=1 but {missing}")
        raise unittest.SkipTest(missing)


def sfnn(*args):
    done = subprocess.run([str(SFNN_BIN), *map(str, args)], capture_output=True, text=True)
    if done.returncode != 0:
        raise AssertionError(f"sfnn {' '.join(map(str, args))} failed:\n{done.stderr}")
    return done


def genome_file(env):
    """An evolved genome's file, its values (float32) and its model as a spec's `model`."""
    path = EVOLVED / f"{env}.json"
    data = json.loads(path.read_text())
    model = dict(data["model"])
    if data.get("topology") is not None:
        model["topology"] = data["topology"]
    return path, np.asarray(data["values"], dtype=np.float32), model


def bits(values):
    """Floats as their exact hexadecimal spelling: equal strings, equal bits (NaN aside)."""
    return [float(v).hex() for v in np.ravel(values)]


class MatchesSfnnEval(unittest.TestCase):
    """A one-genome population at generation 0, member 0, draws the lifetime `sfnn eval` draws
    for the same seed: the same returns and score, for each seed of `--lifetimes`."""

    def check(self, env, episodes, mode):
        path, values, model = genome_file(env)
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "eval.json"
            sfnn("eval", path, "--env", env, "--episodes", episodes, "--mode", mode,
                 "--seed", 5, "--lifetimes", 3, "--json", out)
            expected = json.loads(out.read_text())["envs"][0]["lifetimes"]
        for lifetime in expected:
            spec = {"model": model, "lifetime": {"episodes": episodes, "episode_mode": mode}}
            evaluator = native.Evaluator(spec, envs=[env], seed=lifetime["seed"])
            result = evaluator.evaluate(values[None, :])
            with self.subTest(env=env, seed=lifetime["seed"]):
                self.assertEqual(bits(result.returns), bits(lifetime["episode_returns"]))
                self.assertEqual(bits(result.env_returns), bits([lifetime["weighted_return"]]))
                self.assertEqual(bits(result.env_scores), bits([lifetime["score"]]))
                # One environment: the fitness is its score.
                self.assertEqual(bits(result.fitness), bits([lifetime["score"]]))

    def test_discrete_fixed_horizon(self):
        self.check("CartPole-v1", 3, "fixed_horizon")

    def test_discrete_stop_on_done(self):
        self.check("Acrobot-v1", 2, "stop_on_done")

    def test_continuous(self):
        self.check("Pendulum-v1", 2, "fixed_horizon")

    def test_evaluate_genome_is_sfnn_eval_json(self):
        path, _, _ = genome_file("CartPole-v1")
        cases = [
            ({}, []),
            ({"permute_inputs": 3, "extra_inputs": 1}, ["--permute-inputs", 3, "--extra-inputs", 1]),
            ({"nodes": 24, "extra_inputs": 2, "extra_input_value": 0.5},
             ["--nodes", 24, "--extra-inputs", 2, "--extra-input-value", 0.5]),
        ]
        for variant, flags in cases:
            with tempfile.TemporaryDirectory() as tmp, self.subTest(variant=variant):
                out = Path(tmp) / "eval.json"
                sfnn("eval", path, "--env", "CartPole-v1", "--env", "Acrobot-v1", "--episodes", 2,
                     "--seed", 7, "--lifetimes", 2, "--json", out, *flags)
                result = native.evaluate_genome(str(path), ["CartPole-v1", "Acrobot-v1"],
                                                seeds=[7, 8], episodes=2, variant=variant)
                self.assertEqual(result, json.loads(out.read_text()))


def fitness_stats(values):
    """`FitnessStats::of` (src/evolution/run.rs), operation for operation."""
    s = sorted(values)
    n = float(len(s))
    total = 0.0
    for v in s:
        total += v
    mean = total / n
    var = 0.0
    for v in s:
        var += (v - mean) * (v - mean)

    def quantile(p):
        pos = p * (n - 1.0)
        lo, hi = math.floor(pos), math.ceil(pos)
        return s[lo] + (s[hi] - s[lo]) * (pos - lo)

    return {"best": s[-1], "mean": mean, "worst": s[0], "std": math.sqrt(var / n),
            "q25": quantile(0.25), "median": quantile(0.5), "q75": quantile(0.75)}


def mean_in_order(values):
    total = 0.0
    for v in values:
        total += v
    return total / len(values)


class MatchesARun(unittest.TestCase):
    """A whole population against the generations `sfnn run` recorded. The strategy's steps
    (sigma0, learning rate) are far below a float32's resolution, so every member of both
    generations is the starting genome exactly (checked on the best genome the run kept), and
    each member still lives its own lifetimes, keyed by its index and the generation: every
    record's statistics over the population must come out to the bit."""

    def test_generations_of_a_run(self):
        path, values, model = genome_file("CartPole-v1")
        popsize = 6
        spec = {
            "envs": ["CartPole-v1", "Acrobot-v1"],
            "model": model,
            "lifetime": {"episodes": 2, "eval_repeats": 2, "combine": "mean"},
            "strategy": {"name": "open_es", "popsize": popsize, "sigma0": 1e-300,
                         "learning_rate": 1e-300},
            "generations": 2,
            "seed": 11,
        }
        with tempfile.TemporaryDirectory() as tmp:
            spec_path, out = Path(tmp) / "spec.json", Path(tmp) / "run"
            spec_path.write_text(json.dumps(spec))
            sfnn("run", spec_path, "--out", out, "--init-genome", path, "--quiet")
            history = json.loads((out / "history.json").read_text())
            best = json.loads((out / "best_genome.json").read_text())
        kept = np.asarray(best["values"], dtype=np.float32)
        self.assertEqual(kept.view(np.uint32).tolist(), values.view(np.uint32).tolist(),
                         "the run's members are the starting genome")
        self.assertEqual(len(history), 2)

        evaluator = native.Evaluator(spec, threads=1)
        population = np.tile(values, (popsize, 1))
        for record in history:
            generation = record["generation"]
            result = evaluator.evaluate(population, generation=generation)
            with self.subTest(generation=generation):
                self.assertEqual(result.returns.shape, (popsize, 2, 2, 2))
                self.assertEqual(result.digests.shape, (popsize, 2, 2))
                self.assertEqual(result.env_steps, record["env_steps"])
                stats = fitness_stats(result.fitness.tolist())
                self.assertEqual({k: float(v).hex() for k, v in stats.items()},
                                 {k: float(v).hex() for k, v in record["fitness"].items()})
                for e, env in enumerate(record["envs"]):
                    self.assertEqual(env["env"], evaluator.envs[e])
                    returns = result.env_returns[:, e].tolist()
                    self.assertEqual(float(mean_in_order(returns)).hex(), float(env["mean_return"]).hex())
                    self.assertEqual(float(max(returns)).hex(), float(env["best_return"]).hex())
                    scores = result.env_scores[:, e].tolist()
                    self.assertEqual(float(mean_in_order(scores)).hex(), float(env["mean_score"]).hex())
                # Different members, different wirings: the population is not one lifetime
                # copied (the same genome's members differ in their digests).
                self.assertEqual(len(set(result.digests[:, 0, 0].tolist())), popsize)
        self.assertEqual(float(best["fitness"]).hex(),
                         float(max(r["fitness"]["best"] for r in history)).hex())


class Behaviour(unittest.TestCase):
    def setUp(self):
        _, self.values, self.model = genome_file("CartPole-v1")
        self.spec = {"model": self.model, "lifetime": {"episodes": 2}}

    def population(self, n, seed=0):
        rng = np.random.default_rng(seed)
        return self.values + 0.1 * rng.standard_normal((n, self.values.size)).astype(np.float32)

    def test_threads_and_float64_do_not_change_the_results(self):
        population = self.population(5)
        one = native.Evaluator(self.spec, envs=["CartPole-v1"], seed=2, threads=1)
        two = native.Evaluator(self.spec, envs=["CartPole-v1"], seed=2, threads=2)
        a = one.evaluate(population, generation=3)
        b = two.evaluate(population.astype(np.float64), generation=3)
        c = native.evaluate(population, self.spec, envs=["CartPole-v1"], seed=2, generation=3)
        for r in (b, c):
            self.assertEqual(bits(r.fitness), bits(a.fitness))
            self.assertEqual(r.digests.tolist(), a.digests.tolist())
        # Another generation draws other lifetimes.
        self.assertNotEqual(one.evaluate(population, generation=4).digests.tolist(), a.digests.tolist())

    def test_float64_is_rounded_to_float32_as_the_worker_rounds(self):
        population = self.population(2).astype(np.float64) + 1e-9
        evaluator = native.Evaluator(self.spec, envs=["CartPole-v1"], threads=1)
        a = evaluator.evaluate(population)
        b = evaluator.evaluate(population.astype(np.float32))
        self.assertEqual(a.digests.tolist(), b.digests.tolist())

    def test_bad_arguments_raise_errors_that_name_them(self):
        evaluator = native.Evaluator(self.spec, envs=["CartPole-v1"])
        n = evaluator.param_count
        cases = [
            (ValueError, "population", lambda: evaluator.evaluate(np.zeros((2, n - 1), np.float32))),
            (ValueError, "population", lambda: evaluator.evaluate(np.zeros((0, n), np.float32))),
            (ValueError, "population", lambda: evaluator.evaluate(np.zeros(n, np.float32))),
            (ValueError, "population[1, 7]", lambda: evaluator.evaluate(
                np.where(np.arange(2 * n).reshape(2, n) == n + 7, np.nan, 0.0))),
            (ValueError, "population[0, 0]", lambda: evaluator.evaluate(np.full((1, n), 1e300))),
            (TypeError, "population", lambda: evaluator.evaluate(np.zeros((2, n), np.int64))),
            (TypeError, "population", lambda: evaluator.evaluate("genomes")),
            (ValueError, "population", lambda: evaluator.evaluate(np.zeros((300_000, n), np.float32))),
            (ValueError, "generation", lambda: evaluator.evaluate(np.zeros((1, n)), generation=-1)),
            (ValueError, "spec: envs[0]", lambda: native.Evaluator(envs=["Nope-v0"])),
            (ValueError, "envs", lambda: native.Evaluator({})),
            (ValueError, "spec: lifetime.episodes", lambda: native.Evaluator(
                {"lifetime": {"episodes": 0}}, envs=["CartPole-v1"])),
            (ValueError, "spec: bogus", lambda: native.Evaluator({"bogus": 1}, envs=["CartPole-v1"])),
            (ValueError, "spec", lambda: native.Evaluator("{not json", envs=["CartPole-v1"])),
            (ValueError, "spec", lambda: native.Evaluator("[1]", envs=["CartPole-v1"])),
            (TypeError, "spec", lambda: native.Evaluator({"seed": object()}, envs=["CartPole-v1"])),
            (ValueError, "spec", lambda: native.Evaluator(
                {"stop": {"target_fitness": float("nan")}}, envs=["CartPole-v1"])),
            (ValueError, "seed", lambda: native.Evaluator(envs=["CartPole-v1"], seed=-3)),
            (ValueError, "threads", lambda: native.Evaluator(envs=["CartPole-v1"], threads=10**6)),
            (ValueError, "genome", lambda: native.evaluate_genome("/nonexistent.json", ["CartPole-v1"])),
            (ValueError, "episode_mode", lambda: native.evaluate_genome(
                str(EVOLVED / "CartPole-v1.json"), ["CartPole-v1"], episode_mode="sometimes")),
            (ValueError, "seeds", lambda: native.evaluate_genome(
                str(EVOLVED / "CartPole-v1.json"), ["CartPole-v1"], seeds=[])),
            (ValueError, "variant", lambda: native.evaluate_genome(
                str(EVOLVED / "CartPole-v1.json"), ["CartPole-v1"], variant={"extra_inputs": 99})),
        ]
        for kind, prefix, call in cases:
            with self.subTest(prefix=prefix):
                with self.assertRaises(kind) as caught:
                    call()
                self.assertTrue(str(caught.exception).startswith(prefix), str(caught.exception))

    def test_the_gil_is_released_while_it_runs(self):
        evaluator = native.Evaluator(self.spec, envs=["CartPole-v1"], threads=1)
        population = self.population(8)
        evaluating, done = threading.Event(), threading.Event()

        def work():
            evaluating.set()
            evaluator.evaluate(population)
            evaluating.clear()
            done.set()

        worker = threading.Thread(target=work)
        counted = 0
        worker.start()
        while not done.is_set():
            if evaluating.is_set():
                counted += 1  # only while the call lets go of the GIL
        worker.join()
        self.assertGreater(counted, 100_000)

    def test_ctrl_c_stops_an_evaluation(self):
        # Python's own Ctrl-C handler, also where this process was started with SIGINT ignored
        # (a background job), which leaves `interrupt_main` without effect.
        previous = signal.signal(signal.SIGINT, signal.default_int_handler)
        self.addCleanup(signal.signal, signal.SIGINT, previous)
        evaluator = native.Evaluator(self.spec, envs=["CartPole-v1"], threads=1)
        population = self.population(4)
        evaluator.evaluate(population)  # the first call starts the thread pools
        started = time.perf_counter()
        evaluator.evaluate(population)
        one = time.perf_counter() - started  # 4 lifetimes
        big = self.population(400)  # 100 times as long
        timer = threading.Timer(one, _thread.interrupt_main)
        raised = False
        started = time.perf_counter()
        timer.start()
        try:
            evaluator.evaluate(big)
        except KeyboardInterrupt:
            raised = True
        elapsed = time.perf_counter() - started
        timer.join()
        if not raised:
            # The signal came after the evaluation: take it here, not in the next test.
            try:
                time.sleep(0.5)
            except KeyboardInterrupt:
                pass
        self.assertTrue(raised, f"KeyboardInterrupt not raised: 400 genomes took {elapsed:.2f} s, 4 took {one:.3f} s")
        self.assertLess(elapsed, 20 * one + 1.0, "stopped within a few lifetimes of the signal")

if __name__ == "__main__":
    unittest.main()
