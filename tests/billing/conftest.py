"""Billing fixtures: Stripe keys pointing the SDK at a local Checkout stand-in, a sender of signed events to the
running app (which waits for the worker to handle them), and a builder for purchases made through the real
checkout service."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import select

from app.billing import ledger
from app.billing.checkout import start_checkout
from app.context import AppContext
from app.models import StripeEvent, TopUp
from tests.billing import stripe_events as se
from tests.billing.fake_stripe import FakeStripe, start

SECRET_KEY = "sk_test_imagedit"
WEBHOOK_SECRET = "whsec_test_imagedit"
WEBHOOK = "/api/v1/billing/stripe/webhook"


@pytest.fixture(scope="session")
def fake_stripe_server() -> Iterator[FakeStripe]:
    fake = FakeStripe()
    server = start(fake)
    yield fake
    server.shutdown()


@pytest.fixture
def fake_stripe(fake_stripe_server: FakeStripe) -> FakeStripe:
    fake_stripe_server.reset()
    return fake_stripe_server


@pytest.fixture
def settings_overrides(fake_stripe: FakeStripe) -> dict[str, Any]:
    return {"stripe_secret_key": SECRET_KEY, "stripe_webhook_secret": WEBHOOK_SECRET,
            "stripe_api_base": fake_stripe.url, "public_url": "http://testserver"}


def wait_until(check: Callable[[], Any], *, timeout: float = 15, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def handled(context: AppContext, event_id: str) -> StripeEvent | None:
    with context.transaction() as db:
        row = db.get(StripeEvent, event_id)
        return row if row is not None and row.handled_at is not None else None


def stored_events(context: AppContext) -> list[StripeEvent]:
    with context.transaction() as db:
        return list(db.execute(select(StripeEvent)).scalars())


def balance(context: AppContext, user_id: str) -> ledger.Balance:
    with context.transaction() as db:
        return ledger.balance(db, user_id)


class Webhooks:
    """Posts events to the running app the way Stripe does, and waits for a worker to handle them."""

    def __init__(self, http: Any, context: AppContext) -> None:
        self.http = http
        self.context = context

    def post(self, evt: dict[str, Any], *, secret: str = WEBHOOK_SECRET, timestamp: int | None = None,
             body: str | None = None, signature: str | None = None) -> Any:
        body = body if body is not None else se.body_of(evt)
        header = signature if signature is not None else se.sign(body, secret, timestamp)
        return self.http.post(WEBHOOK, content=body.encode(),
                              headers={"Stripe-Signature": header, "Content-Type": "application/json"})

    def deliver(self, evt: dict[str, Any]) -> str:
        """Post, expect 2xx, wait until handled; returns the handler's outcome."""
        response = self.post(evt)
        assert response.status_code == 200, response.text
        row = wait_until(lambda: handled(self.context, evt["id"]), what=f"{evt['type']} to be handled")
        return row.outcome or ""


@pytest.fixture
def webhooks(client: Any, context: AppContext) -> Webhooks:
    return Webhooks(client, context)


@dataclass
class Purchase:
    """A pack bought through the real checkout service (against the Checkout stand-in)."""

    user_id: str
    topup_id: str
    session_id: str
    amount: int
    credits: int
    payment_intent: str
    charge: str

    def completed(self, **kwargs: Any) -> dict[str, Any]:
        return se.event("checkout.session.completed", se.checkout_session(
            self.topup_id, self.session_id, amount=self.amount, payment_intent=self.payment_intent, **kwargs))

    def intent_succeeded(self, **kwargs: Any) -> dict[str, Any]:
        return se.event("payment_intent.succeeded", se.payment_intent(
            self.payment_intent, amount=self.amount, topup_id=self.topup_id, charge_id=self.charge, **kwargs))

    def refunded(self, amount_refunded: int) -> dict[str, Any]:
        return se.event("charge.refunded", se.charge(self.charge, payment_intent=self.payment_intent,
                                                     amount=self.amount, amount_refunded=amount_refunded))

    def refund(self, refund_id: str, amount: int, *, kind: str = "refund.created",
               status: str = "succeeded") -> dict[str, Any]:
        return se.event(kind, se.refund(refund_id, payment_intent=self.payment_intent, charge_id=self.charge,
                                        amount=amount, status=status))

    def dispute(self, status: str, *, kind: str = "charge.dispute.created", amount: int | None = None,
                dispute_id: str = "dp_test_1") -> dict[str, Any]:
        return se.event(kind, se.dispute(dispute_id, payment_intent=self.payment_intent, charge_id=self.charge,
                                         amount=self.amount if amount is None else amount, status=status))


def buy(context: AppContext, user_id: str, pack_id: str = "pack_100", *, save_card: bool = False) -> Purchase:
    started = start_checkout(context, user_id, pack_id, save_card=save_card)
    with context.transaction() as db:
        topup = db.get(TopUp, started.topup_id)
        assert topup is not None and topup.checkout_session_id
        return Purchase(user_id, topup.id, topup.checkout_session_id, topup.amount, topup.credits,
                        se.new_id("pi"), se.new_id("ch"))
