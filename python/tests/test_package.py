"""Genome files, wiring statistics and lifetimes (on a small stand-in environment, so gymnasium
is not needed)."""

import json
import tempfile
import unittest
from pathlib import Path

import numpy as np

from sfnn_genome import Genome, ModelConfig, TENSOR_NAMES, load_genome, run_lifetime, sample_wiring, save_genome
from sfnn_genome.files import genome_from_safetensors, write_safetensors

try:
    import safetensors.numpy as st_numpy
except ImportError:  # optional: only the compatibility checks need it
    st_numpy = None


def random_genome(model=ModelConfig(), seed=0):
    rng = np.random.default_rng(seed)
    return Genome.from_flat(rng.normal(0, 0.5, model.param_count()), model)


class Files(unittest.TestCase):
    def test_flat_order_and_shapes(self):
        g = random_genome()
        self.assertEqual(g.model.param_count(), 565)
        self.assertEqual(g.tensors["edge_cells.weight_ih"].shape, (3, 12, 9))
        flat = g.flat()
        self.assertEqual(flat[48], g.tensors["edge_cells.weight_ih"][0, 0, 0])
        self.assertEqual(flat[564], g.tensors["learning_rate"][0])

    def test_round_trips_keep_everything(self):
        g = random_genome(ModelConfig(16, 3, 5))
        g.fitness, g.topology, g.spec = 0.5, {"preset": "layered"}, {"seed": 2}
        g.metadata = {"kind": "best_so_far"}
        with tempfile.TemporaryDirectory() as d:
            for name in ("g.json", "g.safetensors"):
                path = Path(d) / name
                save_genome(g, path)
                back = load_genome(path)
                self.assertEqual(back.model, g.model)
                np.testing.assert_array_equal(back.flat(), g.flat())
                self.assertEqual((back.fitness, back.topology, back.spec), (0.5, {"preset": "layered"}, {"seed": 2}))
                self.assertEqual(back.metadata["kind"], "best_so_far")

    def test_bare_tensors_infer_the_model_and_name_bad_shapes(self):
        g = random_genome(ModelConfig(32, 2, 4))
        bare = genome_from_safetensors(write_safetensors(g.tensors))
        self.assertEqual(bare.model, ModelConfig(32, 2, 4))
        np.testing.assert_array_equal(bare.flat(), g.flat())
        bad = dict(g.tensors, **{"edge_cells.bias": np.zeros((4, 5), np.float32)})
        with self.assertRaisesRegex(ValueError, r"edge_cells.bias should have shape \[4, 6\]"):
            genome_from_safetensors(write_safetensors(bad))

    @unittest.skipIf(st_numpy is None, "safetensors is not installed")
    def test_files_agree_with_the_safetensors_package(self):
        g = random_genome()
        with tempfile.TemporaryDirectory() as d:
            ours = Path(d) / "ours.safetensors"
            save_genome(g, ours)
            loaded = st_numpy.load_file(ours)
            self.assertEqual(sorted(loaded), sorted(TENSOR_NAMES))
            theirs = Path(d) / "theirs.safetensors"
            st_numpy.save_file(loaded, theirs)  # no metadata, names in alphabetical order
            np.testing.assert_array_equal(load_genome(theirs).flat(), g.flat())


class Wirings(unittest.TestCase):
    def test_reservoir_blocks_and_density(self):
        rng = np.random.default_rng(1)
        counts = []
        for _ in range(200):
            w = sample_wiring(32, 4, 2, 3, rng)
            a = w.adjacency
            self.assertFalse(a[:, :4].any() or a[:4, 30:].any() or a[30:, 30:].any())
            self.assertFalse(np.diag(a).any())
            counts.append(a.sum())
        self.assertLess(abs(np.mean(counts) - 429), 3)  # SFNN.md §2.3
        self.assertEqual(list(w.node_types), [0] * 4 + [1] * 26 + [2] * 2)

    def test_layered_has_no_recurrence(self):
        w = sample_wiring(32, 6, 3, 3, np.random.default_rng(2), {"preset": "layered"})
        self.assertFalse(w.adjacency[6:29, 6:29].any() or w.adjacency[29:].any())
        self.assertTrue(w.adjacency.any())


class Box:
    def __init__(self, shape, low=None, high=None):
        self.shape, self.low, self.high = shape, low, high


class Discrete:
    def __init__(self, n):
        self.n = n


class Countdown:
    """Ends after `length` steps; reward 1 per step. Enough to check the episode bookkeeping."""

    observation_space = Box((3,))

    def __init__(self, length, continuous=False):
        self.length, self.t, self.resets = length, 0, 0
        self.action_space = Box((1,), np.array([-2.0]), np.array([2.0])) if continuous else Discrete(2)
        self.actions = []

    def reset(self, seed=None):
        self.t, self.resets = 0, self.resets + 1
        return np.array([0.1, -0.2, 0.3], np.float32), {}

    def step(self, action):
        self.actions.append(action)
        self.t += 1
        return np.array([self.t / 10, 0.0, -0.1], np.float32), 1.0, self.t >= self.length, False, {}


class Lifetimes(unittest.TestCase):
    def test_fixed_horizon_counts_the_first_episode_and_keeps_acting(self):
        env = Countdown(7)
        result = run_lifetime(random_genome(), env, episodes=3, horizon=20)
        self.assertEqual(result.episode_returns, [7.0, 7.0, 7.0])
        self.assertEqual(len(env.actions), 60)
        self.assertEqual(env.resets, 3 + 3 * 2)  # 20 steps hold two auto-resets after 7 and 14
        self.assertAlmostEqual(result.weighted_return, 7.0)

    def test_stop_on_done_and_continuous_readout(self):
        env = Countdown(5, continuous=True)
        result = run_lifetime(random_genome(), env, episodes=2, horizon=50, mode="stop_on_done")
        self.assertEqual(len(env.actions), 10)
        for a in env.actions:
            self.assertEqual(a.shape, (1,))
            self.assertTrue(-2.0 <= a[0] <= 2.0)
        self.assertEqual(result.episode_returns, [5.0, 5.0])

    def test_meta_test_variants_change_the_structure_as_stated(self):
        genome = random_genome()
        plain = run_lifetime(genome, Countdown(7), episodes=1, horizon=10, seed=4).network
        self.assertEqual((plain.wiring.nodes, plain.wiring.inputs), (32, 3))
        wide = run_lifetime(genome, Countdown(7), episodes=1, horizon=10, seed=4, nodes=64).network
        self.assertEqual((wide.wiring.nodes, wide.wiring.inputs), (64, 3))
        # A permutation keeps the wiring (same draws) and changes only what the inputs read.
        permuted = run_lifetime(
            genome, Countdown(7), episodes=1, horizon=10, seed=4, input_order=[2, 0, 1]
        ).network
        np.testing.assert_array_equal(permuted.wiring.adjacency, plain.wiring.adjacency)
        self.assertFalse(np.array_equal(permuted.y_prev[:3], plain.y_prev[:3]))
        # Extra inputs are input nodes like the others: no edge ends at one.
        extra = run_lifetime(
            genome, Countdown(7), episodes=1, horizon=10, seed=4, extra_inputs=2, extra_input_value=0.5
        ).network
        self.assertEqual(extra.wiring.inputs, 5)
        self.assertFalse(np.any(extra.wiring.adjacency[:, :5]))
        np.testing.assert_array_equal(extra.y_prev[3], extra.y_prev[4], "two inputs read the same constant")
        self.assertFalse(np.array_equal(extra.y_prev[2], extra.y_prev[3]))
        with self.assertRaisesRegex(ValueError, "input_order"):
            run_lifetime(genome, Countdown(7), episodes=1, horizon=10, input_order=[0, 0, 1])
        with self.assertRaisesRegex(ValueError, "nodes"):
            run_lifetime(genome, Countdown(7), episodes=1, horizon=10, nodes=5)
        with self.assertRaisesRegex(ValueError, "extra_inputs too"):
            run_lifetime(genome, Countdown(7), episodes=1, horizon=10, extra_input_value=1.0)


if __name__ == "__main__":
    unittest.main()
