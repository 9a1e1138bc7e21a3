"""A real ``sfnn serve`` for the client tests: a free port, a temporary SQLite file, stopped at
the end. The binary is ``$SFNN_BIN`` (default ``target/debug/sfnn`` in the repository); where it
is missing, or httpx is, the tests are skipped with the reason, unless ``REQUIRE_SFNN_SERVER=1``
(then they fail). ``SFNN_SERVER_TESTS=0`` skips them (for a run that has them in another step)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import tempfile
import time
import unittest
from pathlib import Path
from typing import Optional, Sequence

REPO = Path(__file__).resolve().parents[2]
REQUIRED = os.environ.get("REQUIRE_SFNN_SERVER") == "1"


def sfnn_binary() -> Path:
    path = Path(os.environ.get("SFNN_BIN") or REPO / "target/debug/sfnn")
    return path if path.is_absolute() else REPO / path


def unavailable() -> Optional[str]:
    """Why the server tests cannot run here, or None."""
    if os.environ.get("SFNN_SERVER_TESTS") == "0":
        return "SFNN_SERVER_TESTS=0 (the suite runs them in a step of its own)"
    try:
        import httpx  # noqa: F401
    except ImportError:
        return "httpx is not installed (pip install ./python, or pip install httpx)"
    binary = sfnn_binary()
    if not os.access(binary, os.X_OK):
        return f"no sfnn binary at {binary} (build it with `cargo build`, or set SFNN_BIN)"
    return None


def skip_without_server(cls):
    """Skips the test class where no server can be started (fails instead when required)."""
    reason = unavailable()
    if reason is None:
        return cls
    if REQUIRED:
        raise RuntimeError(f"REQUIRE_SFNN_SERVER=1 but {reason}")
    return unittest.skip(reason)(cls)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class SfnnServer:
    """``sfnn serve`` on 127.0.0.1 with its own database; ``url`` once started."""

    def __init__(self, args: Sequence[str] = (), workers: int = 1, threads: int = 2, env: Optional[dict] = None):
        self.args, self.workers, self.threads = list(args), workers, threads
        self.extra_env = env or {}
        self.dir = tempfile.TemporaryDirectory(prefix="sfnn-client-test-")
        self.log_path = Path(self.dir.name) / "server.log"
        self.process: Optional[subprocess.Popen] = None
        self.url = ""

    def start(self, timeout: float = 30.0) -> "SfnnServer":
        import httpx

        env = {k: v for k, v in os.environ.items() if not k.startswith("SFNN_") and k != "DATABASE_URL"}
        env.update(self.extra_env)
        env.setdefault("RUST_LOG", "sfnn=warn")
        for _ in range(3):  # the port may be taken between choosing and binding it
            port = free_port()
            self.url = f"http://127.0.0.1:{port}"
            command = [
                str(sfnn_binary()), "serve",
                "--bind", f"127.0.0.1:{port}",
                "--database", str(Path(self.dir.name) / "sfnn.db"),
                "--workers", str(self.workers),
                "--threads", str(self.threads),
                "--poll-ms", "50",
                "--static-dir", str(REPO / "static"),
                *self.args,
            ]  # fmt: skip
            log = open(self.log_path, "ab")
            self.process = subprocess.Popen(command, stdout=log, stderr=log, env=env, cwd=self.dir.name)
            log.close()
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline and self.process.poll() is None:
                try:
                    if httpx.get(self.url + "/healthz", timeout=1.0).status_code == 200:
                        return self
                except httpx.HTTPError:
                    pass
                time.sleep(0.05)
            if self.process.poll() is None:
                self.stop()
                raise RuntimeError(f"sfnn serve did not answer in {timeout} s:\n{self.log()}")
        raise RuntimeError(f"sfnn serve did not start:\n{self.log()}")

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-4000:]
        except OSError:
            return ""

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None
        self.dir.cleanup()

    def __enter__(self) -> "SfnnServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
