"""No balance goes negative under any concurrency: 200 simultaneous one-credit submissions against a
balance of 50 are accepted exactly 50 times, through the ledger and through the HTTP API."""

from __future__ import annotations

import io
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from PIL import Image

from app.billing import ledger
from app.errors import InsufficientCredits
from tests.conftest import api_key_for, create_user, verify_ledger, wait_for_edit


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    # This is the ledger under a storm from one person: the abuse limits (tests/security) would answer
    # most of it 429 before it reached the ledger.
    return {"edit_max_active_per_user": 1000, "rate_limits_enabled": False}


def test_200_concurrent_reserves_against_50_credits(context):
    user = create_user(context, credits=50)

    def reserve(n: int) -> bool:
        try:
            with context.transaction() as db:
                ledger.transfer(db, transfer_id=f"test:{n}:reserve", user_id=user.id, kind="reserve", amount=1)
            return True
        except InsufficientCredits:
            return False

    with ThreadPoolExecutor(max_workers=32) as pool:
        results = list(pool.map(reserve, range(200)))
    assert results.count(True) == 50
    with context.transaction() as db:
        balance = ledger.balance(db, user.id)
    assert (balance.available, balance.reserved) == (0, 50)
    verify_ledger(context)


def test_200_concurrent_submissions_against_50_credits(live_server, context):
    user = create_user(context, credits=50)
    headers = {"Authorization": f"Bearer {api_key_for(context, user.id)}"}
    buffer = io.BytesIO()
    Image.new("RGB", (64, 64), "orange").save(buffer, "PNG")
    image = buffer.getvalue()

    with httpx.Client(base_url=live_server.url, headers=headers, timeout=120,
                      limits=httpx.Limits(max_connections=40)) as http:
        def submit(n: int) -> httpx.Response:
            return http.post("/api/v1/edits", data={"prompt": f"Brighter {n}", "quality": "low", "resolution": "1K"},
                             files=[("image", ("a.png", image, "image/png"))])

        with ThreadPoolExecutor(max_workers=40) as pool:
            responses = list(pool.map(submit, range(200)))
        statuses = [response.status_code for response in responses]
        assert statuses.count(202) == 50, statuses
        assert statuses.count(402) == 150
        assert all(r.json()["error"]["code"] == "insufficient_credits" for r in responses if r.status_code == 402)
        for response in responses:
            if response.status_code == 202:
                assert wait_for_edit(http, response.json()["id"])["status"] == "succeeded"
        me = http.get("/api/v1/me").json()
        assert (me["balance"], me["reserved"]) == (0, 0)
    verify_ledger(context)
