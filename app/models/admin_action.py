from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, UTCDateTime, new_id, utcnow


class AdminAction(Base):
    """One thing an operator did to a person's account (app.admin.service): who, what, to whom, why, when.
    Rows are only ever added. The e-mail addresses are copied so that the trail still reads after either
    account is deleted (the ids then become NULL)."""

    __tablename__ = "admin_actions"
    __table_args__ = (Index("ix_admin_actions_target_created", "target_user_id", "created_at"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True, default=new_id)
    """Also the idempotency key of the form that asked for it: a form sent twice acts once."""
    operator_id: Mapped[str | None] = mapped_column(String(32), ForeignKey("users.id", ondelete="SET NULL"))
    operator_email: Mapped[str] = mapped_column(String(320))
    action: Mapped[str] = mapped_column(String(32))
    """grant, take, hold, release, disable or enable."""
    target_user_id: Mapped[str | None] = mapped_column(String(32), ForeignKey("users.id", ondelete="SET NULL"))
    target_email: Mapped[str] = mapped_column(String(320))
    amount: Mapped[int | None] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
