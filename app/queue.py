"""Dispatch of background tasks (run an edit, handle a payment event) to workers, on dramatiq.

`memory://` keeps messages in this process and runs worker threads here (one machine, nothing to
install). `redis://host:port/db` shares one queue between web processes and `python -m app worker`
processes on any machine. The database, not the broker, is the guarantee that work ends: each task
claims its row with a lease or a marker, and sweepers re-send what a lost message left behind.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import dramatiq
from dramatiq.brokers.stub import StubBroker
from dramatiq.middleware import AgeLimit, Callbacks, Pipelines, ShutdownNotifications, TimeLimit

from app.errors import ConfigurationError

log = logging.getLogger(__name__)

QUEUE_NAME = "tasks"
# Tasks bound their own work (backend timeouts, leases); dramatiq's limit only catches a hung thread.
TIME_LIMIT_MS = 2 * 60 * 60 * 1000
# Redis: a worker process takes a few messages ahead of its threads. When it dies, those go back to the queue
# once it has not been heard from for `dead_worker_seconds` (every broker command is a heartbeat; an idle
# worker polls several times a second) and some process runs the broker's maintenance, which each command
# does with this chance in a million: 1%, so within seconds of that deadline on a live queue.
MAINTENANCE_CHANCE = 10_000


class TaskQueue:
    """Named tasks taking string arguments, possibly run in another process. No dramatiq retries: a
    failed task is re-sent by its own code, which knows how many attempts are left."""

    def __init__(self, url: str, *, dead_worker_seconds: float = 60) -> None:
        self.url = url
        middleware = [AgeLimit(), TimeLimit(), ShutdownNotifications(), Callbacks(), Pipelines()]
        if url.startswith("memory://"):
            self.broker: dramatiq.Broker = StubBroker(middleware=middleware)
        elif url.startswith(("redis://", "rediss://")):
            from dramatiq.brokers.redis import RedisBroker

            self.broker = RedisBroker(url=url, middleware=middleware, namespace="imagedit",
                                      heartbeat_timeout=int(dead_worker_seconds * 1000),
                                      maintenance_chance=MAINTENANCE_CHANCE)
        else:
            raise ConfigurationError(f"QUEUE_URL={url!r}: use memory:// or redis://host:6379/0")
        self.broker.emit_after("process_boot")
        self._actors: dict[str, dramatiq.Actor[..., None]] = {}
        self._worker: dramatiq.Worker | None = None

    def register(self, name: str, handler: Callable[..., None]) -> None:
        """Make `handler` runnable as task `name` (in every process that builds the same context)."""
        declare = dramatiq.actor(broker=self.broker, actor_name=name, queue_name=QUEUE_NAME, time_limit=TIME_LIMIT_MS)
        self._actors[name] = declare(handler)

    def send(self, name: str, *args: str, delay_seconds: float = 0) -> None:
        delay = int(delay_seconds * 1000) if delay_seconds > 0 else None
        self._actors[name].send_with_options(args=args, delay=delay)

    @property
    def in_process(self) -> bool:
        """Whether messages only exist in this process (so this process must run the workers)."""
        return isinstance(self.broker, StubBroker)

    def start_workers(self, threads: int, *, poll_seconds: float = 0.2) -> None:
        """Consume in `threads` threads. Idle threads wake every `poll_seconds` (also how long a stop takes)."""
        if threads <= 0 or self._worker is not None:
            return
        self._worker = dramatiq.Worker(self.broker, worker_threads=threads,
                                       worker_timeout=max(1, int(poll_seconds * 1000)))
        self._worker.start()
        log.info("workers started: %d thread(s) on %s", threads, self.url.split("@")[-1])

    def stop(self, timeout_seconds: float = 30) -> None:
        if self._worker is not None:
            self._worker.stop(timeout=int(timeout_seconds * 1000))
            self._worker = None
        self.broker.close()
