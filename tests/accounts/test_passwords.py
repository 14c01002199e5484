"""Passwords (app.accounts.lifecycle): "forgot password" answers the same for every address and mails a
single-use, one-hour link; a reset or a change ends every other session and keeps API keys; the most common
passwords are refused with a message naming the field."""

from __future__ import annotations

import time

from fastapi.testclient import TestClient
from itsdangerous import TimestampSigner

from app.accounts import lifecycle
from app.accounts.service import find_user
from tests.accounts.mailbox import token_in
from tests.conftest import api_key_for, create_user, login


def test_forgot_answers_the_same_for_known_and_unknown_addresses(smtp_server, client, context):
    create_user(context, email="known@example.com")
    known = client.post("/api/v1/auth/forgot-password", json={"email": "known@example.com"})
    unknown = client.post("/api/v1/auth/forgot-password", json={"email": "nobody@example.com"})
    malformed = client.post("/api/v1/auth/forgot-password", json={"email": "not an address"})
    assert known.status_code == unknown.status_code == malformed.status_code == 202
    assert known.json() == unknown.json() == malformed.json()
    assert set(known.headers) - {"x-request-id"} == set(unknown.headers) - {"x-request-id"}
    smtp_server.wait_for("known@example.com")
    assert smtp_server.to("nobody@example.com") == []
    # The pages say the same too.
    client.get("/forgot-password")
    pages = [client.post("/forgot-password", data={"email": email, "csrf_token": client.cookies["csrftoken"]})
             for email in ("known@example.com", "nobody@example.com")]
    assert [page.status_code for page in pages] == [200, 200]
    cards = [page.text.split('<section class="card auth-card">')[1].split("</section>")[0] for page in pages]
    assert cards[0].replace("known", "X") == cards[1].replace("nobody", "X")
    assert "Check your inbox" in cards[0]


def test_reset_sets_the_password_ends_sessions_and_keeps_api_keys(smtp_server, client, app, context):
    user = create_user(context, email="forgetful@example.com")
    key = api_key_for(context, user.id)
    with TestClient(app) as laptop:
        login(laptop, "forgetful@example.com")
        assert laptop.get("/api/v1/me").status_code == 200

        assert client.post("/api/v1/auth/forgot-password", json={"email": "forgetful@example.com"}).status_code == 202
        message = smtp_server.wait_for("forgetful@example.com")
        assert "reset" in message["Subject"].lower()
        token = token_in(message)
        page = client.get(f"/reset-password?token={token}")
        assert page.status_code == 200 and 'name="password"' in page.text

        reset = client.post("/api/v1/auth/reset-password", json={"token": token, "password": "brand new secret"})
        assert reset.status_code == 200, reset.text
        assert client.get("/api/v1/me").json()["email"] == "forgetful@example.com"  # signed in here
        assert laptop.get("/api/v1/me").status_code == 401  # every other session ended
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {key}"}).status_code == 200

    used = client.post("/api/v1/auth/reset-password", json={"token": token, "password": "another new one"})
    assert used.status_code == 400 and used.json()["error"]["code"] == "link_used"
    with TestClient(client.app) as fresh:
        assert fresh.post("/api/v1/auth/login", json={"email": "forgetful@example.com",
                                                      "password": "correct horse"}).status_code == 401
        login(fresh, "forgetful@example.com", "brand new secret")


def test_reset_links_expire_and_refuse_tampering(client, context, monkeypatch):
    user = create_user(context, email="late@example.com")
    with context.read_transaction() as db:
        user = find_user(db, "late@example.com")
    made_at = int(time.time()) - (lifecycle.RESET_LINK_HOURS * 3600 + 60)
    monkeypatch.setattr(TimestampSigner, "get_timestamp", lambda self: made_at)
    old = lifecycle.make_token(context, lifecycle.RESET, user)
    monkeypatch.undo()
    expired = client.post("/api/v1/auth/reset-password", json={"token": old, "password": "brand new secret"})
    assert expired.status_code == 400 and expired.json()["error"]["code"] == "link_expired"

    token = lifecycle.make_token(context, lifecycle.RESET, user)
    tampered = client.post("/api/v1/auth/reset-password",
                           json={"token": token.replace(".", "x.", 1), "password": "brand new secret"})
    assert tampered.status_code == 400 and tampered.json()["error"]["code"] == "invalid_link"
    confirm_token = lifecycle.make_token(context, lifecycle.CONFIRM, user)
    wrong_kind = client.post("/api/v1/auth/reset-password",
                             json={"token": confirm_token, "password": "brand new secret"})
    assert wrong_kind.json()["error"]["code"] == "invalid_link"
    # A weak new password is refused and leaves the link usable.
    weak = client.post("/api/v1/auth/reset-password", json={"token": token, "password": "password1"})
    assert weak.status_code == 422 and weak.json()["error"]["field"] == "password"
    assert "Set new password" in client.get("/reset-password?token=" + token).text
    done = client.post("/reset-password", data={"token": token, "password": "brand new secret",
                                                "csrf_token": client.cookies["csrftoken"]}, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"].startswith("/account")
    assert "every other browser was signed out" in client.get(done.headers["location"]).text


def test_change_password_asks_the_current_one_and_ends_other_sessions(client, app, context):
    user = create_user(context, email="changer@example.com")
    key = api_key_for(context, user.id)
    csrf = {"X-CSRF-Token": login(client, "changer@example.com")}
    with TestClient(app) as phone:
        login(phone, "changer@example.com")
        wrong = client.post("/api/v1/me/password", headers=csrf,
                            json={"current_password": "not it at all", "new_password": "brand new secret"})
        assert wrong.status_code == 401 and wrong.json()["error"]["field"] == "current_password"
        common = client.post("/api/v1/me/password", headers=csrf,
                             json={"current_password": "correct horse", "new_password": "iloveyou2"})
        assert common.status_code == 422
        assert common.json()["error"] == {"code": "password_too_common", "field": "new_password",
                                          "message": common.json()["error"]["message"]}
        assert "common" in common.json()["error"]["message"]
        short = client.post("/api/v1/me/password", headers=csrf,
                            json={"current_password": "correct horse", "new_password": "short"})
        assert short.status_code == 422 and short.json()["error"]["field"] == "new_password"
        assert phone.get("/api/v1/me").status_code == 200

        changed = client.post("/api/v1/me/password", headers=csrf,
                              json={"current_password": "correct horse", "new_password": "brand new secret"})
        assert changed.status_code == 200 and changed.json() == {"sessions_ended": 1}
        assert client.get("/api/v1/me").status_code == 200  # this browser stays signed in
        assert phone.get("/api/v1/me").status_code == 401
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {key}"}).status_code == 200


def test_change_password_from_the_account_page(client, context):
    create_user(context, email="former@example.com")
    csrf = login(client, "former@example.com")
    wrong = client.post("/account/password", data={"current_password": "nope nope nope",
                                                    "new_password": "brand new secret", "csrf_token": csrf})
    assert wrong.status_code == 401 and "current password is not right" in wrong.text
    done = client.post("/account/password", data={"current_password": "correct horse",
                                                   "new_password": "brand new secret", "csrf_token": csrf},
                       follow_redirects=False)
    assert done.status_code == 303
    assert "Your password is changed" in client.get(done.headers["location"]).text


def test_common_passwords_are_refused_at_sign_up(client):
    refused = client.post("/api/v1/auth/signup", json={"email": "lazy@example.com", "password": "Password123"})
    assert refused.status_code == 422
    assert (refused.json()["error"]["code"], refused.json()["error"]["field"]) == ("password_too_common", "password")


def test_login_page_links_to_forgot_password(client):
    page = client.get("/login")
    assert 'href="/forgot-password"' in page.text
    assert "Send me a link" in client.get("/forgot-password").text


def test_operator_reset_link(smtp_server, database_url, tmp_path, client, context):
    from tests.accounts.test_verification import run_cli

    create_user(context, email="locked.out@example.com")
    printed = run_cli(database_url, tmp_path, smtp_server.url, "users", "reset-link",
                      "--email", "locked.out@example.com")
    assert printed.returncode == 0, printed.stderr
    link = printed.stdout.strip()
    assert link.startswith("https://imagedit.example/reset-password?token=")
    token = link.split("?token=", 1)[1]
    reset = client.post("/api/v1/auth/reset-password", json={"token": token, "password": "brand new secret"})
    assert reset.status_code == 200
    unknown = run_cli(database_url, tmp_path, smtp_server.url, "users", "reset-link", "--email", "nobody@example.com")
    assert unknown.returncode == 2 and "No account" in unknown.stderr
