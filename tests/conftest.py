"""Shared fixtures: a database built by the migrations (SQLite or PostgreSQL, chosen by TEST_DATABASE),
emptied between tests; an app context with in-process workers; clients; a live server; builders."""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi.testclient import TestClient
from sqlalchemy import text

from app.config import Settings
from app.context import AppContext, build_context
from app.db import make_engine
from app.main import create_app
from app.migrations import upgrade
from app.models import Base
from tests.topology import Unavailable, fresh_postgres_database

FIXTURES = Path(__file__).parent / "fixtures"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
PASSTHROUGH = "tests.backends.stand_ins:PassThroughBackend"
# S3, Redis, the fake OpenAI server and the browser.
pytest_plugins = ["tests.scale_out_services", "tests.fake_openai", "tests.browser"]


def unavailable(reason: str) -> None:
    """Skip a test whose service is missing, except in CI, where a missing service is a failure."""
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: required)")
    pytest.skip(reason)


# --- the database for this run --------------------------------------------------------------------------


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A fresh database for this test run, migrated to head; dropped at the end."""
    kind = os.environ.get("TEST_DATABASE", "sqlite")
    if kind == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('db')}/test.db"
        upgrade(url)
        yield url
        return
    if kind != "postgresql":
        raise pytest.UsageError(f"TEST_DATABASE={kind!r}: use sqlite or postgresql")
    with contextlib.ExitStack() as stack:
        try:
            url = stack.enter_context(fresh_postgres_database())
        except Unavailable as exc:  # pragma: no cover - depends on the machine
            unavailable(str(exc))
        upgrade(url)
        yield url


@pytest.fixture(scope="session")
def _engine(database_url: str) -> Iterator[Any]:
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


def empty_database(engine: Any) -> None:
    # DELETE, children first, on both databases: on PostgreSQL a TRUNCATE of every table takes about 0.3 s
    # (new files for each table) against 0.06 s, and twice per test that was half of the PostgreSQL pass.
    tables = [table.name for table in reversed(Base.metadata.sorted_tables)]
    with engine.begin() as conn:
        for name in tables:
            conn.execute(text(f'DELETE FROM "{name}"'))


@pytest.fixture
def clean_db(_engine: Any) -> Iterator[None]:
    empty_database(_engine)
    yield
    empty_database(_engine)


# --- settings, context, app -----------------------------------------------------------------------------


def make_settings(data_dir: Path, database_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "data_dir": data_dir,
        "database_url": database_url,
        "storage_url": f"file://{data_dir}/files",
        "edit_backend": PASSTHROUGH,
        "secret_key": "test-secret-key-not-for-production",
        "signup_credits": 10,
        "edit_workers": 2,
        "lease_seconds": 30,
        "sweep_interval_seconds": 0.5,
        "retry_base_seconds": 0.05,
        "worker_poll_seconds": 0.02,
        "model_dir": Path(__file__).resolve().parent.parent / "data" / "models",
        "_env_file": None,
    }
    values.update(overrides)
    return Settings(**values)


@pytest.fixture
def settings_overrides(request: pytest.FixtureRequest) -> dict[str, Any]:
    """Settings for this test: override the fixture in a module, or parametrize it indirectly."""
    return dict(getattr(request, "param", {}))


@pytest.fixture
def settings(tmp_path: Path, database_url: str, clean_db: None, settings_overrides: dict[str, Any]) -> Settings:
    return make_settings(tmp_path / "data", database_url, **settings_overrides)


@pytest.fixture
def context(settings: Settings) -> Iterator[AppContext]:
    ctx = build_context(settings)
    yield ctx
    ctx.queue.stop()
    ctx.engine.dispose()


@pytest.fixture
def app(context: AppContext) -> Any:
    return create_app(context=context)


@pytest.fixture
def client(app: Any) -> Iterator[TestClient]:
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def backend(context: AppContext) -> Any:
    """The stand-in backend of this test's context (to open its gate, make it fail…)."""
    return context.backend


# --- a real server on a free port -----------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LiveServer:
    def __init__(self, app: Any) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the test server did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=20)


@pytest.fixture
def live_server(app: Any) -> Iterator[LiveServer]:
    with LiveServer(app) as server:
        yield server


# --- builders -------------------------------------------------------------------------------------------


def create_user(context: AppContext, *, email: str | None = None, password: str = "correct horse",
                credits: int = 20) -> Any:
    """A person with `credits` available (through the same service sign-up uses)."""
    from app.accounts.service import create_user as create

    with context.transaction() as db:
        user = create(db, email=email or f"user-{uuid.uuid4().hex[:8]}@example.com", password=password,
                      signup_credits=credits)
    return user


def api_key_for(context: AppContext, user_id: str) -> str:
    from app.accounts.service import create_api_key

    with context.transaction() as db:
        _, key = create_api_key(db, user_id, "test")
    return key


def login(client: TestClient, email: str, password: str = "correct horse") -> str:
    """Sign a TestClient in; returns its CSRF token (send it as X-CSRF-Token)."""
    response = client.post("/api/v1/auth/login", json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    return client.cookies["csrftoken"]


def wait_for_edit(client: TestClient | httpx.Client, edit_id: str, *, headers: dict[str, str] | None = None,
                  timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        edit = client.get(f"/api/v1/edits/{edit_id}", headers=headers or {}).json()
        if edit["status"] in ("succeeded", "failed"):
            return edit
        if time.monotonic() > deadline:
            raise AssertionError(f"edit {edit_id} still {edit['status']} after {timeout}s")
        time.sleep(0.05)


def verify_ledger(context: AppContext) -> None:
    from app.billing import ledger

    with context.transaction() as db:
        problems = ledger.verify(db)
    assert problems == [], problems


def image_bytes(name: str = "coffee.png", *, fmt: str | None = None, size: tuple[int, int] | None = None,
                **save: Any) -> bytes:
    """A fixture photo, optionally resized and re-encoded."""
    import io

    from PIL import Image

    image = Image.open(FIXTURES / name)
    if size is not None:
        image = image.convert("RGB").resize(size)
    if fmt is None and size is None and not save:
        return (FIXTURES / name).read_bytes()
    buffer = io.BytesIO()
    target = (fmt or image.format or "PNG").upper()
    if target == "JPEG":
        image = image.convert("RGB")
    image.save(buffer, target, **save)
    return buffer.getvalue()


def stored_files(settings: Settings) -> list[Path]:
    root = settings.data_dir / "files"
    return [path for path in root.rglob("*") if path.is_file()] if root.exists() else []
