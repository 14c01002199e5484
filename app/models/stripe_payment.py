from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, UTCDateTime, utcnow


class StripePayment(Base):
    """What Stripe has told us about one payment (PaymentIntent) after it was made: refunds and disputes,
    and how many of its credits the ledger has taken back because of them.

    Kept apart from `TopUp` because a refund or dispute event can arrive before the event that says the
    payment succeeded (Stripe does not promise an order): the facts are recorded here by payment intent
    whenever they arrive, and the ledger catches up with them once the payment's credits are in.
    """

    __tablename__ = "stripe_payments"
    __table_args__ = (
        CheckConstraint("amount_refunded >= 0 AND credits_taken_back >= 0 AND dispute_amount >= 0",
                        name="not_negative"),
    )

    payment_intent_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    charge_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    amount_refunded: Mapped[int] = mapped_column(Integer, default=0)
    """The largest cumulative refunded amount Stripe reported on the charge (cents)."""
    refunds: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    """refund id -> amount, for refunds reported one by one (refund.* events) that have not failed."""
    dispute_id: Mapped[str | None] = mapped_column(String(255))
    dispute_status: Mapped[str | None] = mapped_column(String(32))
    dispute_amount: Mapped[int] = mapped_column(Integer, default=0)
    credits_taken_back: Mapped[int] = mapped_column(Integer, default=0)
    """Credits of this payment the ledger has taken back (debited or recorded as owed), cumulative."""
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    @property
    def refunded(self) -> int:
        """Cents refunded so far, from whichever report knows more."""
        return max(self.amount_refunded, sum(int(amount) for amount in (self.refunds or {}).values()))
