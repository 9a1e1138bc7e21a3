"""Parts of the client that need no server: the SSE parser, the CSV history, the spec merge,
``push``'s reading of a run folder and its batches, and the error type."""

import json
import tempfile
import unittest
from pathlib import Path

try:
    import httpx  # noqa: F401
except ImportError:  # the client needs httpx; sfnn_genome does not
    httpx = None


@unittest.skipIf(httpx is None, "httpx is not installed (pip install ./python, or pip install httpx)")
class Parts(unittest.TestCase):
    def test_sse_events_ids_comments_and_multiline_data(self):
        from sfnn_lab.sse import parse

        comments = []
        lines = [
            ": keep-alive", "event: job", 'data: {"a": 1}', "", "id: 3", "event: generation", "data: x",
            "data: y", "", "data:no space", "", "retry: 10", "", "event: ignored without data", "",
        ]  # fmt: skip
        events = list(parse(lines, keepalive=lambda: comments.append(1)))
        self.assertEqual([(e.event, e.data, e.id) for e in events], [
            ("job", '{"a": 1}', None), ("generation", "x\ny", "3"), ("message", "no space", "3"),
        ])  # fmt: skip
        self.assertEqual(comments, [1])

    def test_csv_history_without_pandas(self):
        from sfnn_lab.jobs import table_from_csv

        text = "generation,best,mean,env_steps,sigma\n0,0.5,NaN,100,inf\n1,0.75,0.25,200,\n"
        rows = table_from_csv(text, dataframe=False)
        self.assertEqual(rows[0]["generation"], 0)
        self.assertEqual(rows[1]["env_steps"], 200)
        self.assertNotEqual(rows[0]["mean"], rows[0]["mean"])  # NaN
        self.assertEqual(rows[0]["sigma"], float("inf"))
        self.assertIsNone(rows[1]["sigma"])

    def test_submit_changes_merge_into_the_spec(self):
        from sfnn_lab.client import merge

        spec = {"strategy": {"name": "cma_es", "popsize": 32}, "generations": 150}
        merged = merge(spec, {"strategy": {"popsize": 8}, "generations": 5, "seed": 2})
        self.assertEqual(merged, {"strategy": {"name": "cma_es", "popsize": 8}, "generations": 5, "seed": 2})
        self.assertEqual(spec["strategy"]["popsize"], 32)

    def test_client_url_and_token_from_the_environment(self):
        import os
        from unittest import mock

        from sfnn_lab import Client

        with mock.patch.dict(os.environ, {"SFNN_URL": "http://example:9/api/v1/", "SFNN_API_TOKEN": "t"}):
            c = Client()
        self.assertEqual((c.url, c.token), ("http://example:9", "t"))
        self.assertEqual(c._http.headers["authorization"], "Bearer t")
        with mock.patch.dict(os.environ, {}, clear=True):
            c = Client()
        self.assertEqual((c.url, c.token), ("http://127.0.0.1:8080", None))
        self.assertEqual(Client("localhost:8081", "x").url, "http://localhost:8081")

    def test_errors_read_as_one_line(self):
        from sfnn_lab import SfnnError

        e = SfnnError(422, "invalid_value", "must be between 1 and 100, got 0", "lifetime.episodes")
        self.assertEqual(str(e), "422 invalid_value: lifetime.episodes: must be between 1 and 100, got 0")
        self.assertEqual((e.code, e.field, e.status), ("invalid_value", "lifetime.episodes", 422))

    def test_stop_reasons_as_the_server_decides_them(self):
        from sfnn_lab.push import stop_reason

        spec = {"generations": 10, "stop": {"target_fitness": 0.9, "stagnation_generations": 3, "max_wall_seconds": 60}}
        ckpt = {"generation": 10, "best": {"fitness": 0.1}, "last_improvement": 0, "elapsed_seconds": 1}
        self.assertEqual(stop_reason(spec, ckpt), "generations")
        self.assertEqual(stop_reason(spec, dict(ckpt, generation=2, best={"fitness": 0.95})), "target_fitness")
        self.assertEqual(stop_reason(spec, dict(ckpt, generation=4)), "stagnation")
        self.assertEqual(stop_reason(spec, dict(ckpt, generation=3, elapsed_seconds=61)), "wall_clock")
        self.assertIsNone(stop_reason(spec, dict(ckpt, generation=3)))

    def test_push_batches_stay_within_the_limits(self):
        from sfnn_lab.push import MAX_BATCH_RECORDS, batch_from

        history = [{"generation": i, "pad": "x" * 10} for i in range(2500)]
        self.assertEqual(len(batch_from(history, 0)), MAX_BATCH_RECORDS)
        self.assertEqual(len(batch_from(history, 2000)), 500)
        big = [{"generation": i, "pad": "x" * 600_000} for i in range(5)]
        self.assertEqual(len(batch_from(big, 0)), 3)
        with self.assertRaisesRegex(ValueError, "more than one request"):
            batch_from([{"pad": "x" * 3_000_000}], 0)

    def test_push_refuses_what_is_not_a_finished_run(self):
        from sfnn_lab.push import read_run

        with tempfile.TemporaryDirectory() as d:
            with self.assertRaisesRegex(ValueError, "not a run folder"):
                read_run(Path(d))
            (Path(d) / "spec.json").write_text(json.dumps({"generations": 5}))
            (Path(d) / "history.jsonl").write_text('{"generation": 0}\n{"generation": 2}\n')
            with self.assertRaisesRegex(ValueError, "line 2: generation 2, expected 1"):
                read_run(Path(d))
            (Path(d) / "history.jsonl").write_text('{"generation": 0}\n')
            with self.assertRaisesRegex(ValueError, "unfinished run \\(no checkpoint.json\\)"):
                read_run(Path(d))


if __name__ == "__main__":
    unittest.main()
