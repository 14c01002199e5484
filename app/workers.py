"""The working side of a process: queue consumers and the sweeper, started and stopped together."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from app.editor.sweeper import Sweeper, sweep

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
