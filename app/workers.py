"""The working side of a process: queue consumers and the periodic sweeps, started and stopped together."""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING

from app.editor.sweeper import sweep

if TYPE_CHECKING:
    from app.context import AppContext

log = logging.getLogger(__name__)


class Workers:
    def __init__(self, context: AppContext, threads: int) -> None:
        self.context = context
        self.threads = threads
        self.sweeper = Sweeper(context)
        self.running = False

    def start(self) -> None:
        """Recover what a previous run left, then consume the queue. With the in-process queue this process
        is the only worker, so edits left running or queued by a stopped server are taken up at once."""
        sole_worker = self.context.queue.in_process
        sweep(self.context, all_running_are_orphans=sole_worker, resend_all_queued=sole_worker)
        self.context.queue.start_workers(self.threads, poll_seconds=self.context.settings.worker_poll_seconds)
        self.sweeper.start()
        self.running = True

    def stop(self) -> None:
        if not self.running:
            return
        self.sweeper.stop()
        self.context.queue.stop()
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
