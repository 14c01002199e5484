from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, UTCDateTime, new_id, utcnow


class TopUp(Base):
    """One purchase of a credit pack: a Checkout top-up a person started, or an automatic recharge.

    Its credits arrive only when Stripe tells us (a signed webhook) that the payment succeeded; the ledger
    transfer id derives from the payment (`stripe:{payment_intent}`), so every event about the same payment
    credits once. `recharge_slot` holds the person's id while an automatic recharge is in flight and is
    unique, so the database itself keeps it to one recharge in flight per account, whatever the number of
    workers.
    """

    __tablename__ = "topups"
    __table_args__ = (
        CheckConstraint("credits > 0 AND amount > 0", name="positive"),
        Index("ix_topups_user_created", "user_id", "created_at"),
        Index("ix_topups_source_status", "source", "status"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(String(32), ForeignKey("users.id", ondelete="CASCADE"))
    source: Mapped[str] = mapped_column(String(16))
    """"checkout" (a person bought a pack) or "auto_recharge" (an off-session charge of a saved card)."""
    pack_id: Mapped[str] = mapped_column(String(40))
    credits: Mapped[int] = mapped_column(Integer)
    amount: Mapped[int] = mapped_column(Integer)
    """Price in the currency's minor unit (cents), as charged."""
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    """pending -> paid | failed | expired."""
    save_card: Mapped[bool] = mapped_column(Boolean, default=False)
    """The person asked to keep the card of this payment for automatic top-ups."""
    checkout_session_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    payment_intent_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    recharge_slot: Mapped[str | None] = mapped_column(String(32), unique=True)
    failure_message: Mapped[str | None] = mapped_column(String(500))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    """Calls to Stripe made for an automatic recharge (a lost answer is retried with the same idempotency key)."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
