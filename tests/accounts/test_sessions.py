"""Signed-in sessions (app.accounts.lifecycle): each browser's session is listed with its browser in words,
its address and when it was last active; a person ends any one, or all the others, from the account page or
the API. API keys show when they were last used."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from app.accounts import devices
from tests.conftest import api_key_for, create_user, login

FIREFOX = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0"
SAFARI = ("Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
          "Version/18.1 Mobile/15E148 Safari/604.1")


def test_sessions_are_listed_and_ended(client, app, context):
    create_user(context, email="owner@example.com")
    client.headers["User-Agent"] = FIREFOX
    csrf = {"X-CSRF-Token": login(client, "owner@example.com")}
    with TestClient(app, headers={"User-Agent": SAFARI}) as phone:
        login(phone, "owner@example.com")
        listed = client.get("/api/v1/me/sessions").json()["items"]
        assert sorted(item["browser"] for item in listed) == ["Firefox on Windows", "Safari on iPhone"]
        mine = next(item for item in listed if item["current"])
        other = next(item for item in listed if not item["current"])
        assert mine["browser"] == "Firefox on Windows" and mine["ip_address"] == "testclient"
        assert mine["created_at"] and mine["last_seen_at"]

        assert client.delete(f"/api/v1/me/sessions/{other['id']}", headers=csrf).status_code == 204
        assert phone.get("/api/v1/me").status_code == 401
        assert client.get("/api/v1/me").status_code == 200
        assert client.delete(f"/api/v1/me/sessions/{other['id']}", headers=csrf).status_code == 404
    assert [item["current"] for item in client.get("/api/v1/me/sessions").json()["items"]] == [True]


def test_another_persons_session_is_not_found(client, app, context):
    create_user(context, email="a@example.com")
    create_user(context, email="b@example.com")
    with TestClient(app) as intruder:
        login(intruder, "b@example.com")
        theirs = intruder.get("/api/v1/me/sessions").json()["items"][0]["id"]
    csrf = {"X-CSRF-Token": login(client, "a@example.com")}
    assert client.delete(f"/api/v1/me/sessions/{theirs}", headers=csrf).status_code == 404


def test_ending_ones_own_session_signs_out(client, context):
    create_user(context, email="self@example.com")
    csrf = {"X-CSRF-Token": login(client, "self@example.com")}
    own = client.get("/api/v1/me/sessions").json()["items"][0]["id"]
    assert client.delete(f"/api/v1/me/sessions/{own}", headers=csrf).status_code == 204
    assert client.get("/api/v1/me").status_code == 401


def test_account_page_lists_sessions_and_ends_the_others(client, app, context):
    user = create_user(context, email="pager@example.com")
    key = api_key_for(context, user.id)
    client.get("/api/v1/me", headers={"Authorization": f"Bearer {key}"})  # the key's first use
    client.headers["User-Agent"] = FIREFOX
    csrf = login(client, "pager@example.com")
    with TestClient(app, headers={"User-Agent": SAFARI}) as phone, TestClient(app) as tablet:
        login(phone, "pager@example.com")
        login(tablet, "pager@example.com")
        page = client.get("/account").text
        assert "Safari on iPhone" in page and "Firefox on Windows" in page and "This browser" in page
        assert page.count("data-session=") == 3
        # API keys show their last use.
        keys = page[page.index('id="api-keys"'):]
        assert "never" not in keys.split("</table>")[0]

        ended = client.post("/account/sessions/end-others", data={"csrf_token": csrf}, follow_redirects=False)
        assert ended.status_code == 303
        assert "other browsers are signed out" in client.get(ended.headers["location"]).text
        assert phone.get("/api/v1/me").status_code == 401 and tablet.get("/api/v1/me").status_code == 401
    assert client.get("/account").text.count("data-session=") == 1


@pytest.mark.nodb
@pytest.mark.parametrize("agent, words", [
    (FIREFOX, "Firefox on Windows"),
    (SAFARI, "Safari on iPhone"),
    ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 "
     "Safari/537.36 Edg/131.0.2903.86", "Edge on macOS"),
    ("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile "
     "Safari/537.36", "Chrome on Android"),
    ("curl/8.5.0", "curl"),
    (None, "Unknown browser"),
    ("", "Unknown browser"),
])
def test_browsers_in_words(agent, words):
    assert devices.describe(agent) == words
