"""An operator walks the console in a real browser: find a person, open their page, grant credits, put the
account on hold; at a desktop's width and at a phone's (375 px)."""

from __future__ import annotations

import pytest

from app.billing import ledger
from app.models import StripeEvent
from app.models.base import utcnow
from tests.admin.conftest import create_operator
from tests.admin.test_console import submit
from tests.browser import screenshot
from tests.conftest import api_key_for, create_user, verify_ledger, wait_for_edit

pytestmark = pytest.mark.browser


def log_in(page, base_url: str, email: str) -> None:
    page.goto(base_url + "/login?next=/admin")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", "correct horse")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/admin")


@pytest.mark.parametrize("width, height, name", [(1280, 900, "desktop"), (375, 812, "phone")])
def test_operator_finds_grants_and_holds(live_server, page_for, context, client, backend, width, height, name):
    create_operator(context)
    person = create_user(context, email="customer.jane@example.com", credits=12)
    create_user(context, email="customer.joe@example.com", credits=3)
    headers = {"Authorization": f"Bearer {api_key_for(context, person.id)}"}
    wait_for_edit(client, submit(client, headers).json()["id"], headers=headers)
    backend.fail_in_edit = "No subject found."
    wait_for_edit(client, submit(client, headers).json()["id"], headers=headers)  # its credits come back
    backend.fail_in_edit = None
    with context.transaction() as db:  # a webhook as the intake stores it, handled, and one still failing
        db.add(StripeEvent(id="evt_1handled", type="payment_intent.succeeded", payload="{}", created=utcnow(),
                           handled_at=utcnow(), outcome="credited 100"))
        db.add(StripeEvent(id="evt_2failing", type="charge.dispute.created", payload="{}", created=utcnow(),
                           attempts=3, last_error="Stripe answered 500"))

    page = page_for(width, height)
    log_in(page, live_server.url, "ops@example.com")
    assert page.get_by_role("link", name="Admin").is_visible() or width < 600
    assert "no_subject" in page.locator("[data-testid=failures]").inner_text()
    screenshot(page, f"admin-dashboard-{name}")

    page.fill("input[name=q]", "customer.")
    page.get_by_role("button", name="Search").click()
    page.wait_for_selector("[data-testid=search-results]")
    assert page.locator("[data-testid=search-results] tbody tr").count() == 2
    screenshot(page, f"admin-search-{name}")
    page.get_by_role("link", name="customer.jane@example.com").click()
    page.wait_for_url(f"**/admin/people/{person.id}")
    assert page.locator("[data-testid=available]").inner_text() == "10"
    page.locator("#edits").scroll_into_view_if_needed()  # the thumbnails load lazily
    page.wait_for_function("() => [...document.querySelectorAll('#edits img')].every("
                           "img => img.complete && img.naturalWidth > 0)")

    form = page.locator("[data-testid=credits-form]")
    form.locator("input[name=amount]").fill("25")
    form.locator("input[name=reason]").fill("Sorry for the outage")
    form.get_by_role("button", name="Grant").click()
    page.wait_for_selector("[data-testid=done]")
    assert page.locator("[data-testid=available]").inner_text() == "35"
    assert "Sorry for the outage" in page.locator("[data-testid=trail]").inner_text()

    hold = page.locator("[data-testid=hold-form]")
    hold.locator("input[name=reason]").fill("Chargeback under review")
    hold.get_by_role("button", name="Put on hold").click()
    page.wait_for_selector("[data-testid=done]")
    assert "on hold" in page.locator("[data-testid=done]").inner_text()
    assert page.get_by_role("button", name="Lift hold").is_visible()
    page.evaluate("window.scrollTo(0, 0)")  # the redirect lands on #actions; show the page from its top
    screenshot(page, f"admin-person-{name}")

    with context.read_transaction() as db:
        balance = ledger.balance(db, person.id)
    assert balance.available == 35 and balance.on_hold
    assert submit(client, headers).json()["error"]["code"] == "account_on_hold"
    verify_ledger(context)
