"""What Stripe's events do to balances, posted signed to the running app: two events about one payment credit
once; a refund that arrives before the payment's completion still ends at the right balance; refunds take back
their share (cumulatively, never twice); spent credits become outstanding, which blocks edits until the next
top-up pays it; a dispute holds the account until it is closed (won releases, lost takes back)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.models import StripePayment, TopUp, Transfer
from tests.billing.conftest import balance, buy
from tests.conftest import create_user, image_bytes, login, verify_ledger, wait_for_edit


def transfers(context, user_id):
    with context.transaction() as db:
        rows = db.execute(select(Transfer).where(Transfer.account_id == user_id).order_by(Transfer.seq)).scalars()
        return [(row.kind, row.amount) for row in rows]


def submit(client, headers, *, quality="medium", resolution="1K"):
    return client.post("/api/v1/edits", headers=headers, data={"prompt": "Warmer light", "quality": quality,
                                                               "resolution": resolution},
                       files=[("image", ("coffee.png", image_bytes("coffee.png", size=(64, 48)), "image/png"))])


@pytest.mark.parametrize("order", ["session_first", "intent_first"])
def test_two_events_for_one_payment_credit_once(webhooks, context, order):
    user = create_user(context, credits=10)
    purchase = buy(context, user.id)
    session = purchase.completed(customer="cus_test_1")
    intent = purchase.intent_succeeded(customer="cus_test_1", payment_method="pm_test_1")
    first, second = (session, intent) if order == "session_first" else (intent, session)
    assert webhooks.deliver(first) == "credited 100"
    assert webhooks.deliver(second) == "nothing to change"
    assert balance(context, user.id).available == 110
    assert transfers(context, user.id) == [("grant", 10), ("topup", 100)]
    verify_ledger(context)


def test_a_refund_before_the_completion_still_ends_at_the_right_balance(webhooks, context):
    user = create_user(context, credits=10)
    purchase = buy(context, user.id)
    assert webhooks.deliver(purchase.refunded(amount_refunded=500)) == "recorded: its payment has not been credited yet"
    assert balance(context, user.id).available == 10
    verify_ledger(context)
    assert webhooks.deliver(purchase.completed()) == "credited 100; took back 100"
    assert balance(context, user.id).available == 10
    assert balance(context, user.id).outstanding == 0
    assert transfers(context, user.id) == [("grant", 10), ("topup", 100), ("debit", 100)]
    # The late payment_intent.succeeded changes nothing either.
    assert webhooks.deliver(purchase.intent_succeeded()) == "nothing to change"
    assert balance(context, user.id).available == 10
    verify_ledger(context)


def test_a_partial_refund_before_the_completion_takes_back_its_share(webhooks, context):
    user = create_user(context, credits=0)
    purchase = buy(context, user.id, "pack_250")  # 250 credits for $10
    webhooks.deliver(purchase.refund("re_early", 400))  # $4 of $10 back
    assert webhooks.deliver(purchase.completed()) == "credited 250; took back 100"
    assert balance(context, user.id).available == 150
    verify_ledger(context)


def test_partial_refunds_are_proportional_and_counted_once(webhooks, context):
    user = create_user(context, credits=10)
    purchase = buy(context, user.id)  # 100 credits for $5
    webhooks.deliver(purchase.completed())
    assert balance(context, user.id).available == 110

    assert webhooks.deliver(purchase.refunded(amount_refunded=100)) == "took back 20"  # $1 of $5
    assert balance(context, user.id).available == 90
    # The same cumulative amount in another event (charge.refunded again, the refund's own event): no change.
    assert webhooks.deliver(purchase.refunded(amount_refunded=100)) == "nothing to change"
    assert webhooks.deliver(purchase.refund("re_1", 100)) == "nothing to change"
    assert webhooks.deliver(purchase.refund("re_1", 100, kind="refund.updated")) == "nothing to change"
    assert balance(context, user.id).available == 90
    # A second refund, first as its own event, then in the charge's cumulative total.
    assert webhooks.deliver(purchase.refund("re_2", 150, kind="charge.refund.updated")) == "took back 30"
    assert webhooks.deliver(purchase.refunded(amount_refunded=250)) == "nothing to change"
    assert balance(context, user.id).available == 60
    # A refund that failed no longer counts, but what it took back stays taken.
    assert webhooks.deliver(purchase.refund("re_3", 50, kind="refund.created")) == "took back 10"
    assert webhooks.deliver(purchase.refund("re_3", 50, kind="refund.failed", status="failed")) == "nothing to change"
    assert balance(context, user.id).available == 50
    # The rest of the money back: all 100 credits of the payment are gone, no more.
    assert webhooks.deliver(purchase.refunded(amount_refunded=500)) == "took back 40"
    assert balance(context, user.id).available == 10
    with context.transaction() as db:
        assert db.get(StripePayment, purchase.payment_intent).credits_taken_back == 100
    verify_ledger(context)


def test_spent_credits_become_outstanding_block_edits_and_the_next_topup_pays_them(client, webhooks, context):
    user = create_user(context, credits=0)
    headers = {"X-CSRF-Token": login(client, user.email)}
    purchase = buy(context, user.id)
    webhooks.deliver(purchase.completed())
    edit = submit(client, headers)  # medium 1K: 2 credits
    assert edit.status_code == 202, edit.text
    assert wait_for_edit(client, edit.json()["id"])["status"] == "succeeded"
    assert balance(context, user.id).available == 98

    assert webhooks.deliver(purchase.refunded(amount_refunded=500)) == "took back 98, 2 outstanding"
    now = balance(context, user.id)
    assert (now.available, now.outstanding) == (0, 2)
    verify_ledger(context)
    blocked = submit(client, headers)
    assert blocked.status_code == 402 and blocked.json()["error"]["code"] == "account_on_hold"
    page = client.get("/billing")
    assert "2 credits outstanding" in page.text and 'data-testid="outstanding"' in page.text

    second = buy(context, user.id)
    assert webhooks.deliver(second.completed()) == "credited 100; settled 2 outstanding"
    now = balance(context, user.id)
    assert (now.available, now.outstanding) == (98, 0)
    assert submit(client, headers).status_code == 202
    verify_ledger(context)


def test_a_dispute_holds_the_account_until_it_is_won(client, webhooks, context):
    user = create_user(context, credits=10)
    headers = {"X-CSRF-Token": login(client, user.email)}
    purchase = buy(context, user.id)
    webhooks.deliver(purchase.completed())

    assert webhooks.deliver(purchase.dispute("needs_response")) == "account on hold"
    assert balance(context, user.id).on_hold is True
    blocked = submit(client, headers)
    assert blocked.status_code == 402 and blocked.json()["error"]["code"] == "account_on_hold"
    assert "Your account is on hold" in client.get("/billing").text
    webhooks.deliver(purchase.dispute("under_review", kind="charge.dispute.updated"))
    assert balance(context, user.id).on_hold is True

    assert webhooks.deliver(purchase.dispute("won", kind="charge.dispute.closed")) == "nothing to change"
    now = balance(context, user.id)
    assert (now.on_hold, now.available) == (False, 110)
    assert submit(client, headers).status_code == 202
    verify_ledger(context)


def test_a_lost_dispute_takes_the_credits_back_and_a_late_created_event_does_not_reopen_it(webhooks, context):
    user = create_user(context, credits=10)
    purchase = buy(context, user.id)
    webhooks.deliver(purchase.completed())
    webhooks.deliver(purchase.dispute("needs_response"))
    assert webhooks.deliver(purchase.dispute("lost", kind="charge.dispute.closed")) == "took back 100"
    now = balance(context, user.id)
    assert (now.available, now.on_hold, now.outstanding) == (10, False, 0)
    # Stripe does not promise order: an older "created" arriving after the close changes nothing.
    assert webhooks.deliver(purchase.dispute("needs_response")) == "nothing to change"
    assert balance(context, user.id).on_hold is False
    verify_ledger(context)


def test_a_dispute_closed_before_the_payment_was_credited(webhooks, context):
    user = create_user(context, credits=10)
    purchase = buy(context, user.id)
    webhooks.deliver(purchase.dispute("lost", kind="charge.dispute.closed"))
    assert webhooks.deliver(purchase.completed()) == "credited 100; took back 100"
    assert balance(context, user.id).available == 10
    verify_ledger(context)


def test_an_edit_that_fails_after_a_topup_gives_back_exactly_its_reservation(client, webhooks, context, backend):
    user = create_user(context, credits=0)
    headers = {"X-CSRF-Token": login(client, user.email)}
    webhooks.deliver(buy(context, user.id).completed())
    assert balance(context, user.id).available == 100
    backend.fail_in_edit = "No subject found in this image."
    backend.gate.clear()  # hold the edit while we look at the reservation
    edit = submit(client, headers, quality="high", resolution="2K")  # 8 credits
    assert edit.status_code == 202, edit.text
    assert backend.started.wait(10)
    during = balance(context, user.id)
    assert (during.available, during.reserved) == (92, 8)
    backend.gate.set()
    assert wait_for_edit(client, edit.json()["id"])["status"] == "failed"
    after = balance(context, user.id)
    assert (after.available, after.reserved) == (100, 0)
    assert transfers(context, user.id) == [("topup", 100), ("reserve", 8), ("void", 8)]
    verify_ledger(context)


def test_async_payment_methods_credit_on_async_success_and_expired_checkouts_end(webhooks, context):
    user = create_user(context, credits=10)
    purchase = buy(context, user.id)
    waiting = purchase.completed(payment_status="unpaid")
    assert webhooks.deliver(waiting) == "waiting: the payment is processing"
    assert balance(context, user.id).available == 10
    succeeded = purchase.completed()
    succeeded["type"] = "checkout.session.async_payment_succeeded"
    assert webhooks.deliver(succeeded) == "credited 100"
    assert balance(context, user.id).available == 110

    abandoned = buy(context, user.id)
    expired = abandoned.completed(payment_status="unpaid", status="expired")
    expired["type"] = "checkout.session.expired"
    assert webhooks.deliver(expired) == "top-up expired"
    with context.transaction() as db:
        assert db.get(TopUp, abandoned.topup_id).status == "expired"
    verify_ledger(context)


def test_a_completion_with_another_amount_credits_nothing(webhooks, context):
    user = create_user(context, credits=10)
    purchase = buy(context, user.id)
    evt = purchase.completed()
    evt["data"]["object"]["amount_total"] = 50
    assert webhooks.deliver(evt).startswith("ignored: amount 50")
    assert balance(context, user.id).available == 10
    verify_ledger(context)
