"""The command line (``sfnn-genome``), the spec's defaults, ``Network``'s initial state and the
package's ignore file. A stand-in ``gymnasium`` module keeps these independent of gymnasium."""

import contextlib
import io
import sys
import tempfile
import types
import unittest
from pathlib import Path
from unittest import mock

import numpy as np

from sfnn_genome import Network, initial_synapses, sample_wiring, save_genome
from sfnn_genome.__main__ import main, parser
from sfnn_genome.lifetime import RETURN_BOUNDS, default_episodes, episode_weights, normalised_score

from .test_package import Countdown, random_genome

PYTHON = Path(__file__).resolve().parents[1]


def fake_gymnasium(length=7, horizon=12):
    """A module that makes Countdown environments under CartPole's name."""
    gym = types.ModuleType("gymnasium")

    class Error(Exception):
        pass

    gym.error = types.SimpleNamespace(Error=Error)

    def make(name):
        if name not in ("CartPole-v1", "Unscored-v0"):
            raise Error(f"Environment `{name}` doesn't exist.")
        env = Countdown(length)
        env.spec = types.SimpleNamespace(id=name, max_episode_steps=horizon)
        return env

    gym.make = make
    return gym


def run_cli(argv, gym):
    out, err = io.StringIO(), io.StringIO()
    with mock.patch.dict(sys.modules, {"gymnasium": gym}), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as e:
            code = e.code
    return code, out.getvalue(), err.getvalue()


class Cli(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.addCleanup(self.dir.cleanup)

    def genome_file(self, spec=None, name="g.json"):
        g = random_genome()
        g.spec = spec
        path = Path(self.dir.name) / name
        save_genome(g, path)
        return str(path)

    def test_without_gymnasium_says_what_to_install(self):
        code, out, err = run_cli([self.genome_file(), "--env", "CartPole-v1"], None)  # None: import fails
        self.assertEqual(code, 2)
        self.assertEqual(out, "")
        self.assertEqual(len(err.strip().splitlines()), 1, err)
        self.assertIn("pip install './python[gym]'", err)
        self.assertNotIn("Traceback", err)

    def test_unknown_environment_is_one_line(self):
        code, _, err = run_cli([self.genome_file(), "--env", "Nope-v0"], fake_gymnasium())
        self.assertEqual(code, 2)
        self.assertIn("--env", err)
        self.assertEqual(len(err.strip().splitlines()), 1, err)

    def test_rows_have_a_header_and_the_normalised_score(self):
        code, out, err = run_cli(
            [self.genome_file(), "--env", "CartPole-v1", "--lifetimes", "2", "--seed", "5", "--episodes", "3"],
            fake_gymnasium(),
        )
        self.assertEqual(code, 0, err)
        lines = out.splitlines()
        self.assertEqual(lines[0], "seed\tepisode returns\tweighted return\tnormalised score\tenv")
        self.assertEqual(len(lines), 3)
        for seed, line in zip((5, 6), lines[1:]):
            cols = line.split("\t")
            self.assertEqual(cols[0], str(seed))
            self.assertEqual(cols[1], "7 7 7")  # 12 steps: the first sub-episode's 7 rewards
            self.assertEqual(cols[2], "7.0000")
            low, high = RETURN_BOUNDS["CartPole-v1"]
            self.assertEqual(cols[3], f"{(7 - low) / (high - low):.6f}")
            self.assertEqual(cols[4], "CartPole-v1")
        self.assertIn("CartPole-v1: weighted return 7.0000 ± 0.0000", err)
        self.assertIn(f"score {(7 - low) / (high - low):.6f}", err)

    def test_an_environment_without_bounds_has_no_score(self):
        code, out, err = run_cli([self.genome_file(), "--env", "Unscored-v0", "--episodes", "1"], fake_gymnasium())
        self.assertEqual(code, 0, err)
        self.assertEqual(out.splitlines()[1].split("\t")[3], "nan")
        self.assertIn("score n/a", err)

    def test_episodes_default_to_the_genome_files_spec(self):
        gym = fake_gymnasium(length=2, horizon=3)
        for name in ("s.json", "s.safetensors"):
            path = self.genome_file({"lifetime": {"episodes": 3, "episode_mode": "fixed_horizon"}}, name)
            _, out, _ = run_cli([path, "--env", "CartPole-v1"], gym)
            self.assertEqual(out.splitlines()[1].split("\t")[1], "2 2 2", name)
            _, out, _ = run_cli([path, "--env", "CartPole-v1", "--episodes", "2"], gym)
            self.assertEqual(out.splitlines()[1].split("\t")[1], "2 2", name)
        _, out, _ = run_cli([self.genome_file(), "--env", "CartPole-v1"], gym)
        self.assertEqual(len(out.splitlines()[1].split("\t")[1].split()), 8)

    def test_the_spec_also_gives_the_episode_mode(self):
        # stop_on_done ends each episode at its done: 2 steps, where fixed_horizon runs 3.
        path = self.genome_file({"lifetime": {"episodes": 2, "episode_mode": "stop_on_done"}})
        gym = fake_gymnasium(length=2, horizon=3)
        envs = []
        make = gym.make
        gym.make = lambda name: envs.append(make(name)) or envs[-1]
        run_cli([path, "--env", "CartPole-v1"], gym)
        self.assertEqual(len(envs[0].actions), 4)
        run_cli([path, "--env", "CartPole-v1", "--mode", "fixed_horizon"], gym)
        self.assertEqual(len(envs[1].actions), 6)

    def test_help_names_every_option_without_markup(self):
        text = parser().format_help()
        self.assertNotIn("`", text)
        for option in ("--env", "--lifetimes", "--episodes", "--seed", "--mode", "--replay"):
            self.assertIn(option, text)
        self.assertIn("default: the episodes of the spec", " ".join(text.split()))


class Defaults(unittest.TestCase):
    def test_default_episodes(self):
        g = random_genome()
        self.assertEqual(default_episodes(g), 8)
        g.spec = {"lifetime": {"episodes": 4}}
        self.assertEqual(default_episodes(g), 4)
        g.spec = {"lifetime": None}
        self.assertEqual(default_episodes(g), 8)

    def test_normalised_score_is_sfnn_evals(self):
        returns = [9.0, 120.0, 500.0]
        w = episode_weights(3)
        expected = sum(wk * (r - 8.0) / 492.0 for wk, r in zip(w, returns))
        self.assertAlmostEqual(normalised_score("CartPole-v1", returns), expected, places=12)
        self.assertIsNone(normalised_score("Humanoid-v5", returns))


class InitialState(unittest.TestCase):
    def network(self, readout=None, **kwargs):
        g = random_genome(seed=3)
        rng = np.random.default_rng(8)
        outputs = 1 if readout and readout[0] == "continuous" else 2
        wiring = sample_wiring(32, 4, outputs, g.model.node_types, rng)
        return Network(g, wiring, initial_synapses(wiring, g.model.msg_dims, rng), readout, **kwargs)

    def test_keywords_equal_setting_the_attributes(self):
        rng = np.random.default_rng(0)
        y = rng.uniform(-1, 1, (32, 4)).astype(np.float32)
        for readout, action in ((None, 1), (("continuous", -2.0, 2.0), 0.25)):
            by_keyword = self.network(readout, y_prev=y, reward=0.5, prev_action=action)
            by_hand = self.network(readout)
            by_hand.y_prev, by_hand.r, by_hand.prev_action = y.copy(), np.float32(0.5), action
            if readout:
                by_hand.prev_action = np.float32(action)
            for obs in ([0.1, 0.0, -0.2, 0.3], [0.0, 0.5, 0.1, -0.1]):
                self.assertEqual(by_keyword.step(obs), by_hand.step(obs))
                np.testing.assert_array_equal(by_keyword.e, by_hand.e)
                np.testing.assert_array_equal(by_keyword.y_prev, by_hand.y_prev)

    def test_defaults_are_a_lifetimes_start(self):
        net = self.network()
        np.testing.assert_array_equal(net.y_prev, np.zeros((32, 4), np.float32))
        self.assertEqual((net.r, net.prev_action), (0, 0))
        self.assertEqual(self.network(prev_action=1).prev_action, 1)

    def test_bad_initial_state_is_refused(self):
        with self.assertRaisesRegex(ValueError, r"y_prev should have shape \[32, 4\]"):
            self.network(y_prev=np.zeros((31, 4)))
        with self.assertRaisesRegex(ValueError, "prev_action"):
            self.network(prev_action=2)

    def test_unwired_synapses_are_zero_and_stay_zero(self):
        g = random_genome()
        rng = np.random.default_rng(2)
        wiring = sample_wiring(32, 4, 2, 3, rng)
        net = Network(g, wiring, np.full((32, 32, 4), 0.05, np.float32))
        unwired = ~wiring.adjacency
        self.assertTrue(np.all(net.e[unwired] == 0))
        self.assertTrue(np.all(net.e[wiring.adjacency] == np.float32(0.05)))
        for _ in range(5):
            net.step([0.1, 0.2, 0.3, 0.4])
            net.set_reward(1.0)
        self.assertTrue(np.all(net.e[unwired] == 0))
        self.assertFalse(np.all(net.e[wiring.adjacency] == np.float32(0.05)))


class Packaging(unittest.TestCase):
    def test_gitignore_covers_build_outputs(self):
        ignored = (PYTHON / ".gitignore").read_text().split()
        for entry in ("build/", "*.egg-info/", "__pycache__/"):
            self.assertIn(entry, ignored)


if __name__ == "__main__":
    unittest.main()
