"""Confirming an e-mail address (app.accounts.lifecycle): with a real mail server (SMTP, aiosmtpd on loopback)
the sign-up credits arrive when the mailed link is used, once per mailbox; links are single use, expire and
refuse tampering; the link's page confirms nothing until its button is pressed."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

from itsdangerous import TimestampSigner

from app.accounts import lifecycle
from app.accounts.service import find_user
from tests.accounts.mailbox import token_in, wait_for_file_mail
from tests.conftest import PASSTHROUGH, api_key_for, create_user, login

ROOT = Path(__file__).resolve().parents[2]
PROMISE = "Your free credits arrive once it is confirmed"


def sign_up(client, email: str, password: str = "long enough") -> None:
    response = client.post("/api/v1/auth/signup", json={"email": email, "password": password})
    assert response.status_code == 201, response.text


def test_credits_arrive_once_when_the_address_is_confirmed(smtp_server, client, context):
    sign_up(client, "maker@example.com")
    me = client.get("/api/v1/me").json()
    assert (me["balance"], me["email_verified"]) == (0, False)

    token = token_in(smtp_server.wait_for("maker@example.com"))
    # Opening the link (as a mail scanner would) shows a button and confirms nothing.
    page = client.get(f"/verify-email?token={token}")
    assert page.status_code == 200 and "Confirm my address" in page.text
    assert client.get("/api/v1/me").json()["email_verified"] is False

    confirmed = client.post("/api/v1/auth/verify-email", json={"token": token},
                            headers={"X-CSRF-Token": client.cookies["csrftoken"]})
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json() == {"email": "maker@example.com", "email_verified": True}
    me = client.get("/api/v1/me").json()
    assert (me["balance"], me["email_verified"]) == (10, True)

    again = client.post("/api/v1/auth/verify-email", json={"token": token})
    assert again.status_code == 400 and again.json()["error"]["code"] == "link_used"
    assert client.get("/api/v1/me").json()["balance"] == 10


def test_the_same_mailbox_gets_the_credits_only_once(smtp_server, client, app):
    from fastapi.testclient import TestClient

    sign_up(client, "twin@example.com")
    assert PROMISE in client.get("/account").text
    client.post("/api/v1/auth/verify-email", json={"token": token_in(smtp_server.wait_for("twin@example.com"))},
                headers={"X-CSRF-Token": client.cookies["csrftoken"]})
    assert client.get("/api/v1/me").json()["balance"] == 10
    with TestClient(app) as other:
        sign_up(other, "twin+again@example.com")
        assert PROMISE not in other.get("/account").text  # the mailbox had them: nothing is promised
        token = token_in(smtp_server.wait_for("twin+again@example.com"))
        assert other.post("/api/v1/auth/verify-email", json={"token": token},
                          headers={"X-CSRF-Token": other.cookies["csrftoken"]}).status_code == 200
        me = other.get("/api/v1/me").json()
        assert (me["balance"], me["email_verified"]) == (0, True)


def test_an_account_an_operator_made_with_credits_gets_none_more_on_confirmation(smtp_server, client, context):
    create_user(context, email="made@example.com", credits=20)  # as `users create` does: credits at once
    login(client, "made@example.com")
    assert PROMISE not in client.get("/account").text
    client.post("/api/v1/auth/verify-email/resend", headers={"X-CSRF-Token": client.cookies["csrftoken"]})
    token = token_in(smtp_server.wait_for("made@example.com"))
    assert client.post("/api/v1/auth/verify-email", json={"token": token},
                       headers={"X-CSRF-Token": client.cookies["csrftoken"]}).status_code == 200
    me = client.get("/api/v1/me").json()
    assert (me["balance"], me["email_verified"]) == (20, True)


def test_the_page_form_confirms_without_javascript(smtp_server, client):
    sign_up(client, "form@example.com")
    token = token_in(smtp_server.wait_for("form@example.com"))
    page = client.post("/verify-email", data={"token": token, "csrf_token": client.cookies["csrftoken"]})
    assert page.status_code == 200 and "is confirmed" in page.text
    assert "You have 10 credits" in page.text
    assert re.search(r"data-balance>\s*10 credits\s*<", page.text)  # the header says so too
    used = client.post("/verify-email", data={"token": token, "csrf_token": client.cookies["csrftoken"]})
    assert used.status_code == 400 and "already used" in used.text


def test_tampered_and_expired_links_are_refused(smtp_server, client, context, monkeypatch):
    sign_up(client, "careful@example.com")
    token = token_in(smtp_server.wait_for("careful@example.com"))
    tampered = token[:-3] + ("aaa" if not token.endswith("aaa") else "bbb")
    answer = client.post("/api/v1/auth/verify-email", json={"token": tampered})
    assert answer.status_code == 400 and answer.json()["error"]["code"] == "invalid_link"
    assert answer.json()["error"]["field"] == "token"

    # A reset token is no confirmation token, even though both are signed with the same key.
    with context.read_transaction() as db:
        user = find_user(db, "careful@example.com")
    reset_token = lifecycle.make_token(context, lifecycle.RESET, user)
    refused = client.post("/api/v1/auth/verify-email", json={"token": reset_token})
    assert refused.json()["error"]["code"] == "invalid_link"

    # A link made 73 hours ago (itsdangerous dates what it signs) has expired.
    made_at = int(time.time()) - (lifecycle.CONFIRM_LINK_HOURS + 1) * 3600
    monkeypatch.setattr(TimestampSigner, "get_timestamp", lambda self: made_at)
    old = lifecycle.make_token(context, lifecycle.CONFIRM, user)
    monkeypatch.undo()
    expired = client.post("/api/v1/auth/verify-email", json={"token": old})
    assert expired.status_code == 400 and expired.json()["error"]["code"] == "link_expired"
    assert client.get("/api/v1/me").json()["email_verified"] is False
    # The fresh link still works.
    assert client.post("/api/v1/auth/verify-email", json={"token": token}).status_code == 200


def test_resend_is_limited_and_stops_once_confirmed(smtp_server, client):
    sign_up(client, "resend@example.com")
    csrf = {"X-CSRF-Token": client.cookies["csrftoken"]}
    smtp_server.wait_for("resend@example.com")
    for _ in range(3):
        assert client.post("/api/v1/auth/verify-email/resend", headers=csrf).status_code == 202
    refused = client.post("/api/v1/auth/verify-email/resend", headers=csrf)
    assert refused.status_code == 429 and refused.headers["Retry-After"]
    latest = smtp_server.wait_for("resend@example.com", count=4)
    assert client.post("/api/v1/auth/verify-email", json={"token": token_in(latest)}, headers=csrf).status_code == 200


def test_resend_after_confirmation_says_so(client, context, settings):
    # log:// (the default): credits at sign-up, and the address can still be confirmed from the outbox.
    sign_up(client, "newbie@example.com")
    csrf = {"X-CSRF-Token": client.cookies["csrftoken"]}
    assert client.get("/api/v1/me").json()["balance"] == 10
    token = token_in(wait_for_file_mail(settings.data_dir / "outbox", "newbie@example.com"))
    assert client.post("/api/v1/auth/verify-email", json={"token": token}, headers=csrf).status_code == 200
    me = client.get("/api/v1/me").json()
    assert (me["balance"], me["email_verified"]) == (10, True)
    again = client.post("/api/v1/auth/verify-email/resend", headers=csrf)
    assert again.status_code == 409 and again.json()["error"]["code"] == "already_verified"


def test_account_page_shows_the_state_and_resends(smtp_server, client):
    sign_up(client, "page@example.com")
    page = client.get("/account")
    assert 'data-testid="email-unverified"' in page.text and "Send the link again" in page.text
    sent = client.post("/account/verify-email/resend", data={"csrf_token": client.cookies["csrftoken"]},
                       follow_redirects=False)
    assert sent.status_code == 303
    assert "A new confirmation link is on its way" in client.get(sent.headers["location"]).text
    token = token_in(smtp_server.wait_for("page@example.com", count=2))
    client.post("/api/v1/auth/verify-email", json={"token": token},
                headers={"X-CSRF-Token": client.cookies["csrftoken"]})
    assert 'data-testid="email-verified"' in client.get("/account").text


def test_api_key_callers_see_the_state_too(smtp_server, client, context):
    user = create_user(context, email="keyed@example.com")
    key = api_key_for(context, user.id)
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {key}"}).json()["email_verified"] is False


def test_operator_verify_command_grants_like_a_confirmation(smtp_server, database_url, tmp_path, client):
    sign_up(client, "cli@example.com")
    assert client.get("/api/v1/me").json()["balance"] == 0
    done = run_cli(database_url, tmp_path, smtp_server.url, "users", "verify", "--email", "cli@example.com")
    assert done.returncode == 0, done.stderr
    assert "now confirmed" in done.stdout and "10 credits available" in done.stdout
    me = client.get("/api/v1/me").json()
    assert (me["balance"], me["email_verified"]) == (10, True)
    again = run_cli(database_url, tmp_path, smtp_server.url, "users", "verify", "--email", "cli@example.com")
    assert "already confirmed" in again.stdout and client.get("/api/v1/me").json()["balance"] == 10


def run_cli(database_url: str, tmp_path: Path, email_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": database_url, "DATA_DIR": str(tmp_path / "cli"), "EDIT_BACKEND": PASSTHROUGH,
           "PYTHONPATH": str(ROOT), "SIGNUP_CREDITS": "10", "SECRET_KEY": "test-secret-key-not-for-production",
           "EMAIL_URL": email_url, "PUBLIC_URL": "https://imagedit.example"}
    return subprocess.run([sys.executable, "-m", "app", *args], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=120)
