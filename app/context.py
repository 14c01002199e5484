"""The services one process shares: built once by the web app or a worker, torn down at exit."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from app.backends.base import EditBackend
from app.backends.registry import create_backend
from app.billing.pricing import Pricing, load_pricing
from app.billing.provider_costs import ProviderPrices, load_provider_prices
from app.config import Settings
from app.db import make_engine, make_session_factory, transaction
from app.queue import TaskQueue
from app.storage import Storage, create_storage

log = logging.getLogger(__name__)


@dataclass
class AppContext:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    read_sessions: sessionmaker[Session]
    storage: Storage
    backend: EditBackend
    pricing: Pricing
    provider_prices: ProviderPrices
    """What the image provider charges (PROVIDER_PRICES_FILE): each edit's cost, for operators."""
    queue: TaskQueue = field(init=False)
    # The explicit seams between domains, filled by each domain's `register` in build_context: what runs
    # after an edit's credits are charged (billing's auto-recharge), and what the periodic sweep does.
    after_charge: list[Callable[[str], None]] = field(default_factory=list)
    sweeps: list[Callable[[], object]] = field(default_factory=list)

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Session]:
        with transaction(self.sessions) as session:
            yield session

    @contextlib.contextmanager
    def read_transaction(self) -> Iterator[Session]:
        """A unit of work that only reads: it takes no write lock (SQLite), so it never waits for writers."""
        with transaction(self.read_sessions) as session:
            yield session


def build_context(settings: Settings) -> AppContext:
    """Everything but the workers; `start`/`stop` in app.workers run those."""
    from app.accounts import export as accounts_export
    from app.accounts import tasks as accounts_tasks
    from app.billing import tasks as billing_tasks
    from app.editor import retention
    from app.editor.runner import RUN_EDIT, Runner
    from app.editor.sweeper import sweep as sweep_edits

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.resolved_database_url)
    context = AppContext(
        settings=settings,
        engine=engine,
        sessions=make_session_factory(engine),
        read_sessions=make_session_factory(engine, read_only=True),
        storage=create_storage(settings.resolved_storage_url, s3_endpoint_url=settings.s3_endpoint_url),
        backend=create_backend(settings),
        pricing=load_pricing(settings.pricing_file),
        provider_prices=load_provider_prices(settings.provider_prices_file),
    )
    context.queue = TaskQueue(settings.queue_url, dead_worker_seconds=settings.worker_heartbeat_stale_seconds)
    context.queue.register(RUN_EDIT, Runner(context).run)
    context.sweeps.append(lambda: sweep_edits(context))
    billing_tasks.register(context)  # Stripe events, automatic recharges, billing's sweep
    accounts_tasks.register(context)  # mail delivery
    accounts_export.register(context)  # data exports: built by a worker, expired by the sweep
    context.sweeps.append(lambda: retention.sweep(context))  # RETENTION_DAYS
    return context
