"""The guards on the account pages and routes, checked over everything they serve rather than form by form:
every form the account pages show carries the CSRF token, and without it is refused and changes nothing;
every route a stranger can call with a mailed link or an address is rate-limited per client address, and
reset mails per address asked for."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
from fastapi.testclient import TestClient

from app.accounts import lifecycle
from app.queue import QUEUE_NAME
from tests.accounts.mailbox import outbox_messages, wait_for_file_mail
from tests.conftest import api_key_for, create_user, login

PASSWORD = "correct horse"


class Forms(HTMLParser):
    """The POST forms of a page: (action, {field: value}) in page order."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.found: list[tuple[str, dict[str, str]]] = []
        self._open = False
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        if tag == "form" and values.get("method", "").lower() == "post":
            self.found.append((values["action"], {}))
            self._open = True
        elif tag == "input" and self._open and values.get("name"):
            fields = self.found[-1][1]
            fields[values["name"]] = {"password": PASSWORD, "email": "owner@example.com"}.get(
                values.get("type", "text"), values.get("value", ""))

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._open = False


PAGES = ["/account", "/forgot-password", "/reset-password?token={reset}", "/verify-email?token={confirm}", "/login",
         "/signup"]
ACCOUNT_FORMS = {"/account/password", "/account/sessions/end-others", "/account/delete", "/account/exports",
                 "/account/verify-email/resend", "/forgot-password", "/reset-password", "/verify-email", "/logout"}


def test_every_account_form_carries_the_token_and_is_refused_without_it(client, app, context, settings):
    user = create_user(context, email="owner@example.com", password=PASSWORD)
    key = api_key_for(context, user.id)
    # Genuine links: a link's page shows its form only while the link can be used.
    tokens = {"reset": lifecycle.make_token(context, lifecycle.RESET, user),
              "confirm": lifecycle.make_token(context, lifecycle.CONFIRM, user)}
    login(client, "owner@example.com")
    with TestClient(app) as phone:
        login(phone, "owner@example.com")
        forms = [form for page in PAGES for form in Forms(client.get(page.format(**tokens)).text).found]
        actions = {action for action, _ in forms}
        assert actions >= ACCOUNT_FORMS, ACCOUNT_FORMS - actions  # the pages still show what this test covers
        assert any(action.startswith("/account/sessions/") and action.endswith("/end") for action in actions)
        for action, fields in forms:
            assert fields.get("csrf_token") == client.cookies["csrftoken"], action
            del fields["csrf_token"]
            refused = client.post(action, data=fields, follow_redirects=False)
            assert refused.status_code == 403, (action, refused.status_code)
            assert "csrf" in refused.text.lower() or "came from elsewhere" in refused.text, action
            wrong = client.post(action, data=fields | {"csrf_token": "x" * 64}, follow_redirects=False)
            assert wrong.status_code == 403, action
        # Nothing happened: both browsers are signed in, the password, key and address are as they were.
        assert client.get("/api/v1/me").json()["email_verified"] is False
        assert phone.get("/api/v1/me").status_code == 200
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {key}"}).status_code == 200
    assert 'data-testid="exports"' not in client.get("/account").text
    with TestClient(app) as fresh:
        login(fresh, "owner@example.com", PASSWORD)
    context.queue.broker.join(QUEUE_NAME, timeout=30_000)
    assert outbox_messages(settings.data_dir / "outbox") == []  # no reset or confirmation mail went out


@pytest.mark.parametrize("settings_overrides", [{"rate_limit_password_reset_per_address": "3/hour",
                                                 "rate_limit_password_reset_per_email": "1/hour"}], indirect=True)
def test_forgot_password_is_limited_per_client_and_mails_per_address(client, context, settings):
    create_user(context, email="owner@example.com")
    client.get("/forgot-password")  # the page's CSRF cookie
    first = client.post("/api/v1/auth/forgot-password", json={"email": "owner@example.com"})
    second = client.post("/api/v1/auth/forgot-password", json={"email": "Owner@Example.com"})
    assert first.status_code == second.status_code == 202 and first.json() == second.json()
    page = client.post("/forgot-password", data={"email": "someone@example.com",
                                                 "csrf_token": client.cookies["csrftoken"]})
    assert page.status_code == 200
    for refused in (client.post("/api/v1/auth/forgot-password", json={"email": "other@example.com"}),
                    client.post("/forgot-password", data={"email": "other@example.com",
                                                          "csrf_token": client.cookies["csrftoken"]})):
        assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
    # The page says so on its form, with the address kept, rather than on a bare error page.
    assert 'action="/forgot-password"' in refused.text and 'value="other@example.com"' in refused.text
    assert "Too many password resets from your network. Wait" in refused.text
    wait_for_file_mail(settings.data_dir / "outbox", "owner@example.com")
    context.queue.broker.join(QUEUE_NAME, timeout=30_000)
    # The second request for the same address was answered alike but mailed nothing.
    assert len(outbox_messages(settings.data_dir / "outbox")) == 1


@pytest.mark.parametrize("settings_overrides", [{"rate_limit_account_links_per_address": "4/hour"}], indirect=True)
def test_using_mailed_links_is_limited_per_client(client):
    client.get("/verify-email")
    csrf = client.cookies["csrftoken"]
    tries = [client.post("/api/v1/auth/verify-email", json={"token": "guess-1"}),
             client.post("/api/v1/auth/reset-password", json={"token": "guess-2", "password": "brand new secret"}),
             client.post("/verify-email", data={"token": "guess-3", "csrf_token": csrf}),
             client.post("/reset-password", data={"token": "guess-4", "password": "brand new secret",
                                                  "csrf_token": csrf})]
    assert [answer.status_code for answer in tries] == [400, 400, 400, 400]
    new_password = "brand new secret"
    for refused in (client.post("/api/v1/auth/verify-email", json={"token": "guess-5"}),
                    client.post("/api/v1/auth/reset-password", json={"token": "guess-6", "password": new_password}),
                    client.post("/verify-email", data={"token": "guess-7", "csrf_token": csrf}),
                    client.post("/reset-password", data={"token": "guess-8", "password": new_password,
                                                         "csrf_token": csrf})):
        assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
        assert "Too many tries of e-mailed links from your network. Wait" in refused.text
    assert 'action="/reset-password"' in refused.text and 'value="guess-8"' in refused.text  # the form stays
    confirm = client.post("/verify-email", data={"token": "guess-9", "csrf_token": csrf})
    assert confirm.status_code == 429 and 'action="/verify-email"' in confirm.text
