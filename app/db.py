"""Engine, sessions and the one-transaction-per-request-or-task rule.

Services only `flush()`. The request dependency or the runner commits. Work that must only happen once
the commit is durable (telling the queue, deleting files) is registered with `after_commit(session, fn)`;
work that undoes a write outside the database (a file stored before the commit) with
`on_rollback(session, fn)`.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

log = logging.getLogger(__name__)
READ_ONLY = "imagedit_read_only"


def make_engine(url: str) -> Engine:
    """An engine tuned for concurrent writers on SQLite and PostgreSQL alike."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30},
                               pool_size=10, max_overflow=20)

        @event.listens_for(engine, "connect")
        def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
            # Let SQLAlchemy's "begin" event issue BEGIN IMMEDIATE: with a deferred BEGIN, concurrent
            # read-then-write transactions fail with "database is locked" instead of waiting.
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(connection: Any) -> None:
            # Reads take no write lock (WAL gives them a snapshot); everything else does, at once.
            read_only = connection.get_execution_options().get(READ_ONLY, False)
            connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")

        return engine
    return create_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=True)


def make_session_factory(engine: Engine, *, read_only: bool = False) -> sessionmaker[Session]:
    """Sessions for units of work; `read_only` ones must not write (on SQLite they begin deferred, so many
    run at once beside a writer; a write in one would fail with "database is locked")."""
    bind = engine.execution_options(**{READ_ONLY: True}) if read_only else engine
    return sessionmaker(bind, expire_on_commit=False)


def after_commit(session: Session, action: Callable[[], None]) -> None:
    """Run `action` once the session's transaction has committed; drop it on rollback."""
    session.info.setdefault("after_commit", []).append(action)


def on_rollback(session: Session, action: Callable[[], None]) -> None:
    """Run `action` if the session's transaction rolls back (undo a write outside the database)."""
    session.info.setdefault("on_rollback", []).append(action)


def _run(actions: list[Callable[[], None]], when: str) -> None:
    for action in actions:
        try:
            action()
        except Exception:  # the transaction's outcome stands; the sweeper recovers a lost follow-up
            log.exception("%s action failed", when)


@contextlib.contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: commit when the block ends normally, roll back on any exception."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        session.info.pop("after_commit", None)
        _run(session.info.pop("on_rollback", []), "rollback")
        raise
    else:
        session.info.pop("on_rollback", None)
        _run(session.info.pop("after_commit", []), "after-commit")
    finally:
        session.close()
