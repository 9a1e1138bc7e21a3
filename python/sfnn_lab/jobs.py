"""Jobs, sweeps and stored genomes as Python objects: each holds the server's JSON (``.data``,
its fields also readable as attributes: ``job.status``, ``job.best_fitness``) and the calls
that act on it."""

from __future__ import annotations

import csv
import io
import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Dict, Iterable, List, Mapping, Optional, Sequence

import httpx

from . import progress as progress_bars
from . import sse
from .errors import SfnnError

if TYPE_CHECKING:  # pragma: no cover
    from .client import Client

#: A job in one of these states changes no more (unless resumed).
FINISHED = ("succeeded", "failed", "cancelled")

#: Longer than the server's keep-alive interval (15 s): a silent stream is a dead one.
STREAM_READ_TIMEOUT = 45.0
#: Reconnections in a row that bring no event before ``wait`` gives up.
MAX_RECONNECTS = 8

#: CSV columns holding integers; every other column is a float.
INTEGER_COLUMNS = ("generation", "env_steps")


class _Resource:
    """Server JSON with its fields as attributes."""

    def __init__(self, client: "Client", data: dict):
        self.client = client
        self.data = data

    def __getattr__(self, name):
        data = self.__dict__.get("data")
        if data is not None and name in data:
            return data[name]
        raise AttributeError(f"{type(self).__name__} has no attribute {name!r}")

    def __getitem__(self, key):
        return self.data[key]

    def __eq__(self, other):
        return type(other) is type(self) and other.data.get("id") == self.data.get("id")

    def __hash__(self):
        return hash(self.data.get("id"))


class Job(_Resource):
    """A job on the server: an evolution (``kind == "evolve"``) or an evaluation of a genome."""

    def __repr__(self) -> str:
        d = self.data
        best = d.get("best_fitness")
        best = "" if best is None else f", best {best:.6g}"
        return f"<Job {d['id'][:8]} {d.get('name')!r} {d.get('status')} {d.get('generation')}/{d.get('generations')}{best}>"

    @property
    def finished(self) -> bool:
        return self.data["status"] in FINISHED

    def refresh(self) -> "Job":
        self.data = self.client.get(f"/jobs/{self.id}")
        return self

    # ---- following a job ---------------------------------------------------------------------

    def wait(self, progress: bool = True, timeout: Optional[float] = None) -> "Job":
        """Follows the job's live events until it has finished (succeeded, failed or cancelled)
        and returns it, with its final state. ``progress`` shows a bar (tqdm's where installed:
        a widget in Jupyter, text in a terminal) of generations with the best fitness so far.
        A dropped stream is reopened with ``Last-Event-ID``, so no generation is missed;
        ``timeout`` (seconds) raises :class:`TimeoutError` when the job is still going then."""
        deadline = None if timeout is None else time.monotonic() + timeout

        def check_deadline():
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError(f"job {self.id} still {self.data.get('status')} after {timeout} s")

        bar = progress_bars.bar(self.data.get("generations") or None, self.data.get("name") or self.id[:8], progress)
        last_id: Optional[str] = None
        failures = 0
        try:
            while True:
                check_deadline()
                headers = {"accept": "text/event-stream", "cache-control": "no-cache"}
                if last_id is not None:
                    headers["last-event-id"] = last_id
                try:
                    response = self.client.request(
                        "GET",
                        f"/jobs/{self.id}/events",
                        stream=True,
                        headers=headers,
                        timeout=httpx.Timeout(10.0, read=STREAM_READ_TIMEOUT),
                    )
                except SfnnError as e:
                    if e.status is not None or failures >= MAX_RECONNECTS:
                        raise
                    failures += 1
                    time.sleep(min(0.25 * 2**failures, 5.0))
                    continue
                try:
                    for event in sse.parse(response.iter_lines(), keepalive=check_deadline):
                        failures = 0
                        check_deadline()
                        if event.id is not None:
                            last_id = event.id
                        if event.event == "job":
                            self.data = json.loads(event.data)
                            bar.update_to(self.data.get("generation", 0), self.data.get("generations") or None, _best(self.data.get("best_fitness")))
                            if self.finished:
                                return self
                        elif event.event == "generation":
                            record = json.loads(event.data)
                            bar.update_to(record["generation"] + 1, None, _best(record.get("best_so_far")))
                        elif event.event == "resync":
                            break  # fell behind: reopen from the last generation seen
                except httpx.TransportError:
                    failures += 1
                    if failures > MAX_RECONNECTS:
                        raise SfnnError(None, "unreachable", f"the event stream of job {self.id} keeps failing")
                    time.sleep(min(0.25 * 2**failures, 5.0))
                finally:
                    response.close()
                # The stream ended (the server stopping, or a resync): reopen it.
                time.sleep(0.1)
        finally:
            bar.close()

    # ---- what a job holds --------------------------------------------------------------------

    def history(self, dataframe: Optional[bool] = None):
        """The generation history with the CSV export's columns (``generation``, ``best``,
        ``mean``, ..., ``best_so_far``, ``sigma``, then ``<env>_mean_return``,
        ``<env>_best_return``, ``<env>_mean_score`` per environment): a pandas DataFrame where
        pandas is installed (or ``dataframe=True``), else a list of dicts."""
        text = self.client.request("GET", f"/jobs/{self.id}/history", params={"format": "csv"}).text
        return table_from_csv(text, dataframe)

    def records(self) -> List[dict]:
        """The generation records as the server holds them (JSON, with timings and telemetry)."""
        return self.client.get(f"/jobs/{self.id}/history", format="json")

    def genomes(self) -> List["RemoteGenome"]:
        """The genomes the job kept: each improvement's best, strategy means, the finals."""
        return [RemoteGenome(self.client, g) for g in self.client.get(f"/jobs/{self.id}/genomes")]

    def best_genome(self) -> "RemoteGenome":
        """The run's final best genome, else the fittest one it kept so far."""
        genomes = self.genomes()
        final = [g for g in genomes if g.kind == "final_best"]
        if final:
            return final[-1]
        scored = [g for g in genomes if g.fitness is not None]
        if not scored:
            raise ValueError(f"job {self.id} holds no genome with a fitness yet")
        return max(scored, key=lambda g: (g.fitness, g.generation or 0))

    def evaluation(self) -> dict:
        """An evaluation job's result: per environment and seed, the episode returns and scores."""
        return self.client.get(f"/jobs/{self.id}/evaluation")

    # ---- changing a job ----------------------------------------------------------------------

    def cancel(self) -> "Job":
        self.data = self.client.post(f"/jobs/{self.id}/cancel")
        return self

    def resume(self) -> "Job":
        self.data = self.client.post(f"/jobs/{self.id}/resume")
        return self

    def delete(self) -> None:
        self.client.request("DELETE", f"/jobs/{self.id}")

    def clone(self, patch: Optional[Mapping[str, Any]] = None, **changes) -> "Job":
        """Queues a copy of this job's spec with ``changes`` (a JSON merge patch:
        ``clone(seed=7, strategy={"popsize": 64})``; ``None`` removes a field)."""
        body = dict(patch or {}, **changes)
        return Job(self.client, self.client.post(f"/jobs/{self.id}/clone", body))

    def update(self, name: Optional[str] = None, tags: Optional[Sequence[str]] = None, notes: Optional[str] = None) -> "Job":
        """Renames, retags (the tags are replaced whole) or annotates (``""`` clears the notes)
        the job; what is not given stays."""
        body: Dict[str, Any] = {}
        if name is not None:
            body["name"] = name
        if tags is not None:
            body["tags"] = list(tags)
        if notes is not None:
            body["notes"] = notes
        self.data = self.client.request("PATCH", f"/jobs/{self.id}", json=body).json()
        return self

    def evaluate(self, envs: Sequence[str], seeds: Sequence[int] = (0,), genome: Optional["RemoteGenome"] = None, **options) -> "Job":
        """Queues an evaluation of the job's best genome (or ``genome``) on ``envs``, one
        lifetime per seed; ``options``: ``episodes``, ``episode_mode``, ``variant``,
        ``topology``, ``priority``. Returns the evaluation job: ``.wait()``, then
        ``.evaluation()``."""
        return (genome or self.best_genome()).evaluate(envs, seeds, **options)


class Sweep(_Resource):
    """A sweep: one job per combination of its axes' values."""

    def __repr__(self) -> str:
        return f"<Sweep {self.data['id'][:8]} {self.data.get('name')!r} {len(self.data.get('jobs', []))} jobs>"

    @property
    def jobs(self) -> List[Job]:
        return [Job(self.client, j) for j in self.data.get("jobs", [])]

    def refresh(self) -> "Sweep":
        self.data = self.client.get(f"/sweeps/{self.id}")
        return self

    def cancel(self) -> int:
        """Cancels every queued or running job of the sweep; how many were."""
        return self.client.post(f"/sweeps/{self.id}/cancel")["cancelled"]

    def delete(self) -> None:
        """Deletes the sweep and all its jobs (refused while one runs: cancel first)."""
        self.client.request("DELETE", f"/sweeps/{self.id}")

    def job(self, values: Optional[Mapping[str, Any]] = None, **kwargs) -> Job:
        """The job whose axis values are these: ``sweep.job({"strategy.sigma0": 0.1}, seed=1)``."""
        wanted = dict(values or {}, **kwargs)
        found = [j for j in self.jobs if all((j.sweep or {}).get("values", {}).get(k) == v for k, v in wanted.items())]
        if len(found) != 1:
            raise ValueError(f"{len(found)} jobs of the sweep have {wanted}")
        return found[0]

    def wait(self, progress: bool = True, timeout: Optional[float] = None) -> "Sweep":
        """Waits for every job (a bar each) and returns the sweep, refreshed."""
        deadline = None if timeout is None else time.monotonic() + timeout
        for job in self.jobs:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            job.wait(progress=progress, timeout=left)
        return self.refresh()

    def history(self, dataframe: Optional[bool] = None):
        """Every job's history in one table: ``job_id``, ``name``, one column per axis (the job's
        value), then the history's columns."""
        rows = []
        for job in self.jobs:
            values = (job.sweep or {}).get("values", {})
            for record in job.history(dataframe=False):
                rows.append({"job_id": job.id, "name": job.name, **values, **record})
        return _frame(rows, dataframe)


class RemoteGenome(_Resource):
    """A genome stored on the server (its metadata); :meth:`download` fetches it."""

    def __repr__(self) -> str:
        d = self.data
        fitness = "" if d.get("fitness") is None else f", fitness {d['fitness']:.6g}"
        return f"<RemoteGenome {d['id'][:8]} {d.get('kind')} generation {d.get('generation')}{fitness}>"

    def content(self, format: str = "safetensors") -> bytes:
        """The genome file's bytes (``safetensors``, ``json`` or ``raw``)."""
        return self.client.request("GET", f"/genomes/{self.id}/download", params={"format": format}).content

    def download(self, format: str = "safetensors"):
        """The genome as :class:`sfnn_genome.Genome`, ready to run: ``run_lifetime(genome, env)``."""
        from sfnn_genome.files import genome_from_bytes

        return genome_from_bytes(self.content(format))

    def save(self, path, format: Optional[str] = None) -> Path:
        """Writes the genome file to ``path`` (JSON for ``.json``, else safetensors)."""
        path = Path(path)
        format = format or ("json" if path.suffix == ".json" else "safetensors")
        path.write_bytes(self.content(format))
        return path

    def evaluate(
        self,
        envs: Sequence[str],
        seeds: Sequence[int] = (0,),
        episodes: Optional[int] = None,
        episode_mode: Optional[str] = None,
        variant: Optional[Mapping[str, Any]] = None,
        topology: Optional[Mapping[str, Any]] = None,
        priority: Optional[int] = None,
    ) -> Job:
        """Queues an evaluation job: the genome on ``envs``, one lifetime per seed."""
        body: Dict[str, Any] = {"envs": list(envs), "seeds": [int(s) for s in seeds]}
        for key, value in (
            ("episodes", episodes),
            ("episode_mode", episode_mode),
            ("variant", variant),
            ("topology", topology),
            ("priority", priority),
        ):
            if value is not None:
                body[key] = dict(value) if isinstance(value, Mapping) else value
        return Job(self.client, self.client.post(f"/genomes/{self.id}/evaluate", body))


def _best(value) -> Optional[str]:
    return None if value is None else f"best {value:.4g}"


def _number(column: str, text: str):
    if text == "":
        return None
    if column in INTEGER_COLUMNS:
        try:
            return int(text)
        except ValueError:
            pass
    try:
        return float(text)
    except ValueError:
        return text


def _pandas(dataframe: Optional[bool]):
    """pandas, when a DataFrame is wanted: ``True`` requires it, ``None`` takes it if it is
    installed, ``False`` never."""
    if dataframe is False:
        return None
    try:
        import pandas
    except ImportError:
        if dataframe:
            raise
        return None
    return pandas


def table_from_csv(text: str, dataframe: Optional[bool] = None):
    """The server's CSV history as a DataFrame (pandas) or a list of dicts of numbers."""
    pandas = _pandas(dataframe)
    if pandas is not None:
        return pandas.read_csv(io.StringIO(text))
    return [{k: _number(k, v) for k, v in row.items()} for row in csv.DictReader(io.StringIO(text))]


def _frame(rows: Iterable[dict], dataframe: Optional[bool]):
    rows = list(rows)
    pandas = _pandas(dataframe)
    return pandas.DataFrame(rows) if pandas is not None else rows
