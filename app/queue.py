"""Dispatch of edit ids to workers, on dramatiq.

`memory://` keeps messages in this process and runs worker threads here (one machine, nothing to
install). `redis://host:port/db` shares one queue between web processes and `python -m app worker`
processes on any machine. The database lease, not the broker, is the guarantee that every edit ends:
the sweeper re-sends edits whose message was lost.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import dramatiq
from dramatiq.brokers.stub import StubBroker
from dramatiq.middleware import AgeLimit, Callbacks, Pipelines, ShutdownNotifications, TimeLimit

from app.errors import ConfigurationError

log = logging.getLogger(__name__)

QUEUE_NAME = "edits"
# The runner bounds its own work (backend timeouts, leases); dramatiq's limit only catches a hung thread.
TIME_LIMIT_MS = 2 * 60 * 60 * 1000


class EditQueue:
    """Sends edit ids to `handler`, possibly in another process. Redelivery is ours, not dramatiq's."""

    def __init__(self, url: str, handler: Callable[[str], None]) -> None:
        self.url = url
        # No Retries middleware: a failed run is re-queued by the runner with its attempt count.
        middleware = [AgeLimit(), TimeLimit(), ShutdownNotifications(), Callbacks(), Pipelines()]
        if url.startswith("memory://"):
            self.broker: dramatiq.Broker = StubBroker(middleware=middleware)
        elif url.startswith(("redis://", "rediss://")):
            from dramatiq.brokers.redis import RedisBroker

            self.broker = RedisBroker(url=url, middleware=middleware, namespace="imagedit")
        else:
            raise ConfigurationError(f"QUEUE_URL={url!r}: use memory:// or redis://host:6379/0")
        self.broker.emit_after("process_boot")
        self.actor = dramatiq.actor(handler, broker=self.broker, actor_name="run_edit", queue_name=QUEUE_NAME,
                                    time_limit=TIME_LIMIT_MS)
        self._worker: dramatiq.Worker | None = None

    @property
    def in_process(self) -> bool:
        """Whether messages only exist in this process (so this process must run the workers)."""
        return isinstance(self.broker, StubBroker)

    def enqueue(self, edit_id: str, *, delay_seconds: float = 0) -> None:
        options = {"delay": int(delay_seconds * 1000)} if delay_seconds > 0 else {}
        self.actor.send_with_options(args=(edit_id,), **options)

    def start_workers(self, threads: int) -> None:
        if threads <= 0 or self._worker is not None:
            return
        self._worker = dramatiq.Worker(self.broker, worker_threads=threads, worker_timeout=200)
        self._worker.start()
        log.info("edit workers started: %d thread(s) on %s", threads, self.url.split("@")[-1])

    def stop(self, timeout_seconds: float = 30) -> None:
        if self._worker is not None:
            self._worker.stop(timeout=int(timeout_seconds * 1000))
            self._worker = None
        self.broker.close()
