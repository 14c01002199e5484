"""Is this process fit to take traffic (`GET /readyz`)? `/healthz` only says the process is alive; readiness
asks every part a request needs: the database (reachable, migrated to the head revision), the broker (Redis
answers a ping), the storage (a tiny object goes in, comes back, and is deleted) and, when the queue is
shared with separate worker processes, that some worker has recently recorded its heartbeat.

Also here, because the same rows answer both: the heartbeat a worker process writes, and the queue's depth
that /metrics reads at each scrape.
"""

from __future__ import annotations

import functools
import logging
import os
import re
import secrets
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import delete, func, inspect, select, text, update

from app.models import Edit, WorkerHeartbeat
from app.models.base import utcnow

if TYPE_CHECKING:
    from app.context import AppContext

log = logging.getLogger(__name__)

PROBE_BYTES = b"readyz"
BROKER_TIMEOUT_SECONDS = 2.0
FORGET_WORKERS_AFTER = timedelta(days=1)


@dataclass(frozen=True)
class Check:
    ok: bool
    detail: str


def check(context: AppContext) -> dict[str, Check]:
    """Every readiness check by name; each catches its own failure, so one broken part never hides another."""
    checks: dict[str, Callable[[AppContext], Check]] = {"database": _database, "storage": _storage}
    if context.queue.url.startswith(("redis://", "rediss://")):
        checks["broker"] = _broker
    if not context.queue.in_process:
        checks["workers"] = _workers
    results: dict[str, Check] = {}
    for name, run in checks.items():
        try:
            results[name] = run(context)
        except Exception as exc:
            results[name] = Check(False, _reason(exc))
    return results


class Cached:
    """`check` run at most once per `seconds`, whatever the number of callers (a load balancer, or a flood)."""

    def __init__(self, run: Callable[[AppContext], dict[str, Check]], *, seconds: float) -> None:
        self.run, self.seconds = run, seconds
        self.lock = threading.Lock()
        self.last: tuple[float, dict[str, Check]] | None = None

    def __call__(self, context: AppContext) -> dict[str, Check]:
        with self.lock:
            if self.last is None or time.monotonic() - self.last[0] >= self.seconds:
                self.last = (time.monotonic(), self.run(context))
            return self.last[1]


def _reason(exc: Exception) -> str:
    # The exception's first line, without any password a URL in it may carry (scheme://user:secret@host).
    first = (str(exc).strip().splitlines() or [""])[0]
    first = re.sub(r"(://[^:/@\s]*):[^@\s]*@", r"\1:***@", first)
    return f"{type(exc).__name__}: {first}"[:300]


def _database(context: AppContext) -> Check:
    head = _script_head(context.settings.resolved_database_url)
    with context.engine.connect() as connection:
        connection.execute(text("SELECT 1"))
        # Alembic's own table, read directly: its MigrationContext would log two lines per probe.
        if inspect(connection).has_table("alembic_version"):
            current = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
        else:
            current = None
    if current != head:
        state = "empty" if current is None else f"at revision {current}"
        return Check(False, f"the database is {state}; this version needs {head} (run `python -m app migrate`)")
    return Check(True, f"reachable, at revision {head}")


@functools.lru_cache(maxsize=4)
def _script_head(database_url: str) -> str | None:
    from alembic.script import ScriptDirectory

    from app.migrations import alembic_config

    return ScriptDirectory.from_config(alembic_config(database_url)).get_current_head()


def _broker(context: AppContext) -> Check:
    import redis

    client = redis.Redis.from_url(context.queue.url, socket_connect_timeout=BROKER_TIMEOUT_SECONDS,
                                  socket_timeout=BROKER_TIMEOUT_SECONDS)
    try:
        client.ping()
    finally:
        client.close()
    return Check(True, "Redis answers")


def _storage(context: AppContext) -> Check:
    key = f"readyz/{secrets.token_hex(8)}"
    context.storage.put(key, PROBE_BYTES, "application/octet-stream")
    try:
        back = context.storage.get(key)
    finally:
        context.storage.delete(key)
    if back != PROBE_BYTES:
        return Check(False, "an object written came back different")
    return Check(True, "put, get and delete work")


def _workers(context: AppContext) -> Check:
    stale = context.settings.worker_heartbeat_stale_seconds
    now = utcnow()
    with context.read_transaction() as db:
        newest = db.execute(select(func.max(WorkerHeartbeat.last_seen))).scalar()
        fresh = db.execute(select(func.count()).select_from(WorkerHeartbeat)
                           .where(WorkerHeartbeat.last_seen >= now - timedelta(seconds=stale))).scalar() or 0
    if newest is None:
        return Check(False, "no worker has ever recorded a heartbeat: start `python -m app worker`")
    age = (now - _aware(newest)).total_seconds()
    if fresh == 0:
        return Check(False, f"no worker seen for {age:.0f}s (more than {stale:.0f}s): are the workers running?")
    return Check(True, f"{fresh} worker(s) alive; the newest heartbeat is {age:.0f}s old")


def _aware(moment: datetime) -> datetime:
    from datetime import UTC

    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


# --- the worker's heartbeat -------------------------------------------------------------------------------


def new_worker_id() -> str:
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{secrets.token_hex(4)}"


def record_heartbeat(context: AppContext, worker_id: str) -> None:
    """Say that worker `worker_id` (this process) is alive now; the first beat also forgets long-dead workers."""
    now = utcnow()
    with context.transaction() as db:
        seen = db.execute(update(WorkerHeartbeat).where(WorkerHeartbeat.worker_id == worker_id)
                          .values(last_seen=now)).rowcount  # type: ignore[attr-defined]
        if seen == 0:
            db.execute(delete(WorkerHeartbeat).where(WorkerHeartbeat.last_seen < now - FORGET_WORKERS_AFTER))
            db.add(WorkerHeartbeat(worker_id=worker_id, host=socket.gethostname()[:255], pid=os.getpid(),
                                   started_at=now, last_seen=now))


def forget_heartbeat(context: AppContext, worker_id: str) -> None:
    """A worker that stops cleanly takes its heartbeat with it."""
    with context.transaction() as db:
        db.execute(delete(WorkerHeartbeat).where(WorkerHeartbeat.worker_id == worker_id))


# --- the queue, for /metrics ------------------------------------------------------------------------------


def queue_backlog(context: AppContext) -> tuple[int, int, float]:
    """(edits queued, edits running, seconds the oldest queued edit has waited) from the database."""
    with context.read_transaction() as db:
        rows = {status: count for status, count in db.execute(
            select(Edit.status, func.count()).where(Edit.status.in_(("queued", "running"))).group_by(Edit.status))}
        oldest = db.execute(select(func.min(func.coalesce(Edit.enqueued_at, Edit.created_at)))
                            .where(Edit.status == "queued")).scalar()
    age = max(0.0, (utcnow() - _aware(oldest)).total_seconds()) if oldest is not None else 0.0
    return int(rows.get("queued", 0)), int(rows.get("running", 0)), age
