"""RETENTION_DAYS: the periodic sweep removes the inputs and results of edits that finished longer ago than
that, a bounded batch per pass so that one pass never holds the database or storage for long. The edit
stays in history (prompt, settings, cost) with its files marked removed; its ledger entries are untouched."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from sqlalchemy import func, select

from app.db import after_commit
from app.editor import files
from app.models import Edit
from app.models.base import utcnow

if TYPE_CHECKING:
    from app.context import AppContext

BATCH = 100


def sweep(context: AppContext, *, batch: int = BATCH) -> int:
    """Remove the files of up to `batch` edits older than RETENTION_DAYS; how many edits it expired.
    Nothing happens when RETENTION_DAYS is unset."""
    days = context.settings.retention_days
    if days is None:
        return 0
    cutoff = utcnow() - timedelta(days=days)
    with context.transaction() as db:
        edits = list(db.execute(
            select(Edit).where(Edit.status.in_(("succeeded", "failed")), Edit.deleted_at.is_(None),
                               Edit.files_expired_at.is_(None),
                               func.coalesce(Edit.finished_at, Edit.created_at) < cutoff)
            .order_by(Edit.created_at).limit(batch).with_for_update(skip_locked=True)).scalars())
        keys = [key for edit in edits for key in files.stored_keys(edit)]
        now = utcnow()
        for edit in edits:
            edit.files_expired_at = now
        after_commit(db, lambda: files.remove(context.storage, keys))
    return len(edits)
