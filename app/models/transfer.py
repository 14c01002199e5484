from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, UTCDateTime, utcnow


class Transfer(Base):
    """One immutable movement of credits. `id` is also the idempotency key (`signup:{user}`,
    `edit:{id}:reserve`, `stripe:{payment_intent}` …): a movement that was already recorded is never
    recorded again. `post` and `void` name the pending `reserve` they settle in `pending_id`, which is
    unique, so a reservation is settled exactly once."""

    __tablename__ = "transfers"
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        Index("ix_transfers_account_seq", "account_id", "seq"),
    )

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(200), unique=True)
    account_id: Mapped[str] = mapped_column(String(32), ForeignKey("accounts.user_id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(20))
    amount: Mapped[int] = mapped_column(Integer)
    pending_id: Mapped[str | None] = mapped_column(String(200), unique=True)
    edit_id: Mapped[str | None] = mapped_column(String(32), index=True)
    reason: Mapped[str] = mapped_column(String(500), default="")
    balance_after: Mapped[int] = mapped_column(Integer)
    """Available credits right after this transfer, for the person's ledger history."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
