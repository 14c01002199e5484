"""A newcomer in a real browser, with mail going to a folder (EMAIL_URL=file://…): sign up, open the mailed
link, confirm, see the address confirmed and the credits on the account page; then forget the password and
choose a new one from the reset mail. Screenshots of each new page and of one mail, desktop and phone."""

from __future__ import annotations

from typing import Any

import pytest

from app import mail
from tests.accounts.mailbox import link_in, wait_for_file_mail
from tests.browser import screenshot

pytestmark = pytest.mark.browser


@pytest.fixture
def settings_overrides(tmp_path) -> dict[str, Any]:
    return {"email_url": f"file://{tmp_path}/mailbox"}


def test_sign_up_confirm_and_reset_in_a_browser(live_server, page_for, tmp_path):
    folder = tmp_path / "mailbox"
    page = page_for(1280, 900)
    page.goto(live_server.url + "/signup")
    page.fill("input[name=email]", "walker@example.com")
    page.fill("input[name=password]", "a good password")
    page.get_by_role("button", name="Create account").click()
    page.wait_for_url("**/edit")

    page.goto(live_server.url + "/account")
    assert page.get_by_test_id("email-unverified").is_visible()
    assert page.get_by_test_id("available").inner_text() == "0"  # credits wait for the confirmation

    message = wait_for_file_mail(folder, "walker@example.com")
    link = link_in(message).replace("http://127.0.0.1:8000", live_server.url)
    show_mail(page_for, message, "mail-verify")

    page.goto(link)
    screenshot(page, "verify-email-desktop")
    page.get_by_role("button", name="Confirm my address").click()
    page.wait_for_selector("#verified")
    assert "walker@example.com is confirmed" in page.inner_text("#verified")
    screenshot(page, "verify-email-done-desktop")
    page.goto(live_server.url + "/account#security")
    assert page.get_by_test_id("email-verified").is_visible()
    assert page.get_by_test_id("available").inner_text() == "10"
    assert "This browser" in page.inner_text("#sessions")
    screenshot(page, "account-security-desktop")
    phone = page_for(375, 800)
    phone.context.add_cookies(page.context.cookies())
    phone.goto(live_server.url + "/account#security")
    screenshot(phone, "account-security-phone")

    # Forgot → mail → new password, in a browser that is signed out.
    page.get_by_role("navigation", name="Main").get_by_role("button", name="Log out").click()
    page.goto(live_server.url + "/login")
    page.get_by_role("link", name="Forgot your password?").click()
    page.wait_for_url("**/forgot-password")
    screenshot(page, "forgot-password-desktop")
    page.fill("input[name=email]", "walker@example.com")
    page.get_by_role("button", name="Send me a link").click()
    page.wait_for_selector("#reset-sent")
    screenshot(page, "forgot-password-sent-desktop")

    reset_mail = wait_for_file_mail(folder, "walker@example.com", count=2)
    show_mail(page_for, reset_mail, "mail-reset")
    reset_link = link_in(reset_mail).replace("http://127.0.0.1:8000", live_server.url)
    phone_reset = page_for(375, 800)
    phone_reset.goto(reset_link)
    screenshot(phone_reset, "reset-password-phone")
    page.goto(reset_link)
    screenshot(page, "reset-password-desktop")
    page.fill("input[name=password]", "password123")
    page.get_by_role("button", name="Set new password").click()
    assert "most common" in page.inner_text("#form-error")
    page.fill("input[name=password]", "an even better password")
    page.get_by_role("button", name="Set new password").click()
    page.wait_for_url("**/account?done=password-reset*")
    assert "new password is set" in page.inner_text("#notice")
    phone_reset.goto(reset_link)  # the spent link says so as it opens, before a password is typed
    assert phone_reset.get_by_role("heading", name="This link was already used or has expired").is_visible()
    assert phone_reset.locator("input[name=password]").count() == 0
    assert phone_reset.get_by_role("link", name="Send me a new link").is_visible()
    screenshot(phone_reset, "reset-password-used-phone")
    # The phone shared the session that logged out: it is signed out (and stays so after the reset).
    phone.goto(live_server.url + "/account")
    assert phone.get_by_role("button", name="Log in").is_visible()

    phone.goto(live_server.url + "/forgot-password")
    screenshot(phone, "forgot-password-phone")
    phone.fill("input[name=email]", "nobody@example.com")
    phone.get_by_role("button", name="Send me a link").click()
    phone.wait_for_selector("#reset-sent")
    assert phone.evaluate("document.documentElement.scrollWidth") <= 375
    screenshot(phone, "forgot-password-sent-phone")
    phone.goto(link)  # the confirmation link again: already used, which the page says as it opens
    assert "your address is confirmed" in phone.inner_text("#already-confirmed")
    assert phone.get_by_role("button", name="Confirm my address").count() == 0
    assert phone.evaluate("document.documentElement.scrollWidth") <= 375
    screenshot(phone, "verify-email-used-phone")


def show_mail(page_for, message, name: str) -> None:
    """The HTML part of a mail as a mail program would show it, at desktop and phone width."""
    html = message.get_body(preferencelist=("html",)).get_content()
    for width, suffix in ((900, "desktop"), (375, "phone")):
        viewer = page_for(width, 700)
        viewer.set_content(html)
        screenshot(viewer, f"{name}-{suffix}")
    assert mail.plain_text(message)
