"""Through the real routes: free credits cannot be farmed, passwords cannot be guessed, and a log-in that is
checking a password holds no database lock."""

from __future__ import annotations

import threading

import pytest

from app.accounts import passwords
from tests.conftest import api_key_for, create_user


def sign_up(client, email: str) -> dict:
    answer = client.post("/api/v1/auth/signup", json={"email": email, "password": "long enough"})
    assert answer.status_code == 201, answer.text
    client.cookies.clear()
    return answer.json()


def test_one_mailbox_gets_the_free_credits_once(client):
    assert sign_up(client, "shop@example.com")["balance"] == 10
    # Tags and (for Gmail) dots reach the same mailbox: new accounts, but no more free credits.
    assert sign_up(client, "shop+2@example.com")["balance"] == 0
    assert sign_up(client, "first.last@gmail.com")["balance"] == 10
    assert sign_up(client, "firstlast+x@googlemail.com")["balance"] == 0


@pytest.mark.parametrize("settings_overrides", [{"signup_grants_per_address_per_day": 2}], indirect=True)
def test_one_address_gets_free_credits_for_a_few_accounts_a_day(client):
    balances = [sign_up(client, f"person{n}@example.com")["balance"] for n in range(4)]
    assert balances == [10, 10, 0, 0]


@pytest.mark.parametrize("settings_overrides", [{"rate_limit_signup_per_address": "3/hour"}], indirect=True)
def test_sign_ups_from_one_address_are_limited(client):
    for n in range(3):
        sign_up(client, f"farm{n}@example.com")
    refused = client.post("/api/v1/auth/signup", json={"email": "farm9@example.com", "password": "long enough"})
    assert refused.status_code == 429 and refused.json()["error"]["code"] == "rate_limited"
    assert int(refused.headers["retry-after"]) > 0


def test_guessing_a_password_is_locked_and_the_answer_never_reveals_the_account(client, context):
    create_user(context, email="owner@example.com", password="the right one")
    answers = {}
    for email in ("owner@example.com", "nobody@example.com"):
        statuses = [client.post("/api/v1/auth/login", json={"email": email, "password": f"guess {n}"}).status_code
                    for n in range(12)]
        assert statuses[0] == 401 and statuses[-1] == 429, statuses
        locked = client.post("/api/v1/auth/login", json={"email": email, "password": "guess"})
        answers[email] = (statuses, locked.json()["error"]["code"])
    assert answers["owner@example.com"] == answers["nobody@example.com"]
    # While locked, even the right password is refused; the message says so.
    right = client.post("/api/v1/auth/login", json={"email": "owner@example.com", "password": "the right one"})
    assert right.status_code == 429 and right.headers["retry-after"]


def test_the_log_in_page_is_limited_too(client, context):
    create_user(context, email="page@example.com", password="the right one")
    client.get("/login")
    token = client.cookies["csrftoken"]
    statuses = [client.post("/login", data={"email": "page@example.com", "password": "wrong", "csrf_token": token},
                            follow_redirects=False).status_code for _ in range(12)]
    assert statuses[0] == 401 and statuses[-1] == 429


def test_a_log_in_checking_a_password_holds_no_lock(client, context):
    """While a log-in waits inside the password check, another person's write goes through."""
    create_user(context, email="slow@example.com", password="the right one")
    other = create_user(context, email="busy@example.com")
    key = api_key_for(context, other.id)
    taken = [passwords._hashing_slots.acquire(blocking=False) for _ in range(64)]  # hold every hashing slot
    outcome: dict[str, int] = {}
    login = threading.Thread(target=lambda: outcome.update(status=client.post(
        "/api/v1/auth/login", json={"email": "slow@example.com", "password": "the right one"}).status_code))
    try:
        login.start()
        login.join(timeout=1.0)
        assert login.is_alive(), "the log-in should be waiting for a hashing slot"
        created = client.post("/api/v1/api-keys", json={"name": "meanwhile"},
                              headers={"Authorization": f"Bearer {key}"})
        assert created.status_code == 201
        assert login.is_alive()
    finally:
        for held in taken:
            if held:
                passwords._hashing_slots.release()
    login.join(timeout=60)
    assert outcome["status"] == 200


class SlowStorage:
    """Storage whose writes wait until released (a slow object store), delegating everything else."""

    def __init__(self, inner) -> None:
        self.inner, self.writing, self.release = inner, threading.Event(), threading.Event()

    def put(self, *args, **kwargs):
        self.writing.set()
        self.release.wait(60)
        return self.inner.put(*args, **kwargs)

    def __getattr__(self, name):
        return getattr(self.inner, name)


def test_a_submission_writing_its_files_holds_no_lock(client, context):
    """While one person's upload is being written to storage, another person's write goes through."""
    from tests.conftest import image_bytes

    uploader, other = create_user(context, email="up@example.com"), create_user(context, email="other@example.com")
    storage = SlowStorage(context.storage)
    context.storage = storage
    outcome: dict[str, int] = {}
    submit = threading.Thread(target=lambda: outcome.update(status=client.post(
        "/api/v1/edits", headers={"Authorization": f"Bearer {api_key_for(context, uploader.id)}"},
        data={"prompt": "Brighter"}, files=[("image", ("a.png", image_bytes("coffee.png"), "image/png"))],
    ).status_code))
    other_key = api_key_for(context, other.id)
    try:
        submit.start()
        assert storage.writing.wait(60), "the upload never reached storage"
        meanwhile: dict[str, int] = {}
        write = threading.Thread(target=lambda: meanwhile.update(status=client.post(
            "/api/v1/api-keys", json={"name": "meanwhile"}, headers={"Authorization": f"Bearer {other_key}"},
        ).status_code))
        write.start()
        write.join(timeout=20)
        assert meanwhile.get("status") == 201, "another person's write waited for the upload's storage"
    finally:
        storage.release.set()
        submit.join(timeout=60)
    assert outcome["status"] == 202
