"""``Client``: an SFNN Lab server's REST API (``/api/v1``) from Python, over httpx."""

from __future__ import annotations

import email.utils
import json
import os
import time
from pathlib import Path
from typing import Any, Dict, Iterator, List, Mapping, Optional, Union

import httpx

from .errors import SfnnError

#: Where ``sfnn serve`` listens by default.
DEFAULT_URL = "http://127.0.0.1:8080"

#: Statuses that mean "not now": retried after ``Retry-After``.
RETRIED = (429, 503)

Spec = Union[Mapping[str, Any], str, os.PathLike]


class Client:
    """A connection to an SFNN Lab server.

    ``url`` defaults to ``$SFNN_URL``, else ``http://127.0.0.1:8080`` (``/api/v1`` may be
    included or not); ``token`` to ``$SFNN_API_TOKEN`` (sent as ``Authorization: Bearer``; a
    server started with ``--api-token`` needs it for every change). A 429 or 503 answer is
    retried after its ``Retry-After`` (at most ``max_retry_wait`` seconds each time, at most
    ``max_retries`` times); every other refusal raises :class:`SfnnError`.
    """

    def __init__(
        self,
        url: Optional[str] = None,
        token: Optional[str] = None,
        *,
        timeout: float = 60.0,
        max_retries: int = 5,
        max_retry_wait: float = 60.0,
        transport: Optional[httpx.BaseTransport] = None,
    ):
        url = url or os.environ.get("SFNN_URL") or DEFAULT_URL
        if token is None:
            token = os.environ.get("SFNN_API_TOKEN") or None
        base = url.strip().rstrip("/")
        if base.endswith("/api/v1"):
            base = base[: -len("/api/v1")]
        if "://" not in base:
            base = "http://" + base
        self.url = base
        self.token = token
        self.max_retries = max_retries
        self.max_retry_wait = max_retry_wait
        from . import __version__

        headers = {"user-agent": f"sfnn-lab/{__version__} (python)"}
        if token:
            headers["authorization"] = f"Bearer {token}"
        self._http = httpx.Client(
            base_url=base + "/api/v1", headers=headers, timeout=httpx.Timeout(timeout, connect=10.0), transport=transport
        )

    def __repr__(self) -> str:
        return f"Client({self.url!r}{', token=…' if self.token else ''})"

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ---- HTTP --------------------------------------------------------------------------------

    def request(self, method: str, path: str, *, stream: bool = False, **kwargs) -> httpx.Response:
        """Sends a request to ``/api/v1{path}``; retries 429/503 and connections refused; raises
        :class:`SfnnError` for any other status of 400 and above. With ``stream``, the caller
        reads and closes the response."""
        pause = 0.5
        for attempt in range(self.max_retries + 1):
            last = attempt == self.max_retries
            request = self._http.build_request(method, path, **kwargs)
            try:
                response = self._http.send(request, stream=stream)
            except httpx.ConnectError as e:  # nothing was sent: safe to send again
                if last:
                    raise SfnnError(None, "unreachable", f"{self.url} did not answer: {e}", method=method, url=str(request.url)) from e
                time.sleep(pause)
                pause = min(pause * 2, self.max_retry_wait)
                continue
            except httpx.TimeoutException as e:
                raise SfnnError(None, "timeout", f"no answer in time: {e}", method=method, url=str(request.url)) from e
            except httpx.TransportError as e:
                raise SfnnError(None, "unreachable", f"{self.url}: {e}", method=method, url=str(request.url)) from e
            if response.status_code < 400:
                return response
            if stream:
                response.read()
                response.close()
            error = _error(response)
            if response.status_code in RETRIED and not last:
                wait = error.retry_after if error.retry_after is not None else pause
                time.sleep(min(max(wait, 0.0), self.max_retry_wait))
                pause = min(pause * 2, self.max_retry_wait)
                continue
            raise error
        raise AssertionError("the last attempt returns or raises")

    def get(self, path: str, **params) -> Any:
        params = {k: v for k, v in params.items() if v is not None}
        return self.request("GET", path, params=params).json()

    def post(self, path: str, body: Any = None, **params) -> Any:
        params = {k: v for k, v in params.items() if v is not None}
        kwargs = {} if body is None else {"json": body}
        return self.request("POST", path, params=params, **kwargs).json()

    # ---- jobs --------------------------------------------------------------------------------

    def submit(self, spec: Spec, **changes) -> "Job":
        """Queues an evolution job. ``spec`` is a job spec (a dict, or the path of a JSON file
        such as examples/cartpole-quick.json); ``changes`` override top-level fields
        (``generations=5``, ``strategy={"popsize": 8}``; dicts are merged into the spec's)."""
        body = merge(load_spec(spec), changes)
        return Job(self, self.post("/jobs", body))

    def sweep(self, spec: Spec, axes: Mapping[str, List[Any]], name: Optional[str] = None) -> "Sweep":
        """Queues one job per combination of ``axes`` (spec fields by dotted path, each with
        the values to try: ``{"seed": [1, 2], "strategy.sigma0": [0.1, 0.5]}``), whole or not
        at all."""
        body: Dict[str, Any] = {"spec": load_spec(spec), "axes": {k: list(v) for k, v in axes.items()}}
        if name is not None:
            body["name"] = name
        return Sweep(self, self.post("/sweeps", body))

    def jobs(
        self,
        status: Optional[str] = None,
        tag: Optional[str] = None,
        q: Optional[str] = None,
        sort: Optional[str] = None,
        limit: Optional[int] = None,
        *,
        kind: Optional[str] = None,
        page_size: int = 50,
    ) -> Iterator["Job"]:
        """Jobs matching every filter given, newest first unless ``sort`` says otherwise
        (``created``, ``name``, ``best``, ``generation``, ``status``; ``-`` before it for
        descending). Pages are fetched as the iteration needs them; ``limit`` stops after that
        many jobs (``None``: every job)."""
        if limit is not None and limit <= 0:
            return
        size = max(1, min(page_size if limit is None else min(page_size, limit), 500))
        cursor, given = None, 0
        while True:
            page = self.get("/jobs", status=status, tag=tag, q=q, sort=sort, kind=kind, limit=size, cursor=cursor)
            for data in page["jobs"]:
                yield Job(self, data)
                given += 1
                if limit is not None and given >= limit:
                    return
            cursor = page.get("next_cursor")
            if not cursor:
                return

    def job(self, id: str) -> "Job":
        return Job(self, self.get(f"/jobs/{id}"))

    def get_sweep(self, id: str) -> "Sweep":
        return Sweep(self, self.get(f"/sweeps/{id}"))

    def sweeps(self, limit: int = 50) -> List[dict]:
        """The newest sweeps' summaries (without their jobs)."""
        return self.get("/sweeps", limit=limit)

    # ---- genomes -----------------------------------------------------------------------------

    def genome(self, id: str) -> "RemoteGenome":
        return RemoteGenome(self, self.get(f"/genomes/{id}"))

    def upload_genome(self, genome, name: Optional[str] = None) -> "RemoteGenome":
        """Stores a genome (a :class:`sfnn_genome.Genome`, or a genome file's path or bytes)."""
        from sfnn_genome import Genome
        from sfnn_genome.files import genome_to_bytes

        if isinstance(genome, Genome):
            data = genome_to_bytes(genome, "safetensors")
        elif isinstance(genome, (bytes, bytearray)):
            data = bytes(genome)
        else:
            data = Path(genome).read_bytes()
        json_file = data.lstrip()[:1] == b"{"
        content_type = "application/json" if json_file else "application/octet-stream"
        params = {} if name is None else {"name": name}
        response = self.request("POST", "/genomes", params=params, content=data, headers={"content-type": content_type})
        return RemoteGenome(self, response.json())

    # ---- the rest ----------------------------------------------------------------------------

    def push(self, run_dir, name: Optional[str] = None, restart: bool = False, progress: bool = False) -> "Job":
        """Uploads a run ``sfnn run --out DIR`` finished, as ``sfnn push`` does (and continuing an
        import that ``DIR/push.json`` names where one failed half-way)."""
        from .push import push

        return push(self, run_dir, name=name, restart=restart, progress=progress)

    def envs(self) -> List[dict]:
        return self.get("/envs")

    def health(self) -> dict:
        response = self._http.get(self.url + "/healthz")
        return response.json()


def _retry_after(value: Optional[str]) -> Optional[float]:
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _error(response: httpx.Response) -> SfnnError:
    retry_after = _retry_after(response.headers.get("retry-after"))
    method, url = response.request.method, str(response.request.url)
    try:
        detail = response.json()["error"]
        return SfnnError(
            response.status_code,
            str(detail["code"]),
            str(detail.get("message", "")),
            detail.get("field"),
            retry_after,
            method,
            url,
            detail.get("errors"),
        )
    except (ValueError, KeyError, TypeError):
        text = response.text.strip()[:200] or response.reason_phrase
        return SfnnError(response.status_code, f"http_{response.status_code}", text, None, retry_after, method, url)


def load_spec(spec: Spec) -> dict:
    if isinstance(spec, Mapping):
        return json.loads(json.dumps(dict(spec)))  # a deep copy, and JSON-able
    return json.loads(Path(spec).read_text())


def merge(base: dict, changes: Mapping[str, Any]) -> dict:
    """``changes`` merged into ``base``: dicts key by key, anything else replaced."""
    out = dict(base)
    for key, value in changes.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = merge(dict(out[key]), value)
        else:
            out[key] = value
    return out


from .jobs import Job, RemoteGenome, Sweep  # noqa: E402  (they use Client's helpers)
