"""Webhook intake, against the running app: only Stripe's signature on the raw body (within the SDK's time
tolerance) gets an event stored; each event is stored once by its id and acted on once, whatever is
redelivered or replayed; unknown types are stored and ignored; an event whose message was lost is re-sent."""

from __future__ import annotations

import time
from datetime import timedelta

from fastapi.testclient import TestClient

from app.billing import webhooks as intake
from app.billing.sweeper import sweep
from app.models import TopUp
from tests.billing import stripe_events as se
from tests.billing.conftest import (
    WEBHOOK_SECRET,
    Webhooks,
    balance,
    buy,
    handled,
    stored_events,
    wait_until,
)
from tests.conftest import create_user, verify_ledger


def test_checkout_completion_credits_once_and_a_redelivery_does_nothing(webhooks, context):
    user = create_user(context, credits=10)
    purchase = buy(context, user.id)
    assert balance(context, user.id).available == 10  # starting checkout grants nothing
    completed = purchase.completed()

    assert webhooks.deliver(completed) == "credited 100"
    assert balance(context, user.id).available == 110
    again = webhooks.post(completed)  # Stripe redelivers when it missed our answer
    assert again.status_code == 200 and again.json() == {"received": True, "duplicate": True}
    time.sleep(0.2)
    assert balance(context, user.id).available == 110
    assert [e.id for e in stored_events(context)] == [completed["id"]]
    with context.transaction() as db:
        topup = db.get(TopUp, purchase.topup_id)
        assert topup.status == "paid" and topup.payment_intent_id == purchase.payment_intent
    verify_ledger(context)


def test_a_bad_signature_answers_400_and_stores_nothing(webhooks, context):
    user = create_user(context, credits=10)
    evt = buy(context, user.id).completed()
    body = se.body_of(evt)
    attempts = {
        "another secret": webhooks.post(evt, secret="whsec_someone_else"),
        "body changed after signing": webhooks.post(evt, body=body.replace('"amount_total": 500', '"amount_total": 5'),
                                                    signature=se.sign(body, WEBHOOK_SECRET)),
        "no v1 signature": webhooks.post(evt, signature=f"t={int(time.time())}"),
        "no header": webhooks.post(evt, signature=""),
        "not JSON, signed": webhooks.post(evt, body="not json"),
    }
    for why, response in attempts.items():
        assert response.status_code == 400, why
        assert response.json()["error"]["code"] == "invalid_signature", why
    assert stored_events(context) == []
    assert balance(context, user.id).available == 10
    verify_ledger(context)


def test_a_stale_timestamp_is_refused_even_with_a_valid_signature(webhooks, context):
    user = create_user(context, credits=10)
    evt = buy(context, user.id).completed()
    stale = webhooks.post(evt, timestamp=int(time.time()) - 301)  # the SDK's tolerance is 300 s
    assert stale.status_code == 400 and "tolerance" in stale.json()["error"]["message"]
    assert stored_events(context) == []
    fresh = webhooks.post(evt, timestamp=int(time.time()) - 60)
    assert fresh.status_code == 200
    wait_until(lambda: handled(context, evt["id"]))
    assert balance(context, user.id).available == 110
    verify_ledger(context)


def test_a_replayed_delivery_changes_nothing(webhooks, context):
    user = create_user(context, credits=10)
    evt = buy(context, user.id).completed()
    body = se.body_of(evt)
    header = se.sign(body, WEBHOOK_SECRET)
    assert webhooks.post(evt, body=body, signature=header).status_code == 200
    wait_until(lambda: handled(context, evt["id"]))
    # The exact same request, captured and sent again (inside and then outside the tolerance).
    replay = webhooks.post(evt, body=body, signature=header)
    assert replay.status_code == 200 and replay.json()["duplicate"] is True
    late = webhooks.post(evt, body=body, signature=se.sign(body, WEBHOOK_SECRET, int(time.time()) - 3600))
    assert late.status_code == 400
    time.sleep(0.2)
    assert balance(context, user.id).available == 110
    assert len(stored_events(context)) == 1
    verify_ledger(context)


def test_unknown_event_types_are_stored_and_ignored(webhooks, context):
    user = create_user(context, credits=10)
    evt = se.event("customer.created", {"id": "cus_test_1", "object": "customer", "email": "x@example.com"})
    assert webhooks.deliver(evt) == "ignored: not a type this app acts on"
    assert [e.type for e in stored_events(context)] == ["customer.created"]
    # A type we act on but about a payment that is not ours is ignored too.
    foreign = se.event("payment_intent.succeeded", se.payment_intent("pi_elsewhere", amount=500, topup_id=None))
    assert webhooks.deliver(foreign) == "ignored: not one of our top-ups"
    assert balance(context, user.id).available == 10
    verify_ledger(context)


def test_an_event_whose_message_was_lost_is_sent_again_by_the_sweeper(app, context):
    user = create_user(context, credits=10)
    evt = buy(context, user.id).completed()
    body = se.body_of(evt)
    # Stored while no worker runs, then the queue loses the message (a crash before the worker took it).
    assert intake.receive(context, body.encode(), se.sign(body, WEBHOOK_SECRET)) is True
    context.queue.broker.flush_all()
    with TestClient(app) as client:
        time.sleep(0.3)
        assert handled(context, evt["id"]) is None
        assert sweep(context, stale_event=timedelta(hours=1)) == 0  # not stale yet: leave it
        assert sweep(context, stale_event=timedelta(0)) == 1
        wait_until(lambda: handled(context, evt["id"]), what="the re-sent event")
        assert balance(context, user.id).available == 110
        assert sweep(context, stale_event=timedelta(0)) == 0  # handled events are never sent again
        # A delivery of the same event now is a duplicate.
        assert Webhooks(client, context).post(evt).json()["duplicate"] is True
    assert balance(context, user.id).available == 110
    verify_ledger(context)


def test_without_a_webhook_secret_nothing_is_stored(client, context, settings):
    settings.stripe_webhook_secret = None
    evt = se.event("customer.created", {"id": "cus_1", "object": "customer"})
    response = Webhooks(client, context).post(evt)
    assert response.status_code == 503 and response.json()["error"]["code"] == "payments_disabled"
    assert stored_events(context) == []
