"""A person takes their data and then leaves, in a real browser: prepare an export on the account page,
download the ZIP, then delete the account with the password."""

from __future__ import annotations

import io
import zipfile

import httpx
import pytest

from tests.api.test_edits_api import small_png
from tests.browser import screenshot
from tests.conftest import api_key_for, create_user, verify_ledger, wait_for_edit

pytestmark = pytest.mark.browser


def log_in(page, base_url: str, email: str, password: str = "a good password") -> None:
    page.goto(base_url + "/login?next=/account")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(base_url + "/account")  # exactly: "**/account" also matches /login?next=/account


def make_edit(base_url: str, key: str) -> None:
    with httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {key}"}, timeout=30) as api:
        answer = api.post("/api/v1/edits", files=[("image", ("in.png", small_png(), "image/png"))],
                          data={"prompt": "Make it brighter"})
        assert answer.status_code == 202, answer.text
        assert wait_for_edit(api, answer.json()["id"])["status"] == "succeeded"


def test_export_then_delete_the_account(live_server, page_for, context, tmp_path):
    person = create_user(context, email="leaver@example.com", password="a good password", credits=30)
    make_edit(live_server.url, api_key_for(context, person.id))
    page = page_for(1280, 900)
    log_in(page, live_server.url, "leaver@example.com")

    data = page.locator("#your-data")
    data.get_by_role("button", name="Prepare an export").click()
    page.wait_for_url("**/account**")
    # The page polls the export and reloads when it is ready; the link then appears.
    download_link = data.get_by_role("link", name="Download ZIP")
    download_link.wait_for(timeout=60_000)
    data.scroll_into_view_if_needed()
    screenshot(page, "account-your-data-desktop")
    with page.expect_download() as download_info:
        download_link.click()
    saved = tmp_path / download_info.value.suggested_filename
    download_info.value.save_as(saved)
    assert saved.name.startswith("imagedit-export-") and saved.suffix == ".zip"
    with zipfile.ZipFile(io.BytesIO(saved.read_bytes())) as archive:
        names = archive.namelist()
    assert "ledger.csv" in names and "account.json" in names
    assert any(name.endswith("/result.png") for name in names) and any("/input-0." in name for name in names)

    danger = page.locator("#delete-account")
    assert "You have 28 credits left" in danger.inner_text()  # 30, less the edit's 2
    page.on("dialog", lambda dialog: dialog.accept())
    danger.locator("input[name=password]").fill("not my password")
    danger.get_by_role("button", name="Delete my account").click()
    page.wait_for_selector("#delete-account .notice-error")
    assert "not your password" in page.locator("#delete-account .notice-error").inner_text()
    page.locator("#delete-account input[name=password]").fill("a good password")
    page.locator("#delete-account").get_by_role("button", name="Delete my account").click()
    page.wait_for_url("**/account/deleted")
    assert "Your account is gone" in page.locator("h1").inner_text()
    screenshot(page, "account-deleted-desktop")

    page.goto(live_server.url + "/account")
    page.wait_for_url("**/login**")
    page.fill("input[name=email]", "leaver@example.com")
    page.fill("input[name=password]", "a good password")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_selector("#form-error")
    verify_ledger(context)


def test_the_data_sections_at_phone_width(live_server, page_for, context):
    create_user(context, email="small@example.com", password="a good password", credits=10)
    page = page_for(375, 812)
    log_in(page, live_server.url, "small@example.com")
    page.locator("#your-data").get_by_role("button", name="Prepare an export").click()
    page.locator("#your-data").get_by_role("link", name="Download ZIP").wait_for(timeout=60_000)
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    screenshot(page, "account-your-data-phone")
    page.goto(live_server.url + "/account/deleted")  # still signed in: the account is not gone
    page.wait_for_url(live_server.url + "/account")
    page.on("dialog", lambda dialog: dialog.accept())
    page.locator("#delete-account input[name=password]").fill("a good password")
    page.locator("#delete-account").get_by_role("button", name="Delete my account").click()
    page.wait_for_url("**/account/deleted")
    assert "session" not in {cookie["name"] for cookie in page.context.cookies()}  # signed out
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    screenshot(page, "account-deleted-phone")
