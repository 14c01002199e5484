"""What a person sees of their purchases: receipts (paid top-ups, with refunds and disputes) and one top-up's
progress, for the success page that waits for the webhook."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.billing.payments import DISPUTE_CLOSED
from app.models import StripePayment, TopUp


@dataclass(frozen=True)
class Receipt:
    topup: TopUp
    refunded: int
    """Cents refunded so far."""
    dispute: str | None
    """None, "open", "won" or "lost"."""

    @property
    def reference(self) -> str:
        """Stripe's id for the payment, to quote to support or find in the Stripe dashboard."""
        return self.topup.payment_intent_id or self.topup.checkout_session_id or self.topup.id


def receipts(db: Session, user_id: str, *, limit: int = 50) -> Sequence[Receipt]:
    """The person's paid top-ups, newest first."""
    rows = db.execute(
        select(TopUp, StripePayment).outerjoin(
            StripePayment, StripePayment.payment_intent_id == TopUp.payment_intent_id).where(
            TopUp.user_id == user_id, TopUp.status == "paid").order_by(TopUp.paid_at.desc()).limit(limit)
    ).all()
    return [Receipt(topup, payment.refunded if payment else 0, _dispute(payment)) for topup, payment in rows]


def _dispute(payment: StripePayment | None) -> str | None:
    if payment is None or payment.dispute_status is None:
        return None
    if payment.dispute_status in ("won", "lost"):
        return payment.dispute_status
    return "closed" if payment.dispute_status in DISPUTE_CLOSED else "open"
