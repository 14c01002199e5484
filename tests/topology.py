"""compose.yaml's production topology as processes on this machine, for the test that proves it
(tests/test_topology.py) and the load benchmark (bench/load.py, `make load`): a fresh PostgreSQL database, a
Redis of its own (append-only file, so a restart keeps the queue), moto's S3 server, the one-shot
`python -m app migrate`, then web processes (`python -m app serve`) and worker processes
(`python -m app worker`) with the settings compose.yaml gives them. Each process writes its output to a
log file in the topology's folder, so a long run never blocks on a full pipe."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.backends.stand_ins import PassThroughBackend

ROOT = Path(__file__).resolve().parent.parent
PG_ADMIN_URL = os.environ.get("TEST_POSTGRES_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
S3_ENV = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}
HOLDING = "tests.topology:HoldingBackend"
PASSWORD = "topology password"
# Only a guard against hanging: starting up waits for an answer, not for a length of time.
START_DEADLINE_SECONDS = 120.0
# What a process of ours must not inherit from the shell that runs the tests or the benchmark.
SETTINGS_WE_SET = ("DATABASE_URL", "QUEUE_URL", "STORAGE_URL", "S3_ENDPOINT_URL", "DATA_DIR", "EDIT_BACKEND",
                   "SECRET_KEY", "FORWARDED_ALLOW_IPS", "PROMETHEUS_MULTIPROC_DIR", "RATE_LIMIT_STORAGE_URL")


class Unavailable(RuntimeError):
    """A service the topology needs is not on this machine (the test skips, the benchmark says so)."""


class HoldingBackend(PassThroughBackend):
    """The topology's stand-in engine: passes images through, except that the first edit anywhere whose prompt
    says "hold" is held by the worker that takes it, for good (until that worker is killed), after that worker
    wrote its pid to TOPOLOGY_HOLD_FILE: how a test knows which worker is in the middle of an edit."""

    def edit(self, request):  # type: ignore[no-untyped-def]
        hold_file = os.environ.get("TOPOLOGY_HOLD_FILE")
        if hold_file and "hold" in request.prompt.lower():
            try:
                descriptor = os.open(hold_file + ".taken", os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            except FileExistsError:
                pass  # held once already: this is the attempt after the holder was killed
            else:
                os.close(descriptor)
                Path(hold_file + ".part").write_text(str(os.getpid()))
                os.replace(hold_file + ".part", hold_file)
                threading.Event().wait()
        return super().edit(request)


class Service:
    """One process of the topology, started from `argv` with `env`; its output goes to `log`."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], folder: Path) -> None:
        self.name, self.argv, self.env = name, argv, env
        self.folder = folder
        self.log = folder / f"{name}.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> Service:
        self.folder.mkdir(parents=True, exist_ok=True)
        with open(self.log, "ab") as out:
            self.process = subprocess.Popen(self.argv, env=self.env, cwd=self.folder, stdout=out,
                                            stderr=subprocess.STDOUT)
        return self

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self, sig: int = signal.SIGTERM) -> int | None:
        """Send `sig` (SIGTERM: a clean stop; SIGKILL: a crash) and wait for the process to end."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode

    def tail(self, lines: int = 30) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return f"--- {self.name} ---\n" + "\n".join(text.splitlines()[-lines:])


class RedisServer(Service):
    """redis-server on its own port with an append-only file, as compose.yaml runs it: messages survive
    `restart()` (a clean stop and start, as `docker compose restart redis`)."""

    def __init__(self, folder: Path) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise Unavailable("redis-server is not installed")
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        super().__init__("redis", [binary, "--bind", "127.0.0.1", "--port", str(self.port), "--appendonly", "yes",
                                   "--appendfsync", "always", "--save", "", "--dir", str(folder)], dict(os.environ),
                         folder)

    def start(self) -> RedisServer:
        super().start()
        import redis

        client = redis.Redis.from_url(self.url, socket_timeout=2)
        deadline = time.monotonic() + START_DEADLINE_SECONDS
        while True:
            try:
                if client.ping():
                    break
            except redis.exceptions.RedisError:
                if not self.alive() or time.monotonic() > deadline:
                    raise RuntimeError(f"redis-server did not start\n{self.tail()}") from None
                time.sleep(0.05)
        client.close()
        return self


@dataclass(frozen=True)
class Person:
    user_id: str
    email: str
    api_key: str
    credits: int


@dataclass
class Topology:
    folder: Path
    database_url: str
    redis: RedisServer
    s3_endpoint: str
    env: dict[str, str]
    webs: list[Service] = field(default_factory=list)
    workers: list[Service] = field(default_factory=list)

    @property
    def web_urls(self) -> list[str]:
        return [f"http://127.0.0.1:{web.argv[-1]}" for web in self.webs]

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        """`python -m app …` against this topology's database (the operator's command line)."""
        return subprocess.run([sys.executable, "-m", "app", *args], env=self.process_env("cli"),
                              cwd=self.folder, capture_output=True, text=True, timeout=120)

    def process_env(self, name: str, **extra: str) -> dict[str, str]:
        data_dir = self.folder / name
        data_dir.mkdir(parents=True, exist_ok=True)
        return {**self.env, "DATA_DIR": str(data_dir), **extra}

    def start_worker(self, slot: int | None = None) -> Service:
        """A `python -m app worker` (again in `slot`, as compose's restart policy would after a crash)."""
        slot = len(self.workers) if slot is None else slot
        worker = Service(f"worker-{slot}", [sys.executable, "-m", "app", "worker"],
                         self.process_env(f"worker-{slot}", WORKER_METRICS_PORT=str(free_port())),
                         self.folder / f"worker-{slot}").start()
        if slot == len(self.workers):
            self.workers.append(worker)
        else:
            self.workers[slot] = worker
        return worker

    def start_web(self) -> Service:
        slot = len(self.webs)
        web = Service(f"web-{slot}", [sys.executable, "-m", "app", "serve", "--host", "127.0.0.1", "--port",
                                      str(free_port())],
                      self.process_env(f"web-{slot}"), self.folder / f"web-{slot}").start()
        self.webs.append(web)
        return web

    def wait_ready(self) -> None:
        """Until every web process answers /readyz 200: database at head, Redis, S3 and a worker heartbeat."""
        for web, url in zip(self.webs, self.web_urls, strict=True):
            wait_for(lambda url=url: httpx.get(url + "/readyz", timeout=5).status_code == 200,  # type: ignore[misc]
                     f"{url}/readyz", web)

    def people(self, count: int, credits: int) -> list[Person]:
        return create_people(self.database_url, count, credits)

    def logs(self) -> str:
        return "\n".join(service.tail() for service in [*self.webs, *self.workers, self.redis])


@contextlib.contextmanager
def fresh_postgres_database(admin_url: str = PG_ADMIN_URL) -> Iterator[str]:
    """An empty PostgreSQL database for one run (the suite's, or one topology's), dropped afterwards."""
    from sqlalchemy import text

    from app.db import make_engine

    admin = make_engine(admin_url).execution_options(isolation_level="AUTOCOMMIT")
    name = f"imagedit_test_{uuid.uuid4().hex[:10]}"
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        admin.dispose()
        raise Unavailable(f"PostgreSQL is not reachable at {admin_url}: {exc}") from exc
    try:
        yield admin_url.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextlib.contextmanager
def running_topology(folder: Path, *, webs: int = 2, workers: int = 2, backend: str = HOLDING,
                     **settings: str) -> Iterator[Topology]:
    """Start everything in the order compose.yaml does (services, migration, workers, web) and wait until every
    web process is ready; stop it all afterwards. `settings` (environment names) go to every app process."""
    folder.mkdir(parents=True, exist_ok=True)
    with contextlib.ExitStack() as stack:
        database_url = stack.enter_context(fresh_postgres_database())
        redis = RedisServer(folder / "redis").start()
        stack.callback(redis.stop)
        s3 = Service("s3", [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(free_port())],
                     {**os.environ, **S3_ENV}, folder / "s3").start()
        stack.callback(s3.stop)
        s3_endpoint = f"http://127.0.0.1:{s3.argv[-1]}"
        bucket = f"imagedit-{uuid.uuid4().hex[:8]}"
        wait_for(lambda: _create_bucket(s3_endpoint, bucket), "moto's S3 server", s3)
        env = {name: value for name, value in os.environ.items() if name not in SETTINGS_WE_SET}
        env.update(S3_ENV, PYTHONPATH=str(ROOT), PYTHONUNBUFFERED="1", DATABASE_URL=database_url,
                   QUEUE_URL=redis.url, STORAGE_URL=f"s3://{bucket}/edits", S3_ENDPOINT_URL=s3_endpoint,
                   SECRET_KEY=uuid.uuid4().hex * 2, EDIT_BACKEND=backend, LOG_FORMAT="json",
                   METRICS_TOKEN=uuid.uuid4().hex, MODEL_DIR=str(ROOT / "data" / "models"),
                   TOPOLOGY_HOLD_FILE=str(folder / "held"))
        env.update(settings)
        topology = Topology(folder, database_url, redis, s3_endpoint, env)
        migrated = topology.cli("migrate")  # compose's one-shot `migrate` service
        if migrated.returncode != 0:
            raise RuntimeError(f"migrate failed:\n{migrated.stdout}{migrated.stderr}")
        stack.callback(lambda: [service.stop() for service in [*topology.webs, *topology.workers]])
        for _ in range(workers):
            topology.start_worker()
        for _ in range(webs):
            topology.start_web()
        topology.wait_ready()
        yield topology


def create_people(database_url: str, count: int, credits: int) -> list[Person]:
    """`count` people with `credits` each and an API key, written straight to the database (as
    `users create` and `apikeys create` would, without starting a Python process for each)."""
    from app.accounts.service import create_api_key, create_user
    from app.db import make_engine, make_session_factory, transaction

    engine = make_engine(database_url)
    people = []
    try:
        for number in range(count):
            email = f"person-{number}-{uuid.uuid4().hex[:6]}@example.com"
            with transaction(make_session_factory(engine)) as db:
                user = create_user(db, email=email, password=PASSWORD, signup_credits=credits)
                _, key = create_api_key(db, user.id, "load")
            people.append(Person(user.id, email, key, credits))
    finally:
        engine.dispose()
    return people


def _create_bucket(endpoint: str, bucket: str) -> bool:
    import boto3

    try:
        boto3.client("s3", endpoint_url=endpoint, **{
            "aws_access_key_id": S3_ENV["AWS_ACCESS_KEY_ID"], "aws_secret_access_key": S3_ENV["AWS_SECRET_ACCESS_KEY"],
            "region_name": S3_ENV["AWS_DEFAULT_REGION"]}).create_bucket(Bucket=bucket)
    except Exception:  # not listening yet
        return False
    return True


def wait_for(condition, what: str, service: Service) -> None:  # type: ignore[no-untyped-def]
    """Until `condition()` is true; fails at once if `service` died, and after START_DEADLINE_SECONDS."""
    deadline = time.monotonic() + START_DEADLINE_SECONDS
    while True:
        try:
            if condition():
                return
        except httpx.TransportError:
            pass
        if not service.alive() or time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not come up\n{service.tail()}")
        time.sleep(0.1)


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
