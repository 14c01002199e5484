"""Automatic top-ups: when a charged edit leaves a person's available credits below their threshold, charge
the card they saved during a Checkout top-up for their chosen pack, off-session.

At most one recharge is in flight per account: the claim inserts a `TopUp` whose unique `recharge_slot` is the
person's id, so a second claim fails in the database, whichever process or thread makes it. The charge is a
PaymentIntent created with `confirm=true` and an idempotency key per recharge; its credits arrive with the
`payment_intent.succeeded` webhook like every other payment. A failure turns auto-recharge off and keeps the
reason for the billing page. A recharge whose answer or webhook went missing is picked up by the sweeper.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import stripe
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.billing import ledger, payments
from app.billing.gateway import stripe_client
from app.errors import ValidationFailed
from app.models import BillingProfile, TopUp
from app.models.base import utcnow

if TYPE_CHECKING:
    from app.context import AppContext

log = logging.getLogger(__name__)

RECHARGE = "billing_recharge"
"""Task: user id -> claim and charge a recharge if one is due."""
RECHARGE_RETRY = "billing_recharge_retry"
"""Task: top-up id -> ask Stripe again about a recharge whose outcome we have not heard."""
MAX_ATTEMPTS = 5
MAX_THRESHOLD = 100_000


def update_settings(db: Session, user_id: str, *, enabled: bool, threshold: int | None, pack_id: str | None,
                    pack_ids: list[str]) -> BillingProfile:
    """Save a person's auto-recharge settings. Turning it on needs a saved card, a threshold of at least one
    credit and one of the packs."""
    if threshold is None or not 1 <= threshold <= MAX_THRESHOLD:
        raise ValidationFailed(f"Enter a threshold between 1 and {MAX_THRESHOLD:,} credits.", field="threshold",
                               code="invalid_threshold")
    if pack_id not in pack_ids:
        raise ValidationFailed("Choose one of the packs.", field="pack_id", code="unknown_pack")
    profile = payments.profile_for(db, user_id)
    if enabled and not profile.payment_method_id:
        raise ValidationFailed("Save a card first: buy a pack with “Save my card for automatic top-ups” ticked.",
                               field="enabled", code="no_saved_card")
    profile.recharge_threshold = threshold
    profile.recharge_pack_id = pack_id
    profile.recharge_enabled = enabled
    if enabled:
        profile.recharge_failure = None
        profile.recharge_failed_at = None
    db.flush()
    return profile


def after_charge(context: AppContext, user_id: str) -> None:
    """Called once an edit's credits were posted: queue a recharge if this person's balance is now below their
    threshold. Cheap (one read); the Stripe call happens in the task, off the edit worker. Never raises: the
    edit has succeeded whatever happens here."""
    if not context.settings.payments_enabled:
        return
    try:
        with context.transaction() as db:
            due = _due(db, user_id)
        if due:
            context.queue.send(RECHARGE, user_id)
    except Exception:
        log.exception("could not check auto-recharge for %s", user_id)


def _due(db: Session, user_id: str) -> bool:
    profile = db.get(BillingProfile, user_id)
    if profile is None or not profile.recharge_enabled or not profile.payment_method_id:
        return False
    balance = ledger.balance(db, user_id)
    # An account that owes credits or is disputed is not charged again automatically.
    return balance.available < profile.recharge_threshold and not balance.on_hold and balance.outstanding == 0


def run(context: AppContext, user_id: str) -> None:
    """Task RECHARGE: claim this account's recharge slot if a recharge is due, then charge the card."""
    topup_id = _claim(context, user_id)
    if topup_id is not None:
        charge(context, topup_id)


def _claim(context: AppContext, user_id: str) -> str | None:
    with context.transaction() as db:
        if not _due(db, user_id):
            return None
        profile = db.get(BillingProfile, user_id)
        assert profile is not None
        pack = context.pricing.pack(profile.recharge_pack_id or "")
        if pack is None:
            profile.recharge_enabled = False
            profile.recharge_failure = "The chosen pack is no longer offered; choose another one."
            profile.recharge_failed_at = utcnow()
            return None
        topup = TopUp(user_id=user_id, source="auto_recharge", pack_id=pack.id, credits=pack.credits,
                      amount=pack.amount, currency=pack.currency, status="pending", save_card=False,
                      recharge_slot=user_id, attempts=0)
        try:
            with db.begin_nested():
                db.add(topup)
                db.flush()
        except IntegrityError:
            return None  # a recharge of this account is already in flight
        return topup.id


def charge(context: AppContext, topup_id: str) -> None:
    """Charge the saved card for a claimed recharge (task RECHARGE_RETRY too). The same idempotency key on
    every try means Stripe creates one PaymentIntent, however often we ask."""
    with context.transaction() as db:
        topup = db.execute(select(TopUp).where(TopUp.id == topup_id).with_for_update()).scalar_one_or_none()
        if topup is None or topup.source != "auto_recharge" or topup.status != "pending":
            return
        profile = db.get(BillingProfile, topup.user_id)
        if profile is None or not profile.payment_method_id or not profile.customer_id:
            fail(db, topup, "No saved card.")
            return
        topup.attempts += 1
        topup.updated_at = utcnow()
        if topup.attempts > MAX_ATTEMPTS:
            fail(db, topup, "Stripe did not confirm the automatic top-up.")
            return
        attempt, known_intent = topup.attempts, topup.payment_intent_id
        params = {
            "amount": topup.amount, "currency": topup.currency, "customer": profile.customer_id,
            "payment_method": profile.payment_method_id, "off_session": True, "confirm": True,
            "metadata": {"topup_id": topup.id, "user_id": topup.user_id, "pack_id": topup.pack_id,
                         "purpose": "auto_recharge"},
        }
    client = stripe_client(context.settings)
    try:
        if known_intent:
            intent = client.v1.payment_intents.retrieve(known_intent)
        else:
            intent = client.v1.payment_intents.create(params,  # type: ignore[arg-type]
                                                      options={"idempotency_key": f"recharge:{topup_id}"})
    except stripe.CardError as exc:  # declined, or the bank wants the person present (authentication_required)
        _fail_now(context, topup_id, exc.user_message or str(exc.error.message if exc.error else exc))
        return
    except stripe.InvalidRequestError as exc:  # e.g. the card was removed from the customer
        _fail_now(context, topup_id, f"Stripe refused the charge: {exc.user_message or exc}")
        return
    except stripe.StripeError as exc:
        log.warning("recharge %s attempt %d: Stripe unavailable: %s", topup_id, attempt, exc)
        if attempt >= MAX_ATTEMPTS:
            _fail_now(context, topup_id, "Stripe could not be reached for the automatic top-up.")
        return  # the sweeper asks again, with the same idempotency key
    _record(context, topup_id, intent, recovering=known_intent is not None)


def _record(context: AppContext, topup_id: str, intent: stripe.PaymentIntent, *, recovering: bool) -> None:
    status = intent.status
    with context.transaction() as db:
        if status == "succeeded" and recovering:
            # We asked again because no payment_intent.succeeded webhook came: credit as it would have.
            payment = payments.lock_payment(db, intent.id)
            topup = payments.topup_for(db, intent.id, topup_id)
            if topup is not None:
                payments.payment_succeeded(db, payment, topup, customer=None, payment_method=None)
            return
        topup = db.get(TopUp, topup_id, populate_existing=True)
        if topup is None or topup.status != "pending":
            return
        if topup.payment_intent_id is None:
            topup.payment_intent_id = intent.id
        if status in ("requires_payment_method", "requires_action", "canceled"):
            error = getattr(intent, "last_payment_error", None)
            message = getattr(error, "message", None) if error else None
            fail(db, topup, message or "The bank asked you to confirm this payment yourself; buy a pack instead.")
        db.flush()
        # "succeeded" (first answer) and "processing": the payment_intent.succeeded webhook credits it.


def _fail_now(context: AppContext, topup_id: str, message: str) -> None:
    with context.transaction() as db:
        topup = db.get(TopUp, topup_id, populate_existing=True)
        if topup is not None:
            fail(db, topup, message)


def fail(db: Session, topup: TopUp, message: str) -> str:
    """A recharge failed: end it, turn auto-recharge off and keep the reason to show on the billing page."""
    if topup.status != "pending":
        return f"ignored: the recharge is already {topup.status}"
    topup.status = "failed"
    topup.failure_message = message[:500]
    topup.recharge_slot = None
    topup.updated_at = utcnow()
    profile = payments.profile_for(db, topup.user_id)
    profile.recharge_enabled = False
    profile.recharge_failure = message[:500]
    profile.recharge_failed_at = utcnow()
    db.flush()
    log.info("automatic top-up %s failed: %s", topup.id, message)
    return "recharge failed; auto-recharge turned off"
