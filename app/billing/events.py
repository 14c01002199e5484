"""What each Stripe event type means here. Every handler records the facts the event carries (a payment's
success, a refunded amount, a dispute's status) and then lets `payments.reconcile` bring the ledger up to date,
so handling an event twice, late or out of order changes nothing more. Event objects arrive in Stripe's
documented shapes (Checkout Session, PaymentIntent, Charge, Refund, Dispute) as plain dicts."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session

from app.billing import payments
from app.billing.auto_recharge import fail as fail_recharge
from app.models import TopUp
from app.models.base import utcnow

Handler = Callable[[Session, dict[str, Any]], str]


def handle(db: Session, event_type: str, obj: dict[str, Any]) -> str:
    """Apply one event's object; returns what was done (stored as the event's outcome)."""
    handler = HANDLERS.get(event_type)
    if handler is None:
        return "ignored: not a type this app acts on"
    return handler(db, obj)


def _id(value: Any) -> str | None:
    """An id field that may also come expanded into its object."""
    if isinstance(value, dict):
        value = value.get("id")
    return value if isinstance(value, str) and value else None


def _metadata(obj: dict[str, Any]) -> dict[str, Any]:
    return obj.get("metadata") or {}


def _matches(topup: TopUp, amount: Any, currency: Any) -> bool:
    return amount == topup.amount and str(currency or "").lower() == topup.currency.lower()


# --- payments that succeed (or do not) ------------------------------------------------------------------


def checkout_completed(db: Session, session: dict[str, Any]) -> str:
    """checkout.session.completed and checkout.session.async_payment_succeeded: credit when paid."""
    topup_id = session.get("client_reference_id") or _metadata(session).get("topup_id")
    topup = db.get(TopUp, topup_id) if topup_id else None
    if topup is None or topup.source != "checkout":
        return "ignored: not one of our top-ups"
    if topup.checkout_session_id not in (None, session.get("id")):
        return "ignored: another Checkout Session than the top-up's"
    if not _matches(topup, session.get("amount_total"), session.get("currency")):
        return f"ignored: amount {session.get('amount_total')} {session.get('currency')} is not the top-up's"
    payment_intent = _id(session.get("payment_intent"))
    if payment_intent is None:
        return "ignored: no payment intent"
    payment = payments.lock_payment(db, payment_intent)
    topup = payments.topup_for(db, payment_intent, topup.id)
    if topup is None:
        return "ignored: the payment belongs to another top-up"
    topup.checkout_session_id = session.get("id")
    if session.get("payment_status") != "paid":
        # An asynchronous payment method: checkout.session.async_payment_succeeded follows.
        topup.payment_intent_id = payment_intent
        db.flush()
        return "waiting: the payment is processing"
    return payments.payment_succeeded(db, payment, topup, customer=_id(session.get("customer")))


def checkout_failed(db: Session, session: dict[str, Any]) -> str:
    """checkout.session.async_payment_failed and checkout.session.expired: the top-up ends without credits."""
    topup_id = session.get("client_reference_id") or _metadata(session).get("topup_id")
    topup = db.get(TopUp, topup_id) if topup_id else None
    if topup is None or topup.status != "pending":
        return "ignored: no pending top-up"
    expired = session.get("status") == "expired"
    topup.status = "expired" if expired else "failed"
    topup.failure_message = None if expired else "The payment did not go through."
    topup.updated_at = utcnow()
    return f"top-up {topup.status}"


def payment_intent_succeeded(db: Session, intent: dict[str, Any]) -> str:
    """payment_intent.succeeded: credits automatic recharges (and Checkout payments, whose intent carries the
    top-up id too; the transfer id is the same, so whichever event comes first credits and the other finds
    it done)."""
    payment_intent = intent["id"]
    topup = payments.topup_for(db, payment_intent, _metadata(intent).get("topup_id"))
    if topup is None:
        return "ignored: not one of our top-ups"
    received = intent.get("amount_received") or intent.get("amount")
    if not _matches(topup, received, intent.get("currency")):
        return f"ignored: amount {received} {intent.get('currency')} is not the top-up's"
    payment = payments.lock_payment(db, payment_intent)
    if payment.charge_id is None and _id(intent.get("latest_charge")):
        payment.charge_id = _id(intent.get("latest_charge"))
    topup = payments.topup_for(db, payment_intent, topup.id)
    if topup is None:
        return "ignored: the payment belongs to another top-up"
    return payments.payment_succeeded(db, payment, topup, customer=_id(intent.get("customer")),
                                      payment_method=_id(intent.get("payment_method")))


def payment_intent_failed(db: Session, intent: dict[str, Any]) -> str:
    """payment_intent.payment_failed: an automatic recharge that failed turns auto-recharge off. (In Checkout
    the person simply tries another card, so a failed attempt there changes nothing.)"""
    topup = payments.topup_for(db, intent["id"], _metadata(intent).get("topup_id"))
    if topup is None or topup.source != "auto_recharge":
        return "ignored: not an automatic recharge"
    error = intent.get("last_payment_error") or {}
    return fail_recharge(db, topup, error.get("message") or "The card was declined.")


# --- refunds and disputes -------------------------------------------------------------------------------


def _apply(db: Session, payment: Any, topup_id: str | None) -> str:
    """After recording a fact about a payment: act on it if its top-up is known, else keep it for later."""
    topup = payments.topup_for(db, payment.payment_intent_id, topup_id)
    db.flush()
    if topup is None:
        return "recorded: its payment has not been credited yet"
    if topup.payment_intent_id is None:
        topup.payment_intent_id = payment.payment_intent_id
        db.flush()
    return payments.reconcile(db, payment, topup)


def charge_refunded(db: Session, charge: dict[str, Any]) -> str:
    """charge.refunded: `amount_refunded` is the charge's cumulative refunded amount."""
    payment_intent = payments.find_payment(db, _id(charge.get("payment_intent")), charge.get("id"))
    if payment_intent is None:
        return "ignored: a charge of no payment we know"
    payment = payments.lock_payment(db, payment_intent)
    payment.charge_id = payment.charge_id or charge.get("id")
    payment.amount_refunded = max(payment.amount_refunded, int(charge.get("amount_refunded") or 0))
    return _apply(db, payment, _metadata(charge).get("topup_id"))


def refund_changed(db: Session, refund: dict[str, Any]) -> str:
    """refund.created / refund.updated / refund.failed / charge.refund.updated: one refund at a time, kept by
    its id so that hearing about it again does not count it twice. A refund that failed or was canceled no
    longer counts (credits already taken back for it are not returned automatically)."""
    payment_intent = payments.find_payment(db, _id(refund.get("payment_intent")), _id(refund.get("charge")))
    if payment_intent is None:
        return "ignored: a refund of no payment we know"
    payment = payments.lock_payment(db, payment_intent)
    payment.charge_id = payment.charge_id or _id(refund.get("charge"))
    refunds = dict(payment.refunds or {})
    if refund.get("status") in ("failed", "canceled"):
        refunds.pop(refund["id"], None)
    else:
        refunds[refund["id"]] = int(refund.get("amount") or 0)
    payment.refunds = refunds
    return _apply(db, payment, _metadata(refund).get("topup_id"))


def dispute_changed(db: Session, dispute: dict[str, Any]) -> str:
    """charge.dispute.created / updated / closed: hold the account while it is open; when it is closed, won
    releases the hold and lost takes the disputed share of the credits back. A closed dispute stays closed
    even if an older event about it arrives later."""
    payment_intent = payments.find_payment(db, _id(dispute.get("payment_intent")), _id(dispute.get("charge")))
    if payment_intent is None:
        return "ignored: a dispute about no payment we know"
    payment = payments.lock_payment(db, payment_intent)
    payment.charge_id = payment.charge_id or _id(dispute.get("charge"))
    status = dispute.get("status")
    if not (payment.dispute_status in payments.DISPUTE_CLOSED and status not in payments.DISPUTE_CLOSED):
        payment.dispute_id = dispute.get("id")
        payment.dispute_status = status
        payment.dispute_amount = int(dispute.get("amount") or 0)
    return _apply(db, payment, _metadata(dispute).get("topup_id"))


HANDLERS: dict[str, Handler] = {
    "checkout.session.completed": checkout_completed,
    "checkout.session.async_payment_succeeded": checkout_completed,
    "checkout.session.async_payment_failed": checkout_failed,
    "checkout.session.expired": checkout_failed,
    "payment_intent.succeeded": payment_intent_succeeded,
    "payment_intent.payment_failed": payment_intent_failed,
    "charge.refunded": charge_refunded,
    "charge.refund.updated": refund_changed,
    "refund.created": refund_changed,
    "refund.updated": refund_changed,
    "refund.failed": refund_changed,
    "charge.dispute.created": dispute_changed,
    "charge.dispute.updated": dispute_changed,
    "charge.dispute.closed": dispute_changed,
}
"""The event types to enable on the webhook endpoint (README)."""
