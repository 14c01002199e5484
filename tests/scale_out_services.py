"""Real stand-ins for the scale-out services, started by the tests: moto's S3 server and a Redis database."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import free_port, unavailable
from tests.topology import S3_ENV

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """moto's S3-compatible server on a free loopback port."""
    try:
        from moto.server import ThreadedMotoServer
    except ImportError:
        unavailable("moto[server] is not installed")
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def s3_bucket(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh bucket; the AWS_* variables boto3 reads are set for the test."""
    import uuid

    import boto3

    for name, value in S3_ENV.items():
        monkeypatch.setenv(name, value)
    bucket = f"test-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=s3_endpoint).create_bucket(Bucket=bucket)
    return bucket


@pytest.fixture
def redis_url() -> str:
    """An empty Redis database for this test."""
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.flushdb()
    except redis.exceptions.ConnectionError as exc:
        unavailable(f"Redis is not reachable at {REDIS_URL}: {exc}")
    finally:
        client.close()
    return REDIS_URL


@contextlib.contextmanager
def worker_process(cwd: Path, *, unset: tuple[str, ...] = (), **settings: str) -> Iterator[subprocess.Popen[str]]:
    """A real `python -m app worker` with these settings (environment names) on top of this environment,
    less `unset`; stopped with SIGTERM afterwards (killed if it will not stop). Its output is in `.stdout`."""
    env = {name: value for name, value in os.environ.items() if name not in unset}
    env.update(PYTHONPATH=str(ROOT), **settings)
    worker = subprocess.Popen([sys.executable, "-m", "app", "worker"], cwd=cwd, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        yield worker
    finally:
        if worker.poll() is None:
            worker.send_signal(signal.SIGTERM)
            try:
                worker.wait(timeout=30)
            except subprocess.TimeoutExpired:
                worker.kill()
