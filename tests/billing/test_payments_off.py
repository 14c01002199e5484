"""Without Stripe keys payments are off: the billing page says so plainly (and how an operator grants credits),
checkout answers 503 `payments_disabled`, and nothing is stored."""

from __future__ import annotations

import re
from typing import Any

import pytest

from app.models import TopUp
from tests.conftest import create_user, login


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {}


def test_checkout_answers_503_and_the_page_says_payments_are_off(client, context):
    user = create_user(context, credits=7)
    csrf = login(client, user.email)
    response = client.post("/api/v1/billing/checkout", json={"pack_id": "pack_100"}, headers={"X-CSRF-Token": csrf})
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "payments_disabled"
    assert "credits grant" in response.json()["error"]["message"]

    page = client.get("/billing")
    assert page.status_code == 200
    assert "Payments are off on this server." in page.text
    shown = re.sub(r"<[^>]+>", "", page.text)  # the command is split into unbreakable option spans
    assert f"python -m app credits grant --email {user.email} --amount 100" in shown
    assert 'action="/billing/checkout"' not in page.text and "Automatic top-up" not in page.text
    assert '<b data-testid="available">7</b>' in page.text

    form = client.post("/billing/checkout", data={"pack_id": "pack_100", "csrf_token": csrf})
    assert form.status_code == 503 and "Payments are not set up on this server" in form.text
    with context.transaction() as db:
        assert db.query(TopUp).count() == 0
