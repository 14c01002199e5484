"""Keeps every edit moving toward an end: re-queues edits whose worker died (lease expired) or whose queue
message was lost, and fails edits that used up their attempts, returning their credits."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import TYPE_CHECKING

from sqlalchemy import or_, select, update

from app import observability
from app.billing import ledger
from app.editor.keys import reservation_id
from app.editor.runner import send_run_edit
from app.models import Edit
from app.models.base import utcnow

if TYPE_CHECKING:
    from app.context import AppContext

log = logging.getLogger(__name__)

# A queued edit whose message may have been lost is re-sent after this long; duplicates are harmless
# (the claim is conditional) but would crowd a long queue, so this is generous.
STALE_QUEUED = timedelta(minutes=15)


def sweep(context: AppContext, *, all_running_are_orphans: bool = False, resend_all_queued: bool = False) -> int:
    """One pass. Returns how many edits it moved.

    `all_running_are_orphans`: this process is the only worker there is (in-process queue at start-up),
    so any edit still marked running belongs to a process that is gone. `resend_all_queued`: the queue
    lost its messages (in-process queue at start-up), so every queued edit is sent again.
    """
    settings = context.settings
    now = utcnow()
    moved = 0
    to_send: list[str] = []
    lost: list[tuple[str, str, str, int, float]] = []
    with context.transaction() as db:
        lapsed = select(Edit.id, Edit.attempts, Edit.backend, Edit.quality, Edit.resolution, Edit.credits,
                        Edit.started_at).where(Edit.status == "running")
        if not all_running_are_orphans:
            lapsed = lapsed.where(Edit.lease_until < now)
        for edit_id, attempts, backend, quality, resolution, credits, started_at in db.execute(lapsed).all():
            if attempts >= settings.max_attempts:
                changed = db.execute(update(Edit).where(Edit.id == edit_id, Edit.status == "running").values(
                    status="failed", error_code="worker_lost", finished_at=now, lease_until=None,
                    error_message="The edit stopped responding too many times; your credits were returned.",
                )).rowcount  # type: ignore[attr-defined]
                if changed:
                    ledger.settle(db, pending_id=reservation_id(edit_id), kind="void",
                                  reason="Returned: the edit failed")
                    ran = (now - started_at).total_seconds() if started_at else 0.0
                    lost.append((backend, quality, resolution, credits, ran))
            else:
                changed = db.execute(update(Edit).where(Edit.id == edit_id, Edit.status == "running").values(
                    status="queued", lease_until=None, enqueued_at=now)).rowcount  # type: ignore[attr-defined]
                if changed:
                    to_send.append(edit_id)
            moved += changed
        stale = select(Edit.id).where(Edit.status == "queued")
        if not resend_all_queued:
            stale = stale.where(or_(Edit.enqueued_at.is_(None), Edit.enqueued_at < now - STALE_QUEUED))
        stale_ids = list(db.execute(stale).scalars())
        if stale_ids:
            db.execute(update(Edit).where(Edit.id.in_(stale_ids)).values(enqueued_at=now))
            to_send.extend(stale_ids)
    for backend, quality, resolution, credits, ran in lost:  # counted once the failure is committed
        observability.edit_ended("failed", backend=backend, quality=quality, resolution=resolution,
                                 running_seconds=ran)
        observability.credits_moved("returned", credits)
    for edit_id in to_send:
        send_run_edit(context, edit_id)
    if to_send:
        log.info("sweeper re-sent %d edit(s)", len(to_send))
    return moved + len(stale_ids)
