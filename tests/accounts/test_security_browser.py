"""Sign-in and security on the account page, in real browsers: the list of signed-in browsers (each with its
browser, address, sign-in and last-active times), ending one of them or all the others; changing the password
(a wrong current password is refused on its field; success signs every other browser out and keeps this one);
a reset from the mailed link signs out every browser that was signed in."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from tests.accounts.mailbox import link_in, wait_for_file_mail
from tests.accounts.test_data_browser import log_in
from tests.browser import screenshot
from tests.conftest import create_user

pytestmark = pytest.mark.browser

IPHONE = ("Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
          "Version/18.1 Mobile/15E148 Safari/604.1")
WHEN = re.compile(r"^\d{2} \w{3} \d{4}, \d{2}:\d{2}$")
PASSWORD = "a good password"


@pytest.fixture
def settings_overrides(tmp_path) -> dict[str, Any]:
    return {"email_url": f"file://{tmp_path}/mailbox"}


@pytest.fixture
def phone(chromium) -> Iterator[Any]:
    """A page in a browser context of its own that says it is Safari on an iPhone, at phone width."""
    context = chromium.new_context(user_agent=IPHONE, viewport={"width": 375, "height": 812})
    page = context.new_page()
    page.set_default_timeout(20_000)
    yield page
    context.close()


def session_rows(page) -> list[dict[str, str]]:
    """The sessions table of the account page, one dict of cells per row."""
    rows = page.locator("#sessions tbody tr")
    return [{label: rows.nth(n).locator(f'td[data-label="{label}"]').inner_text().strip()
             for label in ("Browser", "Address", "Signed in", "Last active")} for n in range(rows.count())]


def is_signed_out(page, base_url: str) -> bool:
    page.goto(base_url + "/account")
    return "/login" in page.url


def test_signed_in_browsers_are_listed_and_ended(live_server, page_for, phone, context):
    create_user(context, email="many@example.com", password=PASSWORD)
    desktop = page_for(1280, 900)
    desktop.on("dialog", lambda dialog: dialog.accept())
    log_in(desktop, live_server.url, "many@example.com")
    log_in(phone, live_server.url, "many@example.com")

    desktop.goto(live_server.url + "/account")  # not "#sessions": from /account that would not reload
    rows = session_rows(desktop)
    assert sorted(row["Browser"] for row in rows) == ["Chrome (headless) on Linux This browser", "Safari on iPhone"]
    assert {row["Address"] for row in rows} == {"127.0.0.1"}
    assert all(WHEN.match(row["Signed in"]) and WHEN.match(row["Last active"]) for row in rows), rows
    screenshot(desktop, "account-sessions-desktop")
    phone.reload()
    assert phone.evaluate("document.documentElement.scrollWidth") <= 375
    assert "This browser" in phone.locator('#sessions tr:has-text("Safari on iPhone")').inner_text()
    screenshot(phone, "account-sessions-phone")

    # End the phone's session from the desktop: the phone is signed out, the desktop is not.
    desktop.locator('#sessions tr:has-text("Safari on iPhone")').get_by_role("button", name="End").click()
    desktop.wait_for_selector("#notice")
    assert "That browser is signed out" in desktop.inner_text("#notice")
    assert [row["Browser"] for row in session_rows(desktop)] == ["Chrome (headless) on Linux This browser"]
    assert is_signed_out(phone, live_server.url)
    assert not is_signed_out(desktop, live_server.url)

    # Two more browsers sign in; "Sign out all other browsers" ends both and keeps this one.
    laptop = page_for(1024, 768)
    log_in(phone, live_server.url, "many@example.com")
    log_in(laptop, live_server.url, "many@example.com")
    desktop.goto(live_server.url + "/account")
    assert len(session_rows(desktop)) == 3
    desktop.get_by_role("button", name="Sign out all other browsers").click()
    desktop.wait_for_selector("#notice")
    assert "other browsers are signed out" in desktop.inner_text("#notice")
    assert len(session_rows(desktop)) == 1
    assert desktop.get_by_role("button", name="Sign out all other browsers").count() == 0
    assert is_signed_out(phone, live_server.url) and is_signed_out(laptop, live_server.url)
    assert not is_signed_out(desktop, live_server.url)


def test_change_password_then_reset_it_from_the_mail(live_server, page_for, phone, context, tmp_path):
    create_user(context, email="careful@example.com", password=PASSWORD)
    desktop = page_for(1280, 900)
    log_in(desktop, live_server.url, "careful@example.com")
    log_in(phone, live_server.url, "careful@example.com")

    form = desktop.locator("#password")
    form.locator("input[name=current_password]").fill("not my password")
    form.locator("input[name=new_password]").fill("brand new secret")
    form.get_by_role("button", name="Change password").click()
    desktop.wait_for_selector("#password-error")
    assert "current password is not right" in desktop.inner_text("#password-error")
    current = desktop.locator("#password input[name=current_password]")
    assert current.get_attribute("aria-invalid") == "true"
    assert current.get_attribute("aria-describedby") == "password-error"
    assert desktop.locator("#password input[name=new_password]").get_attribute("aria-invalid") is None
    screenshot(desktop, "account-password-refused-desktop")
    assert not is_signed_out(phone, live_server.url)  # a refused change ends nothing

    form = desktop.locator("#password")
    form.locator("input[name=current_password]").fill(PASSWORD)
    form.locator("input[name=new_password]").fill("brand new secret")
    form.get_by_role("button", name="Change password").click()
    desktop.wait_for_selector("#notice")
    assert "Your password is changed" in desktop.inner_text("#notice")
    assert len(session_rows(desktop)) == 1
    assert is_signed_out(phone, live_server.url)
    assert not is_signed_out(desktop, live_server.url)
    log_in(phone, live_server.url, "careful@example.com", "brand new secret")  # the new password works

    # Forgotten after all: a signed-out browser resets it from the mail, and every signed-in one is signed out.
    forgetful = page_for(1280, 900)
    forgetful.goto(live_server.url + "/forgot-password")
    forgetful.fill("input[name=email]", "careful@example.com")
    forgetful.get_by_role("button", name="Send me a link").click()
    forgetful.wait_for_selector("#reset-sent")
    message = wait_for_file_mail(tmp_path / "mailbox", "careful@example.com")
    forgetful.goto(link_in(message).replace("http://127.0.0.1:8000", live_server.url))
    forgetful.fill("input[name=password]", "the newest secret")
    forgetful.get_by_role("button", name="Set new password").click()
    forgetful.wait_for_url("**/account?done=password-reset*")
    assert is_signed_out(desktop, live_server.url) and is_signed_out(phone, live_server.url)
    assert [row["Browser"] for row in session_rows(forgetful)] == ["Chrome (headless) on Linux This browser"]
