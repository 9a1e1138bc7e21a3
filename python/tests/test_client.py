"""The ``sfnn_lab`` client against a real ``sfnn serve`` (no mocked HTTP): submit, wait, history,
genomes, a sweep, field errors, listing, changes, evaluation, push, a token-protected server,
429 retries and a live stream that drops mid-job. See tests/server.py for how the server is
started and when these tests are skipped."""

from __future__ import annotations

import contextlib
import io
import json
import os
import socket
import subprocess
import tempfile
import threading
import time
import unittest
import uuid
from pathlib import Path
from unittest import mock

import numpy as np

from .server import REPO, SfnnServer, sfnn_binary, skip_without_server

QUICK = REPO / "examples/cartpole-quick.json"
#: Small enough for CI's two cores: 8 genomes, 2 episodes, a few generations.
SMALL = {"generations": 4, "strategy": {"popsize": 8}, "lifetime": {"episodes": 2}}
CSV_COLUMNS = [
    "generation", "best", "mean", "worst", "std", "q25", "median", "q75", "best_so_far", "sigma",
    "env_steps", "ask_s", "evaluate_s", "tell_s", "cpu_s",
    "CartPole-v1_mean_return", "CartPole-v1_best_return", "CartPole-v1_mean_score",
]  # fmt: skip
WAIT = 60.0


def unique_tag() -> str:
    return "t" + uuid.uuid4().hex[:12]


@skip_without_server
class AgainstAServer(unittest.TestCase):
    server: SfnnServer

    @classmethod
    def setUpClass(cls):
        cls.server = SfnnServer().start()
        from sfnn_lab import Client

        cls.client = Client(cls.server.url)
        # One finished job that several tests read.
        cls.done = cls.client.submit(QUICK, tags=[unique_tag()], **SMALL).wait(progress=False, timeout=WAIT)

    @classmethod
    def tearDownClass(cls):
        cls.client.close()
        cls.server.stop()

    def test_submit_wait_and_history(self):
        job = self.done
        self.assertEqual(job.status, "succeeded", job.data)
        self.assertEqual((job.generation, job.generations), (4, 4))
        table = job.history()
        self.assertEqual(list(table.columns), CSV_COLUMNS)
        self.assertEqual(list(table["generation"]), [0, 1, 2, 3])
        self.assertTrue(np.all(np.diff(table["best_so_far"]) >= 0))
        self.assertEqual(table["best_so_far"].iloc[-1], job.best_fitness)
        rows = job.history(dataframe=False)
        self.assertEqual(list(rows[0]), CSV_COLUMNS)
        self.assertEqual([r["generation"] for r in rows], [0, 1, 2, 3])
        self.assertEqual(rows[-1]["best_so_far"], job.best_fitness)
        self.assertEqual(len(job.records()), 4)

    def test_history_is_a_list_of_dicts_without_pandas(self):
        with mock.patch.dict("sys.modules", {"pandas": None}):
            rows = self.done.history()
        self.assertIsInstance(rows, list)
        self.assertIsInstance(rows[0]["generation"], int)
        self.assertIsInstance(rows[0]["best"], float)

    def test_wait_shows_progress_and_follows_a_running_job(self):
        job = self.client.submit(QUICK, tags=[unique_tag()], **dict(SMALL, generations=6))
        err = io.StringIO()
        with contextlib.redirect_stderr(err):
            job.wait(progress=True, timeout=WAIT)
        self.assertEqual(job.status, "succeeded")
        self.assertEqual(job.generation, 6)
        # tqdm's bar, or the plain line without tqdm: the last generation is shown.
        self.assertRegex(err.getvalue(), r"6/6")

    def test_a_genome_downloads_into_the_package_and_runs(self):
        from sfnn_genome import Genome, run_lifetime

        from .test_package import Countdown

        remote = self.done.best_genome()
        self.assertIn(remote.kind, ("final_best", "generation_best"))
        genome = remote.download()
        self.assertIsInstance(genome, Genome)
        self.assertEqual(genome.model.param_count(), 565)
        self.assertEqual(genome.spec["lifetime"]["episodes"], 2)
        as_json = remote.download("json")
        np.testing.assert_array_equal(genome.flat(), as_json.flat())
        result = run_lifetime(genome, Countdown(7), episodes=2, horizon=20)
        self.assertEqual(len(result.episode_returns), 2)
        kinds = {g.kind for g in self.done.genomes()}
        self.assertTrue({"final_best", "final_mean"} <= kinds, kinds)
        with tempfile.TemporaryDirectory() as d:
            from sfnn_genome import load_genome

            path = remote.save(Path(d) / "best.safetensors")
            np.testing.assert_array_equal(load_genome(path).flat(), genome.flat())
            uploaded = self.client.upload_genome(genome, name="round trip")
            self.assertEqual(uploaded.sha256, remote.sha256)
            self.assertEqual(self.client.genome(uploaded.id).name, "round trip")

    def test_a_sweep(self):
        sweep = self.client.sweep(
            json.loads(QUICK.read_text()) | SMALL | {"generations": 2}, {"seed": [1, 2], "strategy.sigma0": [0.1, 0.5]}, name="pysweep"
        )
        self.assertEqual(len(sweep.jobs), 4)
        self.assertEqual(len(sweep.variants), 2)
        sweep.wait(progress=False, timeout=WAIT)
        self.assertTrue(all(j.status == "succeeded" for j in sweep.jobs), [j.status for j in sweep.jobs])
        table = sweep.history()
        self.assertEqual(len(table), 8)
        self.assertEqual(list(table.columns[:4]), ["job_id", "name", "seed", "strategy.sigma0"])
        self.assertEqual(sorted(set(table["strategy.sigma0"])), [0.1, 0.5])
        job = sweep.job({"strategy.sigma0": 0.5}, seed=2)
        self.assertEqual((job.spec["seed"], job.spec["strategy"]["sigma0"]), (2, 0.5))
        self.assertEqual(self.client.get_sweep(sweep.id).name, "pysweep")
        # A finished sweep has nothing to cancel; deleting it takes its jobs.
        self.assertEqual(sweep.cancel(), 0)
        sweep.delete()
        from sfnn_lab import SfnnError

        with self.assertRaises(SfnnError) as caught:
            self.client.get_sweep(sweep.id)
        self.assertEqual(caught.exception.status, 404)
        with self.assertRaises(SfnnError) as caught:
            job.refresh()
        self.assertEqual(caught.exception.status, 404)

    def test_field_errors_carry_code_field_and_message(self):
        from sfnn_lab import SfnnError

        with self.assertRaises(SfnnError) as caught:
            self.client.submit(QUICK, lifetime={"episodes": 0})
        e = caught.exception
        self.assertEqual((e.status, e.code, e.field), (422, "invalid_value", "lifetime.episodes"))
        self.assertEqual([x["field"] for x in e.errors], ["lifetime.episodes"])
        with self.assertRaises(SfnnError) as caught:
            self.client.submit(QUICK, lifetime={"episodes": 0}, generations=0)
        self.assertEqual([x["field"] for x in caught.exception.errors], ["lifetime.episodes", "generations"])
        self.assertIn("lifetime.episodes", str(e))
        self.assertTrue(e.message)
        with self.assertRaises(SfnnError) as caught:
            self.client.sweep(QUICK, {"seed": [1, 1]})
        self.assertEqual((caught.exception.code, caught.exception.field), ("invalid_value", "axes.seed[1]"))
        with self.assertRaises(SfnnError) as caught:
            self.client.job(str(uuid.uuid4()))
        self.assertEqual((caught.exception.status, caught.exception.code), (404, "not_found"))

    def test_jobs_are_listed_page_by_page(self):
        tag = unique_tag()
        submitted = [self.client.submit(QUICK, name=f"list {i}", tags=[tag], generations=1, strategy={"popsize": 4}, lifetime={"episodes": 1}) for i in range(3)]
        listed = list(self.client.jobs(tag=tag, page_size=1, sort="name"))
        self.assertEqual([j.id for j in listed], [j.id for j in submitted])
        self.assertEqual(len(list(self.client.jobs(tag=tag, limit=2))), 2)
        self.assertEqual([j.name for j in self.client.jobs(tag=tag, q="LIST 2")], ["list 2"])
        pages = iter(self.client.jobs(tag=tag, page_size=1))
        self.assertEqual(next(pages).tags, [tag])  # one page fetched, the rest when asked
        for job in submitted:
            job.wait(progress=False, timeout=WAIT)

    def test_update_clone_and_cancel(self):
        job = self.client.submit(QUICK, tags=[unique_tag()], generations=10_000, strategy={"popsize": 4}, lifetime={"episodes": 1})
        job.update(name="renamed", tags=["a", "b"], notes="from python")
        self.assertEqual((job.name, job.tags, job.notes), ("renamed", ["a", "b"], "from python"))
        job.update(notes="")
        self.assertEqual((job.name, job.notes), ("renamed", ""))
        job.cancel()
        job.wait(progress=False, timeout=WAIT)
        self.assertEqual(job.status, "cancelled")
        clone = job.clone(seed=9, generations=1)
        self.assertNotEqual(clone.id, job.id)
        self.assertEqual((clone.spec["seed"], clone.spec["generations"]), (9, 1))
        self.assertEqual(clone.spec["strategy"]["popsize"], 4)
        clone.wait(progress=False, timeout=WAIT)
        self.assertEqual(clone.status, "succeeded")

    def test_evaluate_the_best_genome(self):
        evaluation = self.done.evaluate(["CartPole-v1"], seeds=[1, 2], episodes=2).wait(progress=False, timeout=WAIT)
        self.assertEqual(evaluation.status, "succeeded", evaluation.data)
        result = evaluation.evaluation()
        lifetimes = result["envs"][0]["lifetimes"]
        self.assertEqual([l["seed"] for l in lifetimes], [1, 2])
        self.assertEqual(len(lifetimes[0]["episode_returns"]), 2)

    def test_push_a_finished_run_once(self):
        with tempfile.TemporaryDirectory() as d:
            spec = Path(d) / "spec.json"
            spec.write_text(json.dumps(json.loads(QUICK.read_text()) | SMALL | {"generations": 3, "name": "pushed"}))
            run = subprocess.run(
                [str(sfnn_binary()), "run", str(spec), "--out", str(Path(d) / "run"), "--threads", "2"],
                capture_output=True, text=True, timeout=WAIT,
            )  # fmt: skip
            self.assertEqual(run.returncode, 0, run.stderr)
            job = self.client.push(Path(d) / "run")
            self.assertEqual((job.status, job.imported, job.generation, job.name), ("succeeded", True, 3, "pushed"))
            self.assertEqual(len(job.history(dataframe=False)), 3)
            self.assertEqual({g.kind for g in job.genomes()}, {"final_best", "final_mean"})
            marker = json.loads((Path(d) / "run/push.json").read_text())
            self.assertEqual(marker, {"server": self.client.url, "job_id": job.id})
            self.assertEqual(self.client.push(Path(d) / "run").id, job.id)  # already pushed
            self.assertNotEqual(self.client.push(Path(d) / "run", restart=True).id, job.id)
            (Path(d) / "run/checkpoint.json").unlink()
            with self.assertRaisesRegex(ValueError, "unfinished run"):
                self.client.push(Path(d) / "run")

    def test_wait_reconnects_with_last_event_id(self):
        """The event stream goes through a proxy that cuts it after a few events; ``wait`` opens
        it again from the last generation it saw and misses none."""
        from sfnn_lab import Client

        proxy = CuttingProxy(self.server.url, cut_after=3)
        self.addCleanup(proxy.close)
        client = Client(proxy.url)
        self.addCleanup(client.close)
        job = client.submit(QUICK, tags=[unique_tag()], generations=12, strategy={"popsize": 8}, lifetime={"episodes": 1})
        seen = []
        real_parse = __import__("sfnn_lab.sse", fromlist=["parse"]).parse

        def recording(lines, keepalive=None):
            for event in real_parse(lines, keepalive):
                if event.event == "generation":
                    seen.append(json.loads(event.data)["generation"])
                yield event

        with mock.patch("sfnn_lab.sse.parse", recording):
            job.wait(progress=False, timeout=WAIT)
        self.assertEqual(job.status, "succeeded")
        streams = [h for h in proxy.requests if "/events" in h.split("\r\n")[0]]
        self.assertGreaterEqual(len(streams), 2, "the stream was cut at least once")
        self.assertTrue(any("last-event-id:" in h.lower() for h in streams[1:]), streams)
        # Generations arrive in order, each once, up to the end (the job may have finished
        # before the last stream opened: then its `job` event ends the wait).
        self.assertEqual(seen, sorted(set(seen)))
        self.assertEqual(seen, list(range(len(seen))))
        self.assertGreater(len(seen), 3, "the stream went on after the cut")


@skip_without_server
class TokenAndLimits(unittest.TestCase):
    """A server with an API token and a submission rate of 2/s with no burst: no workers, so the
    jobs stay queued."""

    @classmethod
    def setUpClass(cls):
        cls.server = SfnnServer(["--api-token", "s3cret", "--submit-rate", "2", "--submit-burst", "1"], workers=0).start()

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def test_a_token_protected_server(self):
        from sfnn_lab import Client, SfnnError

        with mock.patch.dict(os.environ, {"SFNN_URL": self.server.url, "SFNN_API_TOKEN": ""}):
            anonymous = Client()
        self.addCleanup(anonymous.close)
        list(anonymous.jobs(limit=1))  # reads are open
        with self.assertRaises(SfnnError) as caught:
            anonymous.submit(QUICK)
        self.assertEqual((caught.exception.status, caught.exception.code), (401, "unauthorized"))
        with mock.patch.dict(os.environ, {"SFNN_URL": self.server.url + "/api/v1/", "SFNN_API_TOKEN": "s3cret"}):
            client = Client()
        self.addCleanup(client.close)
        self.assertEqual(client.url, self.server.url)
        job = client.submit(QUICK, **SMALL)
        self.assertEqual(job.status, "queued")
        job.cancel()
        self.assertIn(job.refresh().status, ("cancelled",))

    def test_429_is_retried_after_retry_after(self):
        from sfnn_lab import Client, SfnnError

        eager = Client(self.server.url, "s3cret", max_retries=0)
        patient = Client(self.server.url, "s3cret")
        self.addCleanup(eager.close)
        self.addCleanup(patient.close)
        time.sleep(1.0)  # a full bucket
        eager.submit(QUICK, **SMALL)
        with self.assertRaises(SfnnError) as caught:
            eager.submit(QUICK, **SMALL)
        e = caught.exception
        self.assertEqual((e.status, e.code), (429, "rate_limited"))
        self.assertIsNotNone(e.retry_after)
        started = time.monotonic()
        patient.submit(QUICK, **SMALL)  # waits for the bucket, then goes through
        self.assertGreater(time.monotonic() - started, 0.2)
        bounded = Client(self.server.url, "s3cret", max_retries=1, max_retry_wait=0.01)
        self.addCleanup(bounded.close)
        with self.assertRaises(SfnnError):
            for _ in range(3):
                bounded.submit(QUICK, **SMALL)


class CuttingProxy:
    """A TCP proxy to ``target`` that records each request's head and cuts the first event
    stream in the middle of its ``cut_after``-th generation event (so the client must reconnect,
    and the event it saw half of must come again)."""

    def __init__(self, target: str, cut_after: int):  # cut_after: generation events
        host, port = target.rsplit("//", 1)[1].split(":")
        self.target = (host, int(port))
        self.cut_after = cut_after
        self.cuts_left = 1
        self.requests = []
        self.lock = threading.Lock()
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(16)
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self):
        self.closed = True
        self.listener.close()

    def _accept(self):
        while not self.closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client):
        upstream = socket.create_connection(self.target)
        state = {"events": False, "seen": 0}

        def up():
            try:
                while True:
                    data = client.recv(65536)
                    if not data:
                        break
                    head = data.decode("latin-1").split("\r\n\r\n")[0]
                    if head.split(" ")[0] in ("GET", "POST", "PATCH", "DELETE"):
                        with self.lock:
                            self.requests.append(head)
                            if "/events" in head.split("\r\n")[0] and self.cuts_left > 0:
                                self.cuts_left -= 1
                                state["events"] = True
                    upstream.sendall(data)
            except OSError:
                pass
            finally:
                with contextlib.suppress(OSError):
                    upstream.shutdown(socket.SHUT_WR)

        threading.Thread(target=up, daemon=True).start()
        marker = b"event: generation"
        try:
            while True:
                data = upstream.recv(65536)
                if not data:
                    break
                if state["events"]:
                    at = -1
                    while True:
                        at = data.find(marker, at + 1)
                        if at < 0:
                            break
                        state["seen"] += 1
                        if state["seen"] == self.cut_after:
                            client.sendall(data[: at + len(marker) + 8])
                            raise OSError("cut mid-event")
                client.sendall(data)
        except OSError:
            pass
        finally:
            for s in (client, upstream):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
                s.close()


if __name__ == "__main__":
    unittest.main()
