"""The billing pages in headless Chromium at desktop and phone widths: the credits page with receipts and
history, the notices of an account that owes credits, the success page that updates itself when the webhook
lands (static/js/billing.js), and the cancel page. Screenshots go to test-artifacts/screenshots/."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from app.billing import auto_recharge
from tests.billing.conftest import Webhooks, balance, buy
from tests.browser import screenshot
from tests.conftest import create_user, verify_ledger

pytestmark = pytest.mark.browser

PHONE = (390, 844)


def log_in(page: Any, base: str, email: str, target: str) -> None:
    page.goto(f"{base}/login?next={target}")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", "correct horse")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"**{target}")


def fits_the_width(page: Any) -> bool:
    return bool(page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"))


def wait_for_text(page: Any, selector: str, text: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while text not in page.locator(selector).inner_text():
        if time.monotonic() > deadline:
            raise AssertionError(f"{selector} never showed {text!r}")
        time.sleep(0.1)


def test_the_billing_pages_read_clearly_on_desktop_and_phone(live_server, page_for, context, fake_stripe):
    webhooks = Webhooks(httpx.Client(base_url=live_server.url), context)
    user = create_user(context, email="buyer@example.com", credits=10)
    first = buy(context, user.id, save_card=True)
    webhooks.deliver(first.completed(customer="cus_browser"))
    webhooks.deliver(first.intent_succeeded(customer="cus_browser", payment_method="pm_browser"))
    second = buy(context, user.id, "pack_250")
    webhooks.deliver(second.completed())
    webhooks.deliver(second.refunded(amount_refunded=250))  # a partial refund shows on its receipt

    desktop = page_for(1280, 900)
    log_in(desktop, live_server.url, user.email, "/billing")
    assert desktop.locator("[data-testid=available]").inner_text() == "298"
    assert desktop.get_by_role("button", name="Buy 250 credits").is_visible()
    assert "refunded $2.50" in desktop.locator("#receipts").inner_text()
    assert "Bought: 250 credits" in desktop.locator("#history").inner_text()
    screenshot(desktop, "billing-desktop")

    phone = page_for(*PHONE)
    log_in(phone, live_server.url, user.email, "/billing")
    assert fits_the_width(phone)
    assert phone.get_by_role("button", name="Buy 700 credits").is_visible()
    screenshot(phone, "billing-phone")

    # The success page: waiting until the webhook lands, then it updates itself and the balance pill.
    third = buy(context, user.id)
    phone.goto(f"{live_server.url}/billing/success?topup={third.topup_id}")
    assert phone.locator("[data-state=waiting]").is_visible()
    assert "Your credits are arriving" in phone.locator("h1:visible").inner_text()
    screenshot(phone, "billing-success-waiting-phone", full_page=False)
    time.sleep(1.2)
    assert balance(context, user.id).available == 298  # the page granted nothing while it waited
    webhooks.deliver(third.completed())
    wait_for_text(phone, "[data-state=credited]", "398 credits")
    assert phone.locator("[data-state=credited]").is_visible()
    assert not phone.locator("[data-state=waiting]").is_visible()
    assert phone.locator("[data-balance]").inner_text() == "398 credits"
    assert fits_the_width(phone)
    screenshot(phone, "billing-success-credited-phone", full_page=False)
    desktop.goto(f"{live_server.url}/billing/success?topup={third.topup_id}")
    screenshot(desktop, "billing-success-desktop", full_page=False)

    phone.goto(f"{live_server.url}/billing/cancel?topup={third.topup_id}")
    assert "Nothing was charged" in phone.locator("h1").inner_text()
    screenshot(phone, "billing-cancel-phone", full_page=False)

    # Auto-recharge on through the form; the bank then declines the saved card: the page says so.
    desktop.goto(f"{live_server.url}/billing#auto-recharge")
    desktop.check("input[name=enabled]")
    desktop.fill("input[name=threshold]", "500")
    desktop.select_option("select[name=pack_id]", "pack_250")
    desktop.get_by_role("button", name="Save").click()
    desktop.wait_for_url("**/billing?saved=auto-recharge*")
    assert desktop.locator("[data-testid=recharge-state]").inner_text() == "On"
    fake_stripe.fail_next.append((402, {"error": {"type": "card_error", "code": "card_declined",
                                                  "message": "Your card was declined."}}, {}))
    auto_recharge.run(context, user.id)
    desktop.goto(f"{live_server.url}/billing")
    notice = desktop.locator("[data-testid=recharge-failure]").inner_text()
    assert "Automatic top-up turned off" in notice and "Your card was declined." in notice
    assert desktop.locator("[data-testid=recharge-state]").inner_text() == "Off"
    assert balance(context, user.id).available == 398
    screenshot(desktop, "billing-recharge-failed-desktop", full_page=False)
    verify_ledger(context)


def test_an_account_that_owes_credits_sees_why_on_both_widths(live_server, page_for, context, fake_stripe):
    webhooks = Webhooks(httpx.Client(base_url=live_server.url), context)
    user = create_user(context, email="owes@example.com", credits=0)
    purchase = buy(context, user.id)
    webhooks.deliver(purchase.completed())
    from app.billing import ledger

    with context.transaction() as db:  # spend some of it, as a finished edit would
        ledger.transfer(db, transfer_id="spent:reserve", user_id=user.id, kind="reserve", amount=30, reason="An edit")
        ledger.settle(db, pending_id="spent:reserve", kind="post", reason="Charged for the edit")
    webhooks.deliver(purchase.refunded(amount_refunded=500))
    webhooks.deliver(purchase.dispute("needs_response"))
    assert (balance(context, user.id).outstanding, balance(context, user.id).on_hold) == (30, True)

    for name, size in (("billing-owes-desktop", (1280, 900)), ("billing-owes-phone", PHONE)):
        page = page_for(*size)
        log_in(page, live_server.url, user.email, "/billing")
        assert "Your account is on hold" in page.locator("[data-testid=hold-notice]").inner_text()
        assert "30 credits outstanding" in page.locator("[data-testid=outstanding-notice]").inner_text()
        assert page.locator("[data-testid=outstanding]").inner_text() == "30"
        assert fits_the_width(page)
        screenshot(page, name)

    context.settings.stripe_secret_key = None  # an operator who has not set up Stripe
    page = page_for(*PHONE)
    log_in(page, live_server.url, user.email, "/billing")
    assert "Payments are off on this server." in page.locator("[data-testid=payments-off]").inner_text()
    assert fits_the_width(page)
    screenshot(page, "billing-payments-off-phone")
    verify_ledger(context)
