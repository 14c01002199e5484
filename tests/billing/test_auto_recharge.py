"""Automatic top-ups end to end against localstripe (a stateful fake Stripe started here on a free port, with
STRIPE_API_BASE pointing the official SDK at it): a person saves a card during a Checkout top-up, turns
auto-recharge on, an edit drops the balance below the threshold, the app charges the saved card off-session,
and the signed `payment_intent.succeeded` that localstripe itself delivers to the running app credits the
account exactly once. localstripe has no Checkout, so that one step runs against the Checkout stand-in."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import stripe
from sqlalchemy import select

from app.billing import auto_recharge
from app.models import BillingProfile, StripeEvent, TopUp
from tests.billing.conftest import SECRET_KEY, WEBHOOK, WEBHOOK_SECRET, Webhooks, balance, buy, wait_until
from tests.conftest import free_port, image_bytes, unavailable, verify_ledger, wait_for_edit

pytestmark = pytest.mark.stripe

DECLINED_CARD = "4000000000000341"  # attaches to a customer, then every charge is declined


@pytest.fixture(scope="module")
def localstripe(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    try:
        import localstripe as _  # noqa: F401
    except ImportError:
        unavailable("localstripe is not installed (pip install -e '.[dev]')")
    process = subprocess.Popen([sys.executable, "-m", "localstripe", "--from-scratch", "--port", str(port)],
                               cwd=tmp_path_factory.mktemp("localstripe"), stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{url}/v1/customers", auth=(SECRET_KEY, "")).status_code == 200:
                    break
            if process.poll() is not None or time.monotonic() > deadline:
                unavailable("localstripe did not start")
            time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
def settings_overrides(localstripe: str) -> dict[str, Any]:
    return {"stripe_secret_key": SECRET_KEY, "stripe_webhook_secret": WEBHOOK_SECRET,
            "stripe_api_base": localstripe, "public_url": "http://127.0.0.1"}


@pytest.fixture
def stripe_api(localstripe: str) -> stripe.StripeClient:
    """The test's own view of the same localstripe account."""
    return stripe.StripeClient(SECRET_KEY, base_addresses={"api": localstripe})


@pytest.fixture
def app_url(live_server: Any, localstripe: str) -> str:
    """The running app, with localstripe's webhook endpoint pointing at it."""
    registered = httpx.post(f"{localstripe}/_config/webhooks/app", data={
        "url": f"{live_server.url}{WEBHOOK}", "secret": WEBHOOK_SECRET,
        "events[0]": "payment_intent.succeeded", "events[1]": "payment_intent.payment_failed"})
    assert registered.status_code == 200, registered.text
    return live_server.url


def customer_with_card(stripe_api: stripe.StripeClient, email: str, number: str) -> tuple[str, str]:
    customer = stripe_api.v1.customers.create({"email": email})
    card = stripe_api.v1.payment_methods.create({"type": "card", "card": {
        "number": number, "exp_month": 12, "exp_year": 2034, "cvc": "123"}})
    stripe_api.v1.payment_methods.attach(card.id, {"customer": customer.id})
    return customer.id, card.id


def save_card_with_a_checkout_topup(context: Any, webhooks: Webhooks, fake_stripe: Any, user_id: str,
                                    customer: str, card: str) -> None:
    """What Stripe reports after a Checkout top-up with setup_future_usage=off_session: the session names the
    new Customer, its PaymentIntent the saved card. Checkout itself runs on the stand-in (localstripe has none)."""
    settings = context.settings
    settings.stripe_api_base, localstripe_url = fake_stripe.url, settings.stripe_api_base
    try:
        purchase = buy(context, user_id, save_card=True)
    finally:
        settings.stripe_api_base = localstripe_url
    assert fake_stripe.sessions_created()[-1].form["payment_intent_data[setup_future_usage]"] == "off_session"
    webhooks.deliver(purchase.completed(customer=customer))
    webhooks.deliver(purchase.intent_succeeded(customer=customer, payment_method=card))


def signed_in(app_url: str, email: str) -> httpx.Client:
    http = httpx.Client(base_url=app_url, timeout=30, follow_redirects=True)
    assert http.post("/api/v1/auth/login", json={"email": email, "password": "correct horse"}).status_code == 200
    return http


def turn_on(http: httpx.Client, threshold: int, pack_id: str = "pack_100") -> None:
    saved = http.post("/billing/auto-recharge", data={"enabled": "1", "threshold": str(threshold),
                                                      "pack_id": pack_id, "csrf_token": http.cookies["csrftoken"]})
    assert saved.status_code == 200 and 'data-testid="recharge-state">On' in saved.text, saved.text[-2000:]


def run_edit(http: httpx.Client) -> None:
    submitted = http.post("/api/v1/edits", headers={"X-CSRF-Token": http.cookies["csrftoken"]},
                          data={"prompt": "Warmer light", "quality": "medium", "resolution": "1K"},
                          files=[("image", ("c.png", image_bytes("coffee.png", size=(64, 48)), "image/png"))])
    assert submitted.status_code == 202, submitted.text
    assert wait_for_edit(http, submitted.json()["id"])["status"] == "succeeded"


def recharges(context: Any, user_id: str) -> list[TopUp]:
    with context.transaction() as db:
        return list(db.execute(select(TopUp).where(TopUp.user_id == user_id, TopUp.source == "auto_recharge")
                               ).scalars())


def test_an_edit_below_the_threshold_recharges_once_through_localstripe(app_url, context, stripe_api, fake_stripe):
    from tests.conftest import create_user

    user = create_user(context, credits=10)
    http = signed_in(app_url, user.email)
    webhooks = Webhooks(http, context)
    customer, card = customer_with_card(stripe_api, user.email, "4242424242424242")
    save_card_with_a_checkout_topup(context, webhooks, fake_stripe, user.id, customer, card)
    assert balance(context, user.id).available == 110
    turn_on(http, threshold=110)

    run_edit(http)  # 2 credits: 108 left, below 110
    wait_until(lambda: balance(context, user.id).available == 208, timeout=30, what="the automatic top-up")
    time.sleep(1.5)  # nothing more arrives: credited once
    assert balance(context, user.id).available == 208

    [recharge] = recharges(context, user.id)
    assert (recharge.status, recharge.credits, recharge.amount, recharge.recharge_slot) == ("paid", 100, 500, None)
    intent = stripe_api.v1.payment_intents.retrieve(recharge.payment_intent_id)
    assert (intent.status, intent.amount, intent.customer, intent.payment_method) == ("succeeded", 500, customer, card)
    assert intent.metadata["topup_id"] == recharge.id
    with context.transaction() as db:
        about_it = [(e.type, e.outcome) for e in db.execute(select(StripeEvent)).scalars()
                    if recharge.payment_intent_id in e.payload]
    assert about_it == [("payment_intent.succeeded", "credited 100")]  # localstripe's own signed delivery
    page = http.get("/billing").text
    assert "automatic</span>" in page and recharge.payment_intent_id in page
    verify_ledger(context)


def test_at_most_one_recharge_is_in_flight_per_account(app_url, context, stripe_api, fake_stripe):
    from tests.conftest import create_user

    user = create_user(context, credits=10)
    http = signed_in(app_url, user.email)
    customer, card = customer_with_card(stripe_api, user.email, "4242424242424242")
    save_card_with_a_checkout_topup(context, Webhooks(http, context), fake_stripe, user.id, customer, card)
    turn_on(http, threshold=500)  # 110 available: a recharge is due right away

    start = threading.Barrier(6)

    def race() -> None:
        start.wait()
        auto_recharge.run(context, user.id)

    threads = [threading.Thread(target=race) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    wait_until(lambda: balance(context, user.id).available == 210, timeout=30, what="the automatic top-up")
    time.sleep(1.5)
    assert balance(context, user.id).available == 210
    assert len(recharges(context, user.id)) == 1
    verify_ledger(context)


def test_a_declined_card_turns_auto_recharge_off_and_says_why(app_url, context, stripe_api, fake_stripe):
    from tests.conftest import create_user

    user = create_user(context, credits=10)
    http = signed_in(app_url, user.email)
    customer, card = customer_with_card(stripe_api, user.email, DECLINED_CARD)
    save_card_with_a_checkout_topup(context, Webhooks(http, context), fake_stripe, user.id, customer, card)
    turn_on(http, threshold=110)

    run_edit(http)
    wait_until(lambda: recharges(context, user.id) and recharges(context, user.id)[0].status == "failed",
               timeout=30, what="the recharge to fail")
    time.sleep(1.5)  # localstripe's payment_intent.payment_failed arrives too and changes nothing
    [recharge] = recharges(context, user.id)
    assert recharge.failure_message == "Your card was declined." and recharge.recharge_slot is None
    assert balance(context, user.id).available == 108
    with context.transaction() as db:
        profile = db.get(BillingProfile, user.id)
        assert profile.recharge_enabled is False and profile.recharge_failure == "Your card was declined."
    page = http.get("/billing").text
    assert "Automatic top-up turned off" in page and "Your card was declined." in page
    assert 'data-testid="recharge-state">Off' in page
    run_edit(http)  # auto-recharge is off now: no second attempt
    time.sleep(0.5)
    assert len(recharges(context, user.id)) == 1
    verify_ledger(context)


def test_a_recharge_whose_webhook_never_came_is_credited_once_by_the_sweeper(client, context, localstripe,
                                                                             stripe_api, fake_stripe):
    from datetime import timedelta

    from app.billing.sweeper import sweep
    from tests.billing import stripe_events as se
    from tests.conftest import create_user

    # localstripe's webhook goes nowhere this time (the endpoint was down, say).
    httpx.post(f"{localstripe}/_config/webhooks/app", data={
        "url": "http://127.0.0.1:9/gone", "secret": WEBHOOK_SECRET, "events[0]": "payment_intent.succeeded"})
    user = create_user(context, credits=10)
    webhooks = Webhooks(client, context)
    customer, card = customer_with_card(stripe_api, user.email, "4242424242424242")
    save_card_with_a_checkout_topup(context, webhooks, fake_stripe, user.id, customer, card)
    with context.transaction() as db:
        auto_recharge.update_settings(db, user.id, enabled=True, threshold=500, pack_id="pack_100",
                                      pack_ids=["pack_100"])
    auto_recharge.run(context, user.id)
    [recharge] = recharges(context, user.id)
    assert recharge.status == "pending" and recharge.payment_intent_id
    time.sleep(1.5)
    assert balance(context, user.id).available == 110  # no webhook, no credits (yet)

    assert sweep(context, stale_recharge=timedelta(hours=1)) == 0
    assert sweep(context, stale_recharge=timedelta(0)) == 1  # asks Stripe about it again
    wait_until(lambda: balance(context, user.id).available == 210, what="the recovered recharge")
    [recharge] = recharges(context, user.id)
    assert (recharge.status, recharge.recharge_slot) == ("paid", None)
    # Stripe's own event, arriving late after all, changes nothing.
    intent = stripe_api.v1.payment_intents.retrieve(recharge.payment_intent_id).to_dict()
    assert webhooks.deliver(se.event("payment_intent.succeeded", intent)) == "nothing to change"
    assert balance(context, user.id).available == 210
    verify_ledger(context)
