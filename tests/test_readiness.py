"""`/readyz`: ok when every part a request needs is there, 503 naming the part that is missing (database,
migrations, broker, storage, a live worker on a shared queue). `/healthz` stays a liveness check."""

from __future__ import annotations

import re
import shutil
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from app import readiness
from app.context import AppContext, build_context
from app.main import READY_CACHE_SECONDS, create_app
from app.migrations import upgrade
from app.models import WorkerHeartbeat
from app.models.base import utcnow
from tests.conftest import free_port, make_settings
from tests.scale_out_services import S3_ENV, redis_url  # noqa: F401  (a fixture)


def closed_port() -> int:
    return free_port()  # nothing listens there once the probe socket is closed


TOKEN = "readiness-test-token"


def ready(context: AppContext) -> tuple[int, dict[str, Any]]:
    """/readyz as the operator's monitoring sees it (with METRICS_TOKEN, which shows the details)."""
    context.settings.metrics_token = TOKEN
    with TestClient(create_app(context=context, run_workers=False)) as client:
        answer = client.get("/readyz", headers={"Authorization": f"Bearer {TOKEN}"})
    return answer.status_code, answer.json()


@pytest.fixture
def built(request: pytest.FixtureRequest) -> Iterator[list[AppContext]]:
    """Contexts a test builds from its own settings, torn down after it."""
    made: list[AppContext] = []
    yield made
    for context in made:
        context.queue.stop()
        context.engine.dispose()


def build(built: list[AppContext], settings: Any) -> AppContext:
    context = build_context(settings)
    built.append(context)
    return context


def test_ready_when_the_database_and_storage_are_there(context):
    status, body = ready(context)
    assert status == 200, body
    assert body["status"] == "ok"
    assert set(body["checks"]) == {"database", "storage"}  # in-process queue: no broker, no separate workers
    assert all(check["ok"] and check["detail"] for check in body["checks"].values())


def test_healthz_stays_a_liveness_check(client):
    assert client.get("/healthz").json() == {"status": "ok"}


@pytest.mark.nodb
def test_an_unreachable_database_fails(tmp_path, built):
    url = f"postgresql+psycopg://nobody:pw-not-shown@127.0.0.1:{closed_port()}/imagedit"
    status, body = ready(build(built, make_settings(tmp_path, url)))
    assert status == 503 and body["status"] == "failing"
    assert body["checks"]["database"]["ok"] is False
    assert "OperationalError" in body["checks"]["database"]["detail"]
    assert "pw-not-shown" not in str(body)
    assert body["checks"]["storage"]["ok"] is True


@pytest.mark.nodb
def test_a_database_behind_the_migrations_fails(tmp_path, built):
    url = f"sqlite:///{tmp_path}/old.db"
    context = build(built, make_settings(tmp_path, url))
    status, body = ready(context)
    assert status == 503 and "empty" in body["checks"]["database"]["detail"]

    upgrade(url, "0003")
    status, body = ready(context)
    assert status == 503
    assert "at revision 0003" in body["checks"]["database"]["detail"]
    assert "python -m app migrate" in body["checks"]["database"]["detail"]

    upgrade(url)
    status, body = ready(context)
    assert status == 200, body


def test_redis_down_fails(tmp_path, database_url, clean_db, built):
    settings = make_settings(tmp_path, database_url, queue_url=f"redis://127.0.0.1:{closed_port()}/0")
    status, body = ready(build(built, settings))
    assert status == 503
    assert body["checks"]["broker"]["ok"] is False
    assert "ConnectionError" in body["checks"]["broker"]["detail"]
    assert body["checks"]["database"]["ok"] is True


def test_unreachable_storage_fails(tmp_path, database_url, clean_db, built, monkeypatch):
    for name, value in S3_ENV.items():
        monkeypatch.setenv(name, value)
    settings = make_settings(tmp_path, database_url, storage_url="s3://nowhere/edits",
                             s3_endpoint_url=f"http://127.0.0.1:{closed_port()}")
    status, body = ready(build(built, settings))
    assert status == 503
    assert body["checks"]["storage"]["ok"] is False
    assert "Connect" in body["checks"]["storage"]["detail"]


def test_unusable_file_storage_fails(tmp_path, database_url, clean_db, built):
    root = tmp_path / "files"
    context = build(built, make_settings(tmp_path / "data", database_url, storage_url=f"file://{root}"))
    shutil.rmtree(root)
    root.write_text("the disk was remounted, or the folder replaced by a file")
    status, body = ready(context)
    assert status == 503 and body["checks"]["storage"]["ok"] is False


def test_a_shared_queue_needs_a_fresh_worker_heartbeat(tmp_path, database_url, clean_db, built, redis_url):  # noqa: F811
    context = build(built, make_settings(tmp_path, database_url, queue_url=redis_url))
    status, body = ready(context)
    assert status == 503
    assert body["checks"]["workers"] == {
        "ok": False, "detail": "no worker has ever recorded a heartbeat: start `python -m app worker`"}
    assert body["checks"]["broker"]["ok"] is True

    readiness.record_heartbeat(context, "host:1:stale")
    with context.transaction() as db:
        db.execute(update(WorkerHeartbeat).values(last_seen=utcnow() - timedelta(minutes=10)))
    status, body = ready(context)
    assert status == 503
    assert body["checks"]["workers"]["ok"] is False
    assert re.search(r"no worker seen for 6\d\ds", body["checks"]["workers"]["detail"])

    readiness.record_heartbeat(context, "host:2:fresh")
    status, body = ready(context)
    assert status == 200, body
    assert set(body["checks"]) == {"database", "storage", "broker", "workers"}
    assert "1 worker(s) alive" in body["checks"]["workers"]["detail"]

    readiness.forget_heartbeat(context, "host:2:fresh")  # a worker that stops cleanly
    assert ready(context)[0] == 503


def test_strangers_read_only_ok_or_failing_and_cannot_make_it_work_harder(context):
    """Anyone may ask (load balancers do), but the details are the operator's, and a flood of calls runs
    the checks (which touch storage) at most once every few seconds."""
    touched = []
    put = context.storage.put
    context.storage.put = lambda *args, **kwargs: (touched.append(1), put(*args, **kwargs))[1]
    with TestClient(create_app(context=context, run_workers=False)) as client:
        started = time.monotonic()
        answers = [client.get("/readyz") for _ in range(20)]
        elapsed = time.monotonic() - started
    assert all(answer.status_code == 200 for answer in answers)
    assert all(check == {"ok": True, "detail": ""} for check in answers[0].json()["checks"].values())
    assert len(touched) <= 1 + elapsed / READY_CACHE_SECONDS  # once per interval, however many ask
