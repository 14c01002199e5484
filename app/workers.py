"""The working side of a process: queue consumers and the periodic sweeps, started and stopped together."""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING

from app import readiness
from app.editor.sweeper import sweep

if TYPE_CHECKING:
    from app.context import AppContext

log = logging.getLogger(__name__)


class Workers:
    def __init__(self, context: AppContext, threads: int) -> None:
        self.context = context
        self.threads = threads
        self.sweeper = Sweeper(context)
        self.heartbeat = Heartbeat(context)
        self.running = False

    def start(self) -> None:
        """Recover what a previous run left, then consume the queue. With the in-process queue this process
        is the only worker, so edits left running or queued by a stopped server are taken up at once."""
        sole_worker = self.context.queue.in_process
        sweep(self.context, all_running_are_orphans=sole_worker, resend_all_queued=sole_worker)
        self.context.queue.start_workers(self.threads, poll_seconds=self.context.settings.worker_poll_seconds)
        self.sweeper.start()
        self.heartbeat.start()
        self.running = True

    def stop(self) -> None:
        if not self.running:
            return
        self.sweeper.stop()
        self.context.queue.stop()
        self.heartbeat.stop()
        self.running = False


class Sweeper:
    """Runs every registered sweep (`AppContext.sweeps`: edits, billing) every SWEEP_INTERVAL_SECONDS on a
    daemon thread."""

    def __init__(self, context: AppContext) -> None:
        self.context = context
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="sweeper", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)

    def _loop(self) -> None:
        while not self._stop.wait(self.context.settings.sweep_interval_seconds):
            for each in self.context.sweeps:
                try:
                    each()
                except Exception:
                    log.exception("sweep failed")


class Heartbeat:
    """Records in the database, every WORKER_HEARTBEAT_SECONDS, that this process's workers are alive, so
    /readyz can tell a shared queue that nobody consumes (app.readiness)."""

    def __init__(self, context: AppContext) -> None:
        self.context = context
        self.worker_id = readiness.new_worker_id()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="heartbeat", daemon=True)

    def start(self) -> None:
        self._beat()
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)
        try:
            readiness.forget_heartbeat(self.context, self.worker_id)
        except Exception:
            log.warning("could not remove the heartbeat of %s", self.worker_id, exc_info=True)

    def _loop(self) -> None:
        while not self._stop.wait(self.context.settings.worker_heartbeat_seconds):
            self._beat()

    def _beat(self) -> None:
        try:
            readiness.record_heartbeat(self.context, self.worker_id)
        except Exception:  # the database is away for a moment: the next beat tries again
            log.warning("could not record the worker heartbeat", exc_info=True)
