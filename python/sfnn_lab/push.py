"""``Client.push(run_dir)``: what ``sfnn push DIR`` does (src/cli/push.rs), from Python.

A finished ``sfnn run --out DIR`` folder (spec, history, checkpoint, final genomes) becomes a job
on the server through the import endpoints: open, generations in batches under the body limit,
genomes, finish. ``DIR/push.json`` remembers the import (the same file ``sfnn push`` writes), so
a push that failed half-way continues from the generations the server holds; a run pushed whole
is not pushed twice; ``restart=True`` opens a new import.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, List, Optional

from .errors import SfnnError

if TYPE_CHECKING:  # pragma: no cover
    from .client import Client
    from .jobs import Job

#: Where a folder remembers its import (shared with ``sfnn push``).
MARKER = "push.json"
#: ``limits::import``: records per request, and the JSON bytes ``sfnn push`` puts in one.
MAX_BATCH_RECORDS = 1000
PUSH_BATCH_BYTES = 2 * 1024 * 1024
#: Times the upload re-reads where the server got to, after a batch it refused as out of step.
MAX_RESYNCS = 6


@dataclass
class RunGenome:
    file: str
    kind: str
    generation: int
    data: bytes


@dataclass
class FinishedRun:
    spec: dict
    history: List[dict]
    stop_reason: str
    genomes: List[RunGenome]


def push(client: "Client", run_dir, name: Optional[str] = None, restart: bool = False, progress: bool = False) -> "Job":
    from .jobs import Job

    run_dir = Path(run_dir)
    run = read_run(run_dir)
    marker = run_dir / MARKER
    say = print if progress else (lambda *a, **k: None)

    job = None
    if not restart:
        remembered = remembered_import(marker, client.url)
        found = _get_optional(client, f"/jobs/{remembered}") if remembered else None
        if found and found.get("imported") and found.get("spec") == run.spec:
            if found["status"] == "succeeded" and found["generation"] == len(run.history):
                say("already pushed")
                return Job(client, found)
            if found["status"] == "running":
                say(f"continuing import {remembered} from generation {found['generation']}")
                job = found
    if job is None:
        body = {"spec": run.spec}
        if name is not None:
            body["name"] = name
        job = client.post("/imports", body)
        try:
            marker.write_text(json.dumps({"server": client.url, "job_id": job["id"]}))
        except OSError as e:
            say(f"warning: cannot write {marker} ({e}); a failed push will start over")
    job_id = job["id"]
    _upload_history(client, job_id, run.history, int(job.get("generation") or 0))
    for genome in run.genomes:
        client.request(
            "POST",
            f"/imports/{job_id}/genomes",
            params={"kind": genome.kind, "generation": genome.generation},
            content=genome.data,
            headers={"content-type": "application/octet-stream"},
        )
    finish = {"generations": len(run.history), "genomes": len(run.genomes), "stop_reason": run.stop_reason}
    try:
        client.post(f"/imports/{job_id}/finish", finish)
    except SfnnError:
        # A finish whose answer was lost, sent again, is refused: done if the job says so.
        if client.get(f"/jobs/{job_id}")["status"] != "succeeded":
            raise
    say(f"pushed {len(run.history)} generations and {len(run.genomes)} genomes")
    return Job(client, client.get(f"/jobs/{job_id}"))


def remembered_import(marker: Path, base: str) -> Optional[str]:
    try:
        value = json.loads(marker.read_text())
        job_id = value["job_id"] if value.get("server") == base else None
        return str(uuid.UUID(job_id)) if isinstance(job_id, str) else None
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def _get_optional(client: "Client", path: str) -> Optional[dict]:
    try:
        return client.get(path)
    except SfnnError as e:
        if e.status == 404:
            return None
        raise


def _upload_history(client: "Client", job_id: str, history: List[dict], start: int) -> None:
    resyncs, next_generation = 0, start
    while next_generation < len(history):
        batch = batch_from(history, next_generation)
        try:
            job = client.post(f"/imports/{job_id}/generations", {"records": batch})
            next_generation = int(job["generation"])
        except SfnnError as e:
            if e.field == "records[0].generation" and resyncs < MAX_RESYNCS:
                # The server holds other generations than this batch assumed (an answer lost
                # after the batch was stored): continue from what it holds.
                resyncs += 1
                next_generation = int(client.get(f"/jobs/{job_id}")["generation"])
            else:
                raise


def batch_from(history: List[dict], start: int) -> List[dict]:
    """Records from ``start`` on, as many as one request may carry."""
    size, end = 0, start
    while end < len(history) and end - start < MAX_BATCH_RECORDS:
        record = len(json.dumps(history[end], separators=(",", ":"))) + 1
        if end == start and record > PUSH_BATCH_BYTES:
            raise ValueError(f"generation {start}'s record is {record} bytes of JSON, more than one request may carry")
        if size + record > PUSH_BATCH_BYTES:
            break
        size += record
        end += 1
    return history[start:end]


def read_run(run_dir: Path) -> FinishedRun:
    """A run folder ``sfnn run`` finished, checked as ``sfnn push`` checks it."""
    if not run_dir.is_dir():
        raise ValueError(f"{run_dir} is not a folder")
    spec_path = run_dir / "spec.json"
    try:
        spec = json.loads(spec_path.read_text())
    except OSError:
        raise ValueError(f"{run_dir} is not a run folder (no spec.json)") from None
    history = read_history(run_dir / "history.jsonl")

    def unfinished(why: str) -> ValueError:
        return ValueError(
            f"{run_dir} holds an unfinished run ({why}); finish it with "
            f"`sfnn run {spec_path} --out {run_dir} --resume`, then push it"
        )

    try:
        checkpoint = json.loads((run_dir / "checkpoint.json").read_text())
    except FileNotFoundError:
        raise unfinished("no checkpoint.json") from None
    if checkpoint["generation"] != len(history):
        raise unfinished(
            f"its checkpoint is at generation {checkpoint['generation']}, its history has {len(history)} records"
        )
    reason = stop_reason(spec, checkpoint)
    if reason is None:
        raise unfinished(f"stopped after {len(history)} of {spec['generations']} generations")
    kept = [("mean_genome.safetensors", "final_mean", len(history) - 1)]
    if checkpoint.get("best") is not None:
        kept.append(("best_genome.safetensors", "final_best", int(checkpoint["best"]["generation"])))
    genomes = []
    model = {k: spec["model"][k] for k in ("nodes", "msg_dims", "node_types")}
    from sfnn_genome.files import genome_from_bytes

    for file, kind, generation in kept:
        data = (run_dir / file).read_bytes()
        if genome_from_bytes(data).model.__dict__ != model:
            raise ValueError(f"{run_dir / file}: the genome's model differs from the spec's")
        genomes.append(RunGenome(file, kind, generation, data))
    return FinishedRun(spec, history, reason, genomes)


def read_history(path: Path) -> List[dict]:
    try:
        lines = path.read_text().splitlines()
    except OSError as e:
        raise ValueError(f"reading {path}: {e}") from None
    history = []
    for i, line in enumerate(lines):
        try:
            record = json.loads(line)
            generation = record["generation"]
        except (ValueError, KeyError, TypeError):
            raise ValueError(f"{path} line {i + 1}: not a generation record (a run killed mid-write?)") from None
        if generation != i:
            raise ValueError(f"{path} line {i + 1}: generation {generation}, expected {i}")
        history.append(record)
    if not history:
        raise ValueError(f"{path} holds no generations")
    return history


def stop_reason(spec: dict, checkpoint: dict) -> Optional[str]:
    """Why the run stopped, as ``Evolution::stop_reason`` (src/evolution/run.rs) decides it;
    ``None`` for a run that did not."""
    generation = checkpoint["generation"]
    stop = spec.get("stop") or {}
    if generation >= spec["generations"]:
        return "generations"
    target, best = stop.get("target_fitness"), checkpoint.get("best")
    if target is not None and best is not None and best["fitness"] >= target:
        return "target_fitness"
    n = stop.get("stagnation_generations")
    if n is not None and generation >= checkpoint["last_improvement"] + 1 + n:
        return "stagnation"
    limit = stop.get("max_wall_seconds")
    if limit is not None and checkpoint["elapsed_seconds"] >= limit:
        return "wall_clock"
    return None
