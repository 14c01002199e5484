"""Checkout: what the official SDK sends Stripe (read back from the local Checkout stand-in at the HTTP
boundary), that starting a checkout never grants credits, and what a person sees when Stripe refuses."""

from __future__ import annotations

from sqlalchemy import select

from app.models import TopUp
from tests.billing.conftest import SECRET_KEY, balance, buy
from tests.conftest import create_user, login, verify_ledger


def test_the_api_opens_a_checkout_session_for_the_pack(client, context, fake_stripe):
    user = create_user(context, credits=10)
    csrf = login(client, user.email)
    response = client.post("/api/v1/billing/checkout", json={"pack_id": "pack_250"}, headers={"X-CSRF-Token": csrf})
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["url"].startswith("https://checkout.stripe.com/c/pay/cs_test_")
    topup_id = answer["topup_id"]

    [sent] = fake_stripe.sessions_created()
    form = sent.form
    assert sent.headers["authorization"] == f"Bearer {SECRET_KEY}"
    assert sent.headers["idempotency-key"] == f"checkout:{topup_id}"
    assert form["mode"] == "payment"
    assert form["line_items[0][quantity]"] == "1"
    assert form["line_items[0][price_data][unit_amount]"] == "1000"
    assert form["line_items[0][price_data][currency]"] == "usd"
    assert form["line_items[0][price_data][product_data][name]"] == "250 credits"
    assert form["client_reference_id"] == topup_id
    assert form["metadata[topup_id]"] == topup_id and form["metadata[user_id]"] == user.id
    assert form["payment_intent_data[metadata][topup_id]"] == topup_id  # names the top-up on the payment too
    assert form["success_url"] == f"http://testserver/billing/success?topup={topup_id}"
    assert form["cancel_url"] == f"http://testserver/billing/cancel?topup={topup_id}"
    assert form["customer_email"] == user.email
    assert "payment_intent_data[setup_future_usage]" not in form and "customer_creation" not in form

    with context.transaction() as db:
        topup = db.get(TopUp, topup_id)
        assert (topup.status, topup.credits, topup.amount, topup.pack_id) == ("pending", 250, 1000, "pack_250")
        assert topup.checkout_session_id == answer["url"].rsplit("/", 1)[-1]
    assert balance(context, user.id).available == 10  # nothing until Stripe confirms the payment
    progress = client.get(f"/api/v1/billing/topups/{topup_id}").json()
    assert (progress["status"], progress["credited"], progress["balance"]) == ("pending", False, 10)
    verify_ledger(context)


def test_a_retried_request_keeps_its_idempotency_key(context, fake_stripe):
    user = create_user(context, credits=0)
    # Stripe answers 503 once and says to retry: the SDK sends the same request again, with the same key.
    fake_stripe.fail_next.append((503, {"error": {"type": "api_error", "message": "Try again"}},
                                  {"Stripe-Should-Retry": "true"}))
    purchase = buy(context, user.id)
    sent = fake_stripe.sessions_created()
    assert len(sent) == 2
    assert {r.headers["idempotency-key"] for r in sent} == {f"checkout:{purchase.topup_id}"}
    assert sent[0].form == sent[1].form


def test_the_buy_form_saves_the_card_for_automatic_topups_when_asked(client, context, fake_stripe):
    user = create_user(context, credits=10)
    login(client, user.email)
    token = client.cookies["csrftoken"]
    response = client.post("/billing/checkout", data={"pack_id": "pack_100", "save_card": "1", "csrf_token": token},
                           follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"].startswith("https://checkout.stripe.com/c/pay/cs_test_")
    form = fake_stripe.sessions_created()[-1].form
    assert form["payment_intent_data[setup_future_usage]"] == "off_session"
    assert form["customer_creation"] == "always"
    assert form["line_items[0][price_data][unit_amount]"] == "500"

    no_token = client.post("/billing/checkout", data={"pack_id": "pack_100"}, follow_redirects=False)
    assert no_token.status_code == 403
    assert len(fake_stripe.sessions_created()) == 1


def test_a_known_customer_is_reused(webhooks, context, fake_stripe):
    user = create_user(context, credits=10)
    first = buy(context, user.id, save_card=True)
    webhooks.deliver(first.intent_succeeded(customer="cus_known", payment_method="pm_card"))
    buy(context, user.id)
    form = fake_stripe.sessions_created()[-1].form
    assert form["customer"] == "cus_known"
    assert "customer_email" not in form and "customer_creation" not in form


def test_an_unknown_pack_is_refused_before_stripe_is_asked(client, context, fake_stripe):
    user = create_user(context, credits=10)
    csrf = login(client, user.email)
    response = client.post("/api/v1/billing/checkout", json={"pack_id": "pack_1000000"}, headers={"X-CSRF-Token": csrf})
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "pack_id" and "pack_100" in response.json()["error"]["message"]
    assert fake_stripe.requests == []
    assert client.post("/api/v1/billing/checkout", json={"pack_id": "pack_100"}).status_code == 403  # no CSRF header


def test_when_stripe_refuses_nothing_is_charged_and_the_person_is_told(client, context, fake_stripe):
    user = create_user(context, credits=10)
    csrf = login(client, user.email)
    refusal = (400, {"error": {"type": "invalid_request_error", "message": "Invalid currency"}}, {})
    fake_stripe.fail_next.append(refusal)
    response = client.post("/api/v1/billing/checkout", json={"pack_id": "pack_100"}, headers={"X-CSRF-Token": csrf})
    assert response.status_code == 502 and response.json()["error"]["code"] == "payment_provider_error"
    fake_stripe.fail_next.append(refusal)
    page = client.post("/billing/checkout", data={"pack_id": "pack_100", "csrf_token": csrf})
    assert page.status_code == 502 and "Stripe could not open a checkout page" in page.text
    with context.transaction() as db:
        statuses = list(db.execute(select(TopUp.status).where(TopUp.user_id == user.id)).scalars())
    assert statuses == ["failed", "failed"]
    assert balance(context, user.id).available == 10
    verify_ledger(context)


def test_another_persons_topup_is_not_found(client, context):
    owner = create_user(context, credits=10)
    purchase = buy(context, owner.id)
    stranger = create_user(context, credits=10)
    login(client, stranger.email)
    assert client.get(f"/api/v1/billing/topups/{purchase.topup_id}").status_code == 404
    assert client.get(f"/billing/success?topup={purchase.topup_id}").status_code == 404
