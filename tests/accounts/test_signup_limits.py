"""The per-network sign-up limits (app.limits.signup_attempt): a refusal shows on the form itself, with what
was typed; accounts made and "address taken" answers count against the sign-up limit, typos only against
the looser limit on attempts, which still bounds a script's probes."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from tests.conftest import create_user


def sign_up_page(client: TestClient, email: str, password: str = "long enough"):
    """Post the sign-up form as a fresh browser on the same network would."""
    client.cookies.clear()
    client.get("/signup")
    return client.post("/signup", data={"email": email, "password": password, "next": "/edit",
                                        "csrf_token": client.cookies["csrftoken"]}, follow_redirects=False)


def test_typos_do_not_spend_the_limit_and_the_refusal_keeps_the_form(client, context):
    """The trial's sequence (default limits): three sign-ups, a common password, a taken address."""
    assert [sign_up_page(client, f"office{n}@example.com").status_code for n in range(3)] == [303] * 3
    assert sign_up_page(client, "office3@example.com", "password123").status_code == 422
    assert sign_up_page(client, "office0@example.com").status_code == 409
    # The common password made nothing and told nothing: the next person still gets in.
    assert sign_up_page(client, "office4@example.com").status_code == 303

    refused = sign_up_page(client, "office5@example.com")
    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) > 60
    assert 'action="/signup"' in refused.text and 'value="office5@example.com"' in refused.text
    assert re.search(r'role="alert"[^>]*>Too many sign-ups from your network\. Wait \d+ minutes', refused.text)
    assert "ERROR 429" not in refused.text.upper()


@pytest.mark.parametrize("settings_overrides", [{"rate_limit_signup_per_address": "2/hour",
                                                 "rate_limit_signup_attempts_per_address": "6/hour"}], indirect=True)
def test_an_address_taken_answer_counts_like_a_sign_up(client):
    def api(email: str, password: str = "long enough") -> int:
        client.cookies.clear()
        return client.post("/api/v1/auth/signup", json={"email": email, "password": password}).status_code

    assert api("first@example.com") == 201
    assert api("second@example.com", "password123") == 422
    assert api("not an address") == 422
    assert api("first@example.com") == 409  # tells that the address has an account: counts
    assert api("second@example.com") == 429


@pytest.mark.parametrize("settings_overrides", [{"rate_limit_signup_attempts_per_address": "3/hour"}], indirect=True)
def test_probes_of_any_kind_are_bounded(client, context):
    create_user(context, email="known@example.com")
    client.get("/signup")
    csrf = client.cookies["csrftoken"]
    probes = [client.post("/api/v1/auth/signup", json={"email": "known@example.com", "password": "password1"}),
              client.post("/api/v1/auth/signup", json={"email": "x@", "password": "long enough"}),
              client.post("/signup", data={"email": "y@example.com", "password": "short", "csrf_token": csrf})]
    assert [probe.status_code for probe in probes] == [422, 422, 422]
    for refused in (client.post("/api/v1/auth/signup", json={"email": "z@example.com", "password": "long enough"}),
                    client.post("/signup", data={"email": "z@example.com", "password": "long enough",
                                                 "csrf_token": csrf})):
        assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
        assert "Too many sign-up attempts from your network" in refused.text
    assert 'value="z@example.com"' in refused.text
    assert client.get("/api/v1/me").status_code == 401  # nothing was made


def test_a_locked_log_in_keeps_the_form(client, context):
    create_user(context, email="page@example.com", password="the right one")
    client.get("/login")
    csrf = client.cookies["csrftoken"]
    for _ in range(12):
        locked = client.post("/login", data={"email": "page@example.com", "password": "wrong", "csrf_token": csrf})
    assert locked.status_code == 429 and int(locked.headers["Retry-After"]) > 0
    assert 'action="/login"' in locked.text and 'value="page@example.com"' in locked.text
    assert "Too many failed log-ins. Wait" in locked.text
