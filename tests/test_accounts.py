"""Sign-up, log-in, log-out, sessions, CSRF and API keys."""

from __future__ import annotations

from sqlalchemy import select

from app.models import ApiKey, LoginSession, Transfer, User
from tests.conftest import create_user


def test_signup_grants_credits_once_and_signs_in(client, context):
    response = client.post("/api/v1/auth/signup", json={"email": "New@Example.com", "password": "long enough"})
    assert response.status_code == 201
    body = response.json()
    assert body["email"] == "new@example.com" and body["balance"] == 10
    cookie = response.headers["set-cookie"]
    assert "session=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
    assert "Secure" not in cookie  # served over http here
    assert client.get("/api/v1/me").json() == {"id": body["id"], "email": "new@example.com", "balance": 10,
                                               "reserved": 0, "outstanding": 0, "on_hold": False,
                                                   "email_verified": False}
    again = client.post("/api/v1/auth/signup", json={"email": "new@example.com", "password": "long enough"})
    assert again.status_code == 409 and again.json()["error"]["field"] == "email"
    with context.transaction() as db:
        user = db.execute(select(User).where(User.email == "new@example.com")).scalar_one()
        assert user.password_hash.startswith("$argon2id$")
        grants = db.execute(select(Transfer).where(Transfer.account_id == user.id)).scalars().all()
        # One grant, keyed by the mailbox (README "Running in public": once per mailbox, ever).
        assert [(t.id.split(":")[0], t.kind, t.amount) for t in grants] == [("signup-mailbox", "grant", 10)]


def test_signup_validation(client):
    short = client.post("/api/v1/auth/signup", json={"email": "a@example.com", "password": "short"})
    assert short.status_code == 422 and short.json()["error"]["field"] == "password"
    bad = client.post("/api/v1/auth/signup", json={"email": "not-an-email", "password": "long enough"})
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "email"


def test_login_logout_and_csrf(client, context):
    create_user(context, email="me@example.com", password="secret password")
    wrong = client.post("/api/v1/auth/login", json={"email": "me@example.com", "password": "nope nope"})
    assert wrong.status_code == 401 and wrong.json()["error"]["code"] == "invalid_credentials"
    unknown = client.post("/api/v1/auth/login", json={"email": "who@example.com", "password": "nope nope"})
    assert unknown.json()["error"]["message"] == wrong.json()["error"]["message"]
    ok = client.post("/api/v1/auth/login", json={"email": "ME@example.com", "password": "secret password"})
    assert ok.status_code == 200
    token = client.cookies["csrftoken"]
    # An unsafe cookie-authenticated request without the token is refused and changes nothing.
    refused = client.post("/api/v1/api-keys", json={"name": "k"})
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "csrf_failed"
    wrong_token = client.post("/api/v1/api-keys", json={"name": "k"}, headers={"X-CSRF-Token": "forged"})
    assert wrong_token.status_code == 403
    with context.transaction() as db:
        assert db.execute(select(ApiKey)).scalars().all() == []
    made = client.post("/api/v1/api-keys", json={"name": "k"}, headers={"X-CSRF-Token": token})
    assert made.status_code == 201
    assert client.post("/api/v1/auth/logout").status_code == 403
    assert client.post("/api/v1/auth/logout", headers={"X-CSRF-Token": token}).status_code == 204
    assert client.get("/api/v1/me").status_code == 401
    with context.transaction() as db:
        assert db.execute(select(LoginSession)).scalars().all() == []


def test_a_tampered_session_cookie_is_ignored(client, context):
    create_user(context, email="me@example.com", password="secret password")
    client.post("/api/v1/auth/login", json={"email": "me@example.com", "password": "secret password"})
    value = client.cookies["session"]
    client.cookies.clear()
    client.cookies.set("session", value[:-3] + ("AAA" if not value.endswith("AAA") else "BBB"))
    assert client.get("/api/v1/me").status_code == 401


def test_api_keys_are_stored_as_hashes_and_shown_once(client, context):
    create_user(context, email="dev@example.com", password="secret password")
    client.post("/api/v1/auth/login", json={"email": "dev@example.com", "password": "secret password"})
    token = client.cookies["csrftoken"]
    made = client.post("/api/v1/api-keys", json={"name": "CI"}, headers={"X-CSRF-Token": token}).json()
    key = made["key"]
    assert key.startswith("sk-ie-") and made["name"] == "CI"
    listed = client.get("/api/v1/api-keys").json()["items"]
    assert listed[0]["last4"] == key[-4:] and "key" not in listed[0]
    with context.transaction() as db:
        row = db.execute(select(ApiKey)).scalar_one()
        assert key not in (row.key_hash, row.name) and len(row.key_hash) == 64
    client.cookies.clear()
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {key}"}).status_code == 200
    # Bearer requests need no CSRF token: another site cannot make a browser send a header.
    bearer = {"Authorization": f"Bearer {key}"}
    assert client.post("/api/v1/api-keys", json={"name": "x"}, headers=bearer).status_code == 201
    assert client.delete(f"/api/v1/api-keys/{made['id']}", headers=bearer).status_code == 204
    assert client.get("/api/v1/me", headers=bearer).status_code == 401


def test_signup_credits_setting(client, context, settings):
    context.settings.signup_credits = 3
    response = client.post("/api/v1/auth/signup", json={"email": "three@example.com", "password": "long enough"})
    assert response.json()["balance"] == 3


def test_cookies_are_secure_over_https(app, context):
    from fastapi.testclient import TestClient

    with TestClient(app, base_url="https://testserver") as https:
        response = https.post("/api/v1/auth/signup", json={"email": "tls@example.com", "password": "long enough"})
        cookies = response.headers.get_list("set-cookie")
        session = next(c for c in cookies if c.startswith("session="))
        csrf = next(c for c in cookies if c.startswith("csrftoken="))
        assert "Secure" in session and "HttpOnly" in session and "SameSite=lax" in session
        assert "Secure" in csrf and "HttpOnly" not in csrf  # our scripts read it to send X-CSRF-Token
