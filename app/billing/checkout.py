"""Buying a pack: a Stripe Checkout Session for one `TopUp`. The top-up is stored first, so its id names the
payment everywhere (client_reference_id, the session's and the payment intent's metadata, the idempotency key);
the credits arrive later with the webhook, never from this request or the success page."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import stripe

from app.billing.gateway import payments_off_message, stripe_client
from app.billing.pricing import Pack
from app.errors import AppError, NotFound, PaymentsDisabled, ValidationFailed
from app.models import BillingProfile, TopUp, User
from app.models.base import utcnow

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from app.config import Settings
    from app.context import AppContext

log = logging.getLogger(__name__)


class PaymentProviderError(AppError):
    code = "payment_provider_error"
    status = 502


@dataclass(frozen=True)
class CheckoutStarted:
    topup_id: str
    url: str
    """Stripe's hosted payment page for this top-up."""


def start_checkout(context: AppContext, user_id: str, pack_id: str | None, *, save_card: bool = False
                   ) -> CheckoutStarted:
    """Create a pending top-up and its Checkout Session, and say where to pay.

    PaymentsDisabled (503) without Stripe keys, ValidationFailed (422) for an unknown pack,
    PaymentProviderError (502) when Stripe refuses or cannot be reached (the top-up is marked failed)."""
    settings = context.settings
    if not settings.payments_enabled:
        raise PaymentsDisabled(payments_off_message())
    pack = context.pricing.pack(pack_id or "")
    if pack is None:
        choices = ", ".join(p.id for p in context.pricing.packs)
        raise ValidationFailed(f"Unknown pack {pack_id!r}; choose one of {choices}.", field="pack_id",
                               code="unknown_pack")
    with context.transaction() as db:
        user = db.get(User, user_id)
        if user is None:
            raise NotFound("No such person.")
        profile = db.get(BillingProfile, user_id)
        topup = TopUp(user_id=user_id, source="checkout", pack_id=pack.id, credits=pack.credits, amount=pack.amount,
                      currency=pack.currency, status="pending", save_card=save_card, attempts=0)
        db.add(topup)
        db.flush()
        params = session_params(settings, topup, pack, email=user.email,
                                customer=profile.customer_id if profile else None)
    try:
        # A fixed key per top-up: the SDK's own retries (and ours) never open a second session.
        session = stripe_client(settings).v1.checkout.sessions.create(
            params,  # type: ignore[arg-type]
            options={"idempotency_key": f"checkout:{topup.id}"})
    except stripe.StripeError as exc:
        log.warning("checkout for top-up %s failed: %s", topup.id, exc)
        with context.transaction() as db:
            failed = db.get(TopUp, topup.id)
            if failed is not None:
                failed.status = "failed"
                failed.failure_message = "Stripe did not open a checkout page."
                failed.updated_at = utcnow()
        raise PaymentProviderError("Stripe could not open a checkout page just now; nothing was charged. "
                                   "Please try again in a minute.") from exc
    if not session.url:
        raise PaymentProviderError("Stripe opened no checkout page; nothing was charged. Please try again.")
    with context.transaction() as db:
        stored = db.get(TopUp, topup.id)
        assert stored is not None
        stored.checkout_session_id = session.id
        stored.updated_at = utcnow()
    return CheckoutStarted(topup_id=topup.id, url=session.url)


def session_params(settings: Settings, topup: TopUp, pack: Pack, *, email: str, customer: str | None) -> dict[str, Any]:
    """The Checkout Session for one top-up, in Stripe's parameters."""
    base = settings.resolved_public_url
    names = {"topup_id": topup.id, "user_id": topup.user_id, "pack_id": pack.id}
    intent: dict[str, Any] = {"metadata": names, "description": f"{pack.credits} credits"}
    params: dict[str, Any] = {
        "mode": "payment",
        "line_items": [{"quantity": 1, "price_data": {
            "currency": pack.currency, "unit_amount": pack.amount,
            "product_data": {"name": f"{pack.credits} credits", "description": "Credits for image edits"}}}],
        "client_reference_id": topup.id,
        "metadata": names,
        "payment_intent_data": intent,
        "success_url": f"{base}/billing/success?topup={topup.id}",
        "cancel_url": f"{base}/billing/cancel?topup={topup.id}",
    }
    if topup.save_card:
        # Keep the card for automatic top-ups charged while the person is away.
        intent["setup_future_usage"] = "off_session"
    if customer:
        params["customer"] = customer
    else:
        params["customer_email"] = email
        if topup.save_card:
            params["customer_creation"] = "always"  # a saved card needs a Customer to belong to
    return params


def get_topup(db: Session, user_id: str, topup_id: str) -> TopUp:
    """One of the person's top-ups; another person's answers 404 like a missing one."""
    topup = db.get(TopUp, topup_id)
    if topup is None or topup.user_id != user_id:
        raise NotFound("No such top-up.")
    return topup
