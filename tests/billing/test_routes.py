"""The billing pages without JavaScript: balance, packs with Buy buttons, receipts and the ledger history; the
success page that never grants credits and shows when the webhook has; the cancel page; the auto-recharge form."""

from __future__ import annotations

import re

from tests.billing.conftest import balance, buy
from tests.conftest import create_user, login, verify_ledger


def test_the_billing_page_shows_balance_packs_receipts_and_history(client, webhooks, context):
    user = create_user(context, credits=10)
    login(client, user.email)
    page = client.get("/billing")
    assert page.status_code == 200
    assert '<b data-testid="available">10</b>' in page.text and '<b data-testid="reserved">0</b>' in page.text
    for pack_id, label in (("pack_100", "Buy 100 credits"), ("pack_250", "Buy 250 credits"),
                           ("pack_700", "Buy 700 credits")):
        assert f'name="pack_id" value="{pack_id}">{label}</button>' in page.text
    assert "$5" in page.text and "$10" in page.text and "$25" in page.text
    assert "No payments yet." in page.text

    purchase = buy(context, user.id)
    webhooks.deliver(purchase.completed())
    page = client.get("/billing")
    receipts = page.text.split('id="receipts"')[1].split("</section>")[0]
    assert purchase.payment_intent in receipts and "$5" in receipts and ">100 credits<" in receipts
    history = page.text.split('id="history"')[1]
    assert "Bought: 100 credits" in history and "+100" in history and "Welcome credits" in history
    assert '<b data-testid="available">110</b>' in page.text

    webhooks.deliver(purchase.refunded(amount_refunded=250))
    receipts = client.get("/billing").text.split('id="receipts"')[1].split("</section>")[0]
    assert "refunded $2.50" in receipts


def test_the_success_page_waits_for_the_webhook_and_never_grants(client, webhooks, context):
    user = create_user(context, credits=10)
    login(client, user.email)
    purchase = buy(context, user.id)
    waiting = client.get(f"/billing/success?topup={purchase.topup_id}")
    assert waiting.status_code == 200
    assert "Your credits are arriving" in waiting.text
    assert f'data-topup-poll="/api/v1/billing/topups/{purchase.topup_id}"' in waiting.text
    assert re.search(r'<div data-state="credited"\s+hidden>', waiting.text)
    assert '<script type="module" src="/static/js/billing.js' in waiting.text
    for _ in range(3):
        client.get(f"/billing/success?topup={purchase.topup_id}")
    assert balance(context, user.id).available == 10  # visiting it grants nothing

    webhooks.deliver(purchase.completed())
    credited = client.get(f"/billing/success?topup={purchase.topup_id}")
    assert "100</span> credits added" in credited.text and "110 credits" in credited.text
    assert "data-topup-poll" not in credited.text
    assert re.search(r'<div data-state="waiting"\s+hidden>', credited.text)
    progress = client.get(f"/api/v1/billing/topups/{purchase.topup_id}").json()
    assert (progress["status"], progress["credited"], progress["balance"]) == ("paid", True, 110)
    verify_ledger(context)


def test_the_cancel_page_says_nothing_was_charged(client, context):
    user = create_user(context, credits=10)
    login(client, user.email)
    purchase = buy(context, user.id)
    page = client.get(f"/billing/cancel?topup={purchase.topup_id}")
    assert page.status_code == 200 and "Nothing was charged" in page.text and "10 credits available" in page.text
    assert client.get("/billing", follow_redirects=False).status_code == 200
    client.cookies.clear()
    assert client.get("/billing", follow_redirects=False).headers["location"] == "/login?next=/billing"


def test_auto_recharge_needs_a_saved_card_and_keeps_its_settings(client, webhooks, context):
    user = create_user(context, credits=10)
    login(client, user.email)
    token = client.cookies["csrftoken"]
    page = client.get("/billing")
    assert "No card saved yet" in page.text and re.search(r'name="enabled" value="1"\s+disabled', page.text)

    refused = client.post("/billing/auto-recharge", data={"enabled": "1", "threshold": "30", "pack_id": "pack_100",
                                                          "csrf_token": token})
    assert refused.status_code == 422 and "Save a card first" in refused.text

    purchase = buy(context, user.id, save_card=True)
    webhooks.deliver(purchase.completed(customer="cus_saved"))
    webhooks.deliver(purchase.intent_succeeded(customer="cus_saved", payment_method="pm_saved"))
    bad = client.post("/billing/auto-recharge", data={"enabled": "1", "threshold": "0", "pack_id": "pack_100",
                                                      "csrf_token": token})
    assert bad.status_code == 422 and "threshold between 1 and" in bad.text
    saved = client.post("/billing/auto-recharge", data={"enabled": "1", "threshold": "30", "pack_id": "pack_250",
                                                        "csrf_token": token}, follow_redirects=False)
    assert saved.status_code == 303 and saved.headers["location"] == "/billing?saved=auto-recharge#auto-recharge"
    page = client.get(saved.headers["location"])
    assert "Your automatic top-up settings are stored." in page.text
    assert '<span class="pill pill-ok" data-testid="recharge-state">On</span>' in page.text
    assert 'value="30"' in page.text and '<option value="pack_250" selected>' in page.text
    assert "Saved card:" in page.text

    off = client.post("/billing/auto-recharge", data={"threshold": "30", "pack_id": "pack_250", "csrf_token": token})
    assert off.status_code == 200 and 'data-testid="recharge-state">Off</span>' in off.text
