"""CSRF tokens bound to the session, foreign origins refused, cookies and caching for a public deployment,
and cursors that can never make a 500."""

from __future__ import annotations

import pytest

from tests.conftest import create_user, login


def signed_in(client, context, email: str = "csrf@example.com") -> str:
    create_user(context, email=email)
    return login(client, email)


def test_a_token_the_client_picks_is_refused(client, context):
    signed_in(client, context)
    # The old double-submit accepted any value that matched the cookie; the token must be the session's.
    client.cookies.set("csrftoken", "x" * 43)
    refused = client.post("/api/v1/api-keys", json={"name": "k"}, headers={"X-CSRF-Token": "x" * 43})
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "csrf_failed"


def test_the_token_changes_at_log_in_and_the_old_one_stops_working(client, context):
    create_user(context, email="rotate@example.com")
    client.get("/login")
    before = client.cookies["csrftoken"]
    after = login(client, "rotate@example.com")
    assert after != before
    stale = client.post("/api/v1/api-keys", json={"name": "k"}, headers={"X-CSRF-Token": before})
    assert stale.status_code == 403
    fresh = client.post("/api/v1/api-keys", json={"name": "k"}, headers={"X-CSRF-Token": after})
    assert fresh.status_code == 201
    # A second log-in (a new session) gives yet another token; the previous one is refused.
    again = login(client, "rotate@example.com")
    assert again != after
    assert client.post("/api/v1/api-keys", json={"name": "k"}, headers={"X-CSRF-Token": after}).status_code == 403


def test_the_page_shows_the_token_of_the_session(client, context):
    token = signed_in(client, context)
    page = client.get("/account")
    assert f'name="csrf-token" content="{token}"' in page.text


def test_a_foreign_origin_is_refused_even_with_the_right_token(client, context):
    token = signed_in(client, context)
    headers = {"X-CSRF-Token": token}
    foreign = client.post("/api/v1/api-keys", json={"name": "k"}, headers=headers | {"Origin": "https://evil.example"})
    assert foreign.status_code == 403 and foreign.json()["error"]["code"] == "csrf_failed"
    own = client.post("/api/v1/api-keys", json={"name": "k"}, headers=headers | {"Origin": "http://testserver"})
    assert own.status_code == 201


def test_a_form_from_another_site_cannot_sign_someone_in(client, context):
    create_user(context, email="victim@example.com")
    forged = client.post("/login", data={"email": "victim@example.com", "password": "correct horse"},
                         headers={"Origin": "https://evil.example"}, follow_redirects=False)
    assert forged.status_code == 403 and "session" not in client.cookies
    no_token = client.post("/login", data={"email": "victim@example.com", "password": "correct horse"},
                           follow_redirects=False)
    assert no_token.status_code == 403 and "session" not in client.cookies


def test_an_upload_with_a_session_needs_the_token(client, context):
    signed_in(client, context)
    files = [("image", ("a.png", b"\x89PNG\r\n\x1a\n" + b"0" * 64, "image/png"))]
    refused = client.post("/api/v1/edits", data={"prompt": "Brighter"}, files=files)
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "csrf_failed"
    assert client.get("/api/v1/me").json()["reserved"] == 0


def test_signed_in_answers_are_never_cached(client, context):
    signed_in(client, context)
    assert client.get("/account").headers["cache-control"] == "no-store"
    assert client.get("/api/v1/me").headers["cache-control"] == "no-store"
    assert client.get("/api/v1/ledger").headers["cache-control"] == "no-store"


@pytest.mark.parametrize("settings_overrides", [{"public_url": "https://edit.example.com"}], indirect=True)
def test_https_deployments_get_secure_cookies_and_hsts(client, context):
    create_user(context, email="tls@example.com")
    answer = client.post("/api/v1/auth/login", json={"email": "tls@example.com", "password": "correct horse"})
    cookies = answer.headers.get_list("set-cookie")
    assert cookies and all("Secure" in cookie for cookie in cookies)
    assert answer.headers["strict-transport-security"].startswith("max-age=")


def test_plain_http_gets_no_hsts(client):
    assert "strict-transport-security" not in client.get("/").headers


@pytest.mark.parametrize("cursor", ["9223372036854775808", "²", "-1", "1e3", "9" * 400])
def test_bad_ledger_cursors_are_422_naming_the_field(client, context, cursor):
    signed_in(client, context)
    answer = client.get("/api/v1/ledger", params={"cursor": cursor})
    assert answer.status_code == 422 and answer.json()["error"]["field"] == "cursor"
    page = client.get("/account", params={"cursor": cursor})
    assert page.status_code == 422 and "cursor is not valid" in page.text


@pytest.mark.parametrize("cursor", ["²", "!!!", "Zm9v", "9223372036854775808"])
def test_bad_edit_cursors_are_422(client, context, cursor):
    signed_in(client, context)
    answer = client.get("/api/v1/edits", params={"cursor": cursor})
    assert answer.status_code == 422 and answer.json()["error"]["field"] == "cursor"
    assert client.get("/history", params={"cursor": cursor}).status_code == 422


@pytest.mark.parametrize("settings_overrides", [{"rate_limit_submit_per_user": "2/hour"}], indirect=True)
def test_another_site_cannot_spend_a_persons_submission_limit(client, context):
    from tests.conftest import image_bytes

    token = signed_in(client, context)
    files = [("image", ("a.png", image_bytes("coffee.png"), "image/png"))]
    for _ in range(3):
        forged = client.post("/api/v1/edits", data={"prompt": "Brighter"}, files=files,
                             headers={"Origin": "https://evil.example"})
        assert forged.status_code == 403
    own = client.post("/api/v1/edits", data={"prompt": "Brighter"}, files=files, headers={"X-CSRF-Token": token})
    assert own.status_code == 202, own.text
