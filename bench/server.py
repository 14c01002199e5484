"""A real `python -m app serve` in a subprocess on a fresh SQLite data folder, with one person and their API
key: what the benchmarks that measure a running server start from."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PASSTHROUGH = "tests.backends.stand_ins:PassThroughBackend"


@dataclass(frozen=True)
class Server:
    url: str
    pid: int
    api_key: str
    cli: CommandLine


class CommandLine:
    def __init__(self, env: dict[str, str], folder: str) -> None:
        self.env, self.folder = env, folder

    def __call__(self, *args: str) -> str:
        return subprocess.run([sys.executable, "-m", "app", *args], env=self.env, cwd=self.folder, check=True,
                              capture_output=True, text=True).stdout.strip()


@contextlib.contextmanager
def serving(*, credits: int = 1000, **settings: str) -> Iterator[Server]:
    """Migrate, create bench@example.com (password "bench password") with `credits` and an API key, serve
    with the embedded defaults plus `settings` (environment names), and stop the server afterwards."""
    with tempfile.TemporaryDirectory() as folder:
        env = {**os.environ, "DATA_DIR": folder, "EDIT_BACKEND": PASSTHROUGH, "PYTHONPATH": str(ROOT),
               "EDIT_WORKERS": "0", "SECRET_KEY": "bench", **settings}
        for name in ("DATABASE_URL", "QUEUE_URL", "STORAGE_URL", "FORWARDED_ALLOW_IPS"):
            env.pop(name, None)
        cli = CommandLine(env, folder)
        cli("migrate")
        cli("users", "create", "--email", "bench@example.com", "--password", "bench password", "--credits",
            str(credits))
        key = cli("apikeys", "create", "--email", "bench@example.com")
        port = free_port()
        server = subprocess.Popen([sys.executable, "-m", "app", "serve", "--port", str(port)], env=env, cwd=folder,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            url = f"http://127.0.0.1:{port}"
            wait_up(url)
            yield Server(url, server.pid, key, cli)
        finally:
            server.terminate()
            server.wait(timeout=30)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_up(url: str) -> None:
    import httpx

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.get(url + "/api/v1/pricing", timeout=2)
            return
        except httpx.TransportError:
            time.sleep(0.2)
    raise RuntimeError("the server did not start")


class PeakGrowth:
    """While the block runs, samples a process's resident memory; `.mb` is the peak growth over the start."""

    def __init__(self, pid: int) -> None:
        import psutil

        self.process = psutil.Process(pid)
        self.mb = 0.0

    def __enter__(self) -> PeakGrowth:
        self.baseline = self.peak = self.process.memory_info().rss
        self.stop = threading.Event()
        self.sampler = threading.Thread(target=self._sample, daemon=True)
        self.sampler.start()
        return self

    def _sample(self) -> None:
        while not self.stop.is_set():
            self.peak = max(self.peak, self.process.memory_info().rss)
            time.sleep(0.005)

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.sampler.join()
        self.mb = (self.peak - self.baseline) / 2**20
