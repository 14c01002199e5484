"""The pipeline keeps its promises under failure: retries are bounded, crashed workers are replaced, a
server restart finishes what was running, and every reservation is settled exactly once."""

from __future__ import annotations

import io
import time
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import select, update

from app.context import build_context
from app.editor.sweeper import sweep
from app.main import create_app
from app.models import Edit, Transfer
from app.models.base import utcnow
from tests.conftest import api_key_for, create_user, stored_files, verify_ledger, wait_for_edit


def png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (160, 90), "teal").save(buffer, "PNG")
    return buffer.getvalue()


def submit(client, headers, **fields):
    return client.post("/api/v1/edits", data={"prompt": "Brighter", **fields}, headers=headers,
                       files=[("image", ("a.png", png(), "image/png"))])


def transfers_of(context, edit_id):
    with context.transaction() as db:
        return sorted(t.kind for t in db.execute(select(Transfer).where(Transfer.edit_id == edit_id)).scalars())


@pytest.fixture
def person(context):
    user = create_user(context, credits=50)
    return {"user": user, "headers": {"Authorization": f"Bearer {api_key_for(context, user.id)}"}}


def test_transient_failure_is_retried_and_charged_once(client, person, backend, context):
    backend.unavailable = 2
    edit = wait_for_edit(client, submit(client, person["headers"]).json()["id"], headers=person["headers"])
    assert edit["status"] == "succeeded"
    assert backend.calls == 3
    assert transfers_of(context, edit["id"]) == ["post", "reserve"]
    verify_ledger(context)


def test_retries_are_bounded_and_the_credits_come_back(client, person, backend, context):
    backend.unavailable = 10
    edit = wait_for_edit(client, submit(client, person["headers"]).json()["id"], headers=person["headers"])
    assert edit["status"] == "failed" and edit["error"]["code"] == "backend_unavailable"
    assert backend.calls == context.settings.max_attempts
    assert transfers_of(context, edit["id"]) == ["reserve", "void"]
    assert client.get("/api/v1/me", headers=person["headers"]).json()["balance"] == 50
    verify_ledger(context)


def test_a_restart_during_a_running_edit_still_ends_it(settings, person, backend):
    """Server A dies while its worker is inside the backend; server B starts on the same database and
    files, takes the edit up and finishes it; A's late answer changes nothing."""
    first = build_context(settings)
    backend_a = first.backend
    backend_a.gate.clear()
    with TestClient(create_app(context=first)) as client_a:
        response = submit(client_a, person["headers"], quality="high")
        edit_id = response.json()["id"]
        assert backend_a.started.wait(10)
        assert client_a.get(f"/api/v1/edits/{edit_id}", headers=person["headers"]).json()["status"] == "running"
        # "Crash": server B starts while A's worker is still stuck; with the in-process queue B is the only
        # worker there is, so it takes over at once.
        second = build_context(settings)
        with TestClient(create_app(context=second)) as client_b:
            edit = wait_for_edit(client_b, edit_id, headers=person["headers"])
            assert edit["status"] == "succeeded"
            result = client_b.get(edit["result_url"], headers=person["headers"])
            assert Image.open(io.BytesIO(result.content)).size == (edit["width"], edit["height"])
            backend_a.gate.set()  # A's worker wakes up and tries to finish its stale attempt
            assert backend_a.finished.wait(10)
            time.sleep(0.5)  # let A's runner store, lose the race for the edit, and clean up
            assert client_b.get(edit["result_url"], headers=person["headers"]).content == result.content
            with second.transaction() as db:
                row = db.get(Edit, edit_id)
                assert row.attempts == 2 and row.status == "succeeded"
            assert transfers_of(second, edit_id) == ["post", "reserve"]
            assert client_b.get("/api/v1/me", headers=person["headers"]).json()["balance"] == 50 - edit["credits"]
            verify_ledger(second)
            # A's attempt wrote no second result file: one input and one result remain.
            assert len([p for p in stored_files(settings) if edit_id in str(p)]) == 2
        second.queue.stop()
        second.engine.dispose()
    first.engine.dispose()


# The test calls the sweep itself: the periodic one must not race it to the two edits.
@pytest.mark.parametrize("settings_overrides", [{"sweep_interval_seconds": 3600}], indirect=True)
def test_sweeper_requeues_an_expired_lease_and_fails_after_the_last_attempt(client, person, context):
    headers = person["headers"]
    done = wait_for_edit(client, submit(client, headers).json()["id"], headers=headers)
    assert done["status"] == "succeeded"
    # Two edits a dead worker left behind (as a shared-queue deployment would see them).
    stuck = submit(client, headers).json()["id"]
    exhausted = submit(client, headers).json()["id"]
    wait_for_edit(client, stuck, headers=headers)
    wait_for_edit(client, exhausted, headers=headers)
    with context.transaction() as db:
        for edit_id, attempts in ((stuck, 1), (exhausted, context.settings.max_attempts)):
            db.execute(update(Edit).where(Edit.id == edit_id).values(
                status="running", attempts=attempts, lease_until=utcnow() - timedelta(seconds=1),
                result_key=None, finished_at=None))
        # Undo their settlements so the ledger matches "still running".
        db.execute(Transfer.__table__.delete().where(Transfer.edit_id.in_([stuck, exhausted]),
                                                     Transfer.kind == "post"))
    _rebuild_account(context, person["user"].id)
    assert sweep(context) == 2
    assert wait_for_edit(client, stuck, headers=headers)["status"] == "succeeded"
    failed = wait_for_edit(client, exhausted, headers=headers)
    assert failed["status"] == "failed" and failed["error"]["code"] == "worker_lost"
    assert transfers_of(context, exhausted) == ["reserve", "void"]
    verify_ledger(context)


def _rebuild_account(context, user_id):
    """Recompute the account's sums from its transfers (after a test rewrote history by hand)."""
    from app.billing.ledger import KINDS
    from app.models import Account

    with context.transaction() as db:
        account = db.get(Account, user_id)
        sums = dict(credits_posted=0, debits_posted=0, debits_pending=0, outstanding=0)
        for transfer in db.execute(select(Transfer).where(Transfer.account_id == user_id)).scalars():
            effect = KINDS[transfer.kind]
            for name in sums:
                sums[name] += getattr(effect, name) * transfer.amount
        for name, value in sums.items():
            setattr(account, name, value)


def test_a_lost_queue_message_is_sent_again(client, person, context):
    headers = person["headers"]
    # Stop the workers from seeing new messages by submitting straight into the database's queued state
    # with an old enqueued_at (what a lost message looks like), then let the sweeper find it.
    response = submit(client, headers)
    edit_id = response.json()["id"]
    wait_for_edit(client, edit_id, headers=headers)
    with context.transaction() as db:
        db.execute(update(Edit).where(Edit.id == edit_id).values(
            status="queued", attempts=1, result_key=None, finished_at=None,
            enqueued_at=utcnow() - timedelta(hours=1)))
        db.execute(Transfer.__table__.delete().where(Transfer.edit_id == edit_id, Transfer.kind == "post"))
    _rebuild_account(context, person["user"].id)
    assert sweep(context) == 1
    assert wait_for_edit(client, edit_id, headers=headers)["status"] == "succeeded"
    verify_ledger(context)
