"""The operator's list of edits that failed because of the provider or the site (quota, billing, a refused
setting, an outage), with what the provider said (`Edit.error_detail`, never shown to the customer), and
the categories of the provider's moderation refusals. Read-only (`python -m app report failures`, the
operator console)."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.backends.openai import flagged_categories
from app.models import Edit, User

# The failures only the operator can mend; the customer's own (moderation, a refused instruction) are left
# out unless asked for.
OPERATOR_CODES = ("backend_quota", "backend_misconfigured", "backend_unavailable", "backend_timeout",
                  "rate_limited", "bad_output", "internal_error", "input_missing")
MODERATION_CODE = "moderation_blocked"
# The console lists those and the provider's moderation refusals: their categories tell the operator which
# customers the provider holds the site to account for.
CONSOLE_CODES = (*OPERATOR_CODES, MODERATION_CODE)


@dataclass(frozen=True)
class Failure:
    edit_id: str
    user_id: str
    email: str
    finished_at: datetime | None
    code: str
    detail: str

    @property
    def categories(self) -> list[str]:
        """What the provider's safety system flagged, for a moderation refusal."""
        return flagged_categories(self.detail) if self.code == MODERATION_CODE else []


def recent_failures(db: Session, *, days: float, now: datetime, codes: Collection[str] | None = OPERATOR_CODES,
                    limit: int = 200) -> list[Failure]:
    """Failed edits of the last `days` days with these error codes (None: every code), newest first."""
    query = (select(Edit.id, Edit.user_id, User.email, Edit.finished_at, Edit.error_code, Edit.error_detail,
                    Edit.error_message)
             .join(User, User.id == Edit.user_id)
             .where(Edit.status == "failed", Edit.finished_at >= now - timedelta(days=days))
             .order_by(Edit.finished_at.desc()).limit(limit))
    if codes is not None:
        query = query.where(Edit.error_code.in_(codes))
    return [Failure(row.id, row.user_id, row.email, row.finished_at, row.error_code or "-",
                    row.error_detail or row.error_message or "-") for row in db.execute(query)]
