"""The operator's list of edits that failed because of the provider or the site (quota, billing, a refused
setting, an outage), with what the provider said (`Edit.error_detail`, never shown to the customer).
Read-only (`python -m app report failures`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import Edit

# The failures only the operator can mend; the customer's own (moderation, a refused instruction) are left
# out unless asked for.
OPERATOR_CODES = ("backend_quota", "backend_misconfigured", "backend_unavailable", "backend_timeout",
                  "rate_limited", "bad_output", "internal_error", "input_missing")


@dataclass(frozen=True)
class Failure:
    edit_id: str
    user_id: str
    finished_at: datetime | None
    code: str
    detail: str


def recent_failures(db: Session, *, days: int, now: datetime, every_code: bool = False,
                    limit: int = 200) -> list[Failure]:
    """Failed edits of the last `days` days, newest first: those the operator must act on, or all."""
    query = (select(Edit.id, Edit.user_id, Edit.finished_at, Edit.error_code, Edit.error_detail,
                    Edit.error_message)
             .where(Edit.status == "failed", Edit.finished_at >= now - timedelta(days=days))
             .order_by(Edit.finished_at.desc()).limit(limit))
    if not every_code:
        query = query.where(Edit.error_code.in_(OPERATOR_CODES))
    return [Failure(row.id, row.user_id, row.finished_at, row.error_code or "-",
                    row.error_detail or row.error_message or "-") for row in db.execute(query)]
