"""The package against the reference fixtures (tests/fixtures/sfnn, from the authors' JAX code):
same actions wherever the recorded margin exceeds 1e-4, states to float32 tolerance."""

import json
import os
import unittest
from pathlib import Path

import numpy as np

from sfnn_genome import Genome, ModelConfig, Network, Wiring
from sfnn_genome.lifetime import episode_weights

FIXTURES = Path(os.environ.get("SFNN_FIXTURES", Path(__file__).resolve().parents[2] / "tests/fixtures/sfnn"))
STEP_FILES = [f"sfnn_seed{s}.json" for s in ("10_eqxinit", "11_eqxinit", "12_normal", "13_normal",
                                               "14_acrobot_eqxinit", "15_mountaincar_normal")]
F32 = np.float32


def network_from_fixture(case):
    cfg = case["config"]
    model = ModelConfig(cfg["n_nodes"], cfg["msg_dims"], cfg["n_types"])
    genome = Genome.from_flat(case["params_flat"], model)
    s = case["initial_state"]
    wiring = Wiring(cfg["input_dims"], cfg["action_dims"], np.asarray(s["types"]), np.asarray(s["A"]) != 0)
    return Network(genome, wiring, np.asarray(s["e"], dtype=F32)), wiring


class ReferenceSteps(unittest.TestCase):
    def check_steps(self, name, tol_e, tol_y, tol_out):
        case = json.loads((FIXTURES / name).read_text())
        net, wiring = network_from_fixture(case)
        wired = wiring.adjacency
        compared = 0
        for step in case["steps"]:
            net.set_reward(step["r_in"])
            net.prev_action = step["a_prev_in"]  # teacher forcing, as the fixtures' README says
            action = net.step(step["obs"])
            out = np.asarray(step["action_node_outputs"], dtype=F32)
            np.testing.assert_allclose(net.last_outputs, out, atol=tol_out, rtol=0, err_msg=f"{name} call {step['call']}")
            if step["argmax_margin"] > 1e-4:
                compared += 1
                self.assertEqual(action, step["action"], f"{name} call {step['call']}")
            if "e" in step:
                e = np.asarray(step["e"], dtype=F32)
                np.testing.assert_allclose(net.e[wired], e[wired], atol=tol_e, rtol=0, err_msg=f"{name} e, call {step['call']}")
                np.testing.assert_allclose(net.y_prev, np.asarray(step["y_prev"], dtype=F32), atol=tol_y, rtol=0)
        self.assertGreater(compared, 0)

    def test_ten_call_files(self):
        for name in STEP_FILES:
            with self.subTest(name):
                self.check_steps(name, 1e-6, 1e-6, 1e-6)

    def test_long_file(self):
        # README tolerances: ~10× the float32-vs-float64 gap of the checkpoint.
        self.check_steps("sfnn_long_seed16_normal_lr1.json", 1e-3, 5e-2, 1e-3)


class ReferenceClosedLoop(unittest.TestCase):
    def test_closed_loop_replay(self):
        case = json.loads((FIXTURES / "closedloop_cartpole_seed17_eqxinit.json").read_text())
        net, _ = network_from_fixture(case)
        compared = 0
        for ep in case["episodes"][:2]:
            for t in range(len(ep["action"])):
                action = net.step(ep["obs"][t])
                out = np.asarray(ep["action_node_outputs"][t], dtype=F32)
                if abs(out[0] - out[1]) > 1e-4:
                    compared += 1
                    self.assertEqual(action, ep["action"][t], f"episode {ep['episode']} step {t}")
                np.testing.assert_allclose(net.last_outputs, out, atol=1e-5, rtol=0)
                net.prev_action = ep["action"][t]
                net.set_reward(ep["reward"][t])
        self.assertEqual(compared, 248)  # the README: 248 steps with margin > 1e-4

    def test_weights_match_the_reference(self):
        w = episode_weights(8)
        self.assertAlmostEqual(w[0], 0.0)
        self.assertAlmostEqual(w[7], 7 / 28)
        returns = [10, 10, 9, 9, 10, 9, 10, 10]
        self.assertAlmostEqual(float(np.dot(w, returns)), 9.642857, places=5)


if __name__ == "__main__":
    unittest.main()
