"""The pages mailed links open (app.accounts.pages): a spent, expired or broken link says so as the page
opens, with the way to a new one, instead of a form that fails only once filled in; opening a good link
uses nothing up."""

from __future__ import annotations

import time

import pytest
from itsdangerous import TimestampSigner

from app.accounts import lifecycle
from app.accounts.service import find_user
from app.models import User
from tests.conftest import create_user

SPENT = "This link was already used or has expired"


@pytest.fixture
def person(context) -> User:
    create_user(context, email="linked@example.com")
    with context.read_transaction() as db:
        return find_user(db, "linked@example.com")


def expired_token(context, purpose: str, user: User, hours: int, monkeypatch) -> str:
    made_at = int(time.time()) - hours * 3600 - 60
    monkeypatch.setattr(TimestampSigner, "get_timestamp", lambda self: made_at)
    token = lifecycle.make_token(context, purpose, user)
    monkeypatch.undo()
    return token


def test_the_reset_page_checks_its_link_as_it_opens(client, context, person, monkeypatch):
    token = lifecycle.make_token(context, lifecycle.RESET, person)
    for _ in range(2):  # opening the page (a mail scanner, a second look) uses nothing up
        fresh = client.get(f"/reset-password?token={token}")
        assert fresh.status_code == 200 and 'name="password"' in fresh.text and SPENT not in fresh.text

    lifecycle.reset_password(context, token, "brand new secret")
    expired = expired_token(context, lifecycle.RESET, person, lifecycle.RESET_LINK_HOURS, monkeypatch)
    for spent, says in ((token, "already used"), (expired, "expired")):
        page = client.get(f"/reset-password?token={spent}")
        assert page.status_code == 400 and SPENT in page.text and says in page.text
        assert 'name="password"' not in page.text and 'href="/forgot-password"' in page.text

    tampered = client.get(f"/reset-password?token={token[:-3]}xyz")
    assert tampered.status_code == 400 and "This link is not valid" in tampered.text
    assert 'name="password"' not in tampered.text and 'href="/forgot-password"' in tampered.text


def test_the_confirmation_page_checks_its_link_as_it_opens(client, context, person, monkeypatch):
    token = lifecycle.make_token(context, lifecycle.CONFIRM, person)
    for _ in range(2):
        fresh = client.get(f"/verify-email?token={token}")
        assert fresh.status_code == 200 and "Confirm my address" in fresh.text
    assert client.post("/api/v1/auth/verify-email", json={"token": token},
                       headers={"X-CSRF-Token": client.cookies["csrftoken"]}).status_code == 200

    used = client.get(f"/verify-email?token={token}")  # used, and the address is confirmed: good news
    assert used.status_code == 400 and "Address already confirmed" in used.text
    assert "your address is confirmed" in used.text and "Confirm my address" not in used.text

    expired = expired_token(context, lifecycle.CONFIRM, person, lifecycle.CONFIRM_LINK_HOURS, monkeypatch)
    with context.transaction() as db:  # an address changed since the link was mailed: the link is spent
        db.get(User, person.id).email = "moved@example.com"
    for spent, says in ((token, "already used"), (expired, "expired")):
        page = client.get(f"/verify-email?token={spent}")
        assert page.status_code == 400 and SPENT in page.text and says in page.text
        assert "Confirm my address" not in page.text and 'href="/login?next=/account%23security"' in page.text
