"""The package against the Rust executor: traces written by ``sfnn eval --trace`` (tests/cli.rs
writes them into $SFNN_TRACE_DIR as NAME.trace.json beside the genome NAME.genome.json) replayed
on the same wiring, initial states, observations and rewards: the same actions wherever the
margin exceeds 1e-4, over the whole lifetime for genomes without plasticity (``static-*``, λ = 0)
and over the prefix that float32 determines for plastic ones (see ``replay_trace``)."""

import os
import unittest
from pathlib import Path

from sfnn_genome import load_genome, load_trace, replay_trace


class RustTraces(unittest.TestCase):
    def test_replays_match_the_rust_actions(self):
        folder = os.environ.get("SFNN_TRACE_DIR")
        if not folder:
            self.skipTest("SFNN_TRACE_DIR is not set (tests/python.rs sets it)")
        traces = sorted(Path(folder).glob("*.trace.json"))
        self.assertTrue(traces, f"no traces in {folder}")
        for path in traces:
            name = path.name[: -len(".trace.json")]
            with self.subTest(name):
                genome = load_genome(path.with_name(f"{name}.genome.json"))
                trace = load_trace(path)
                report = replay_trace(genome, trace)
                print(f"{name}: {report.steps} steps, {report.determined} determined, {report.compared} compared, "
                      f"{report.mismatches} mismatches, largest output difference "
                      f"{report.max_output_diff:.3g} (all steps: {report.max_output_diff_all:.3g})")
                self.assertEqual(report.steps, sum(len(e["obs"]) for e in trace["episodes"]))
                self.assertEqual(report.mismatches, 0, f"first at step {report.first_mismatch}")
                if name.startswith("static-"):
                    self.assertEqual(report.determined, report.steps)
                    self.assertGreater(report.compared, report.steps // 2)
                    self.assertLess(report.max_output_diff_all, 1e-5)
                else:
                    self.assertGreaterEqual(report.determined, 20)
                    self.assertGreater(report.compared, 0)
                    self.assertLess(report.max_output_diff, 1e-4)


if __name__ == "__main__":
    unittest.main()
