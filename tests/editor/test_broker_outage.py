"""A message the broker could not take (Redis restarting) is not left for the sweeper's 15-minute stale check:
the edit is marked as having no message and the next sweep sends it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from app.editor.sweeper import sweep
from app.models import Edit, Transfer
from app.models.base import utcnow
from tests.conftest import api_key_for, create_user, verify_ledger, wait_for_edit
from tests.editor.test_pipeline import _rebuild_account, submit, transfers_of


@pytest.fixture
def broker_down(context, monkeypatch):
    """While `down[0]` is true, every send fails as the Redis broker's does when Redis is away."""
    down = [True]
    send = context.queue.send

    def failing_send(*args, **kwargs):
        if down[0]:
            raise ConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")
        return send(*args, **kwargs)

    monkeypatch.setattr(context.queue, "send", failing_send)
    return down


def enqueued_at(context, edit_id):
    with context.transaction() as db:
        return db.execute(select(Edit.status, Edit.enqueued_at).where(Edit.id == edit_id)).one()


def test_an_edit_submitted_while_the_broker_is_down_is_sent_by_the_next_sweep(client, context, broker_down):
    user = create_user(context, credits=10)
    headers = {"Authorization": f"Bearer {api_key_for(context, user.id)}"}
    response = submit(client, headers)
    assert response.status_code == 202, response.text  # stored and reserved: the broker is not the record
    edit_id = response.json()["id"]
    assert enqueued_at(context, edit_id) == ("queued", None)

    broker_down[0] = False
    sweep(context)
    assert wait_for_edit(client, edit_id, headers=headers)["status"] == "succeeded"
    assert transfers_of(context, edit_id) == ["post", "reserve"]
    verify_ledger(context)


def test_an_edit_the_sweeper_requeues_while_the_broker_is_down_is_sent_again(client, context, broker_down):
    user = create_user(context, credits=10)
    headers = {"Authorization": f"Bearer {api_key_for(context, user.id)}"}
    broker_down[0] = False
    edit_id = submit(client, headers).json()["id"]
    wait_for_edit(client, edit_id, headers=headers)
    broker_down[0] = True  # before the edit looks lost, so that no sweep in the background sends it first
    # What a worker killed mid-edit leaves: running, its lease lapsed, its credits still reserved.
    with context.transaction() as db:
        db.execute(update(Edit).where(Edit.id == edit_id).values(
            status="running", attempts=1, result_key=None, finished_at=None,
            lease_until=utcnow() - timedelta(seconds=1)))
        db.execute(Transfer.__table__.delete().where(Transfer.edit_id == edit_id, Transfer.kind == "post"))
    _rebuild_account(context, user.id)

    sweep(context)
    assert enqueued_at(context, edit_id) == ("queued", None)

    broker_down[0] = False
    sweep(context)
    assert wait_for_edit(client, edit_id, headers=headers)["status"] == "succeeded"
    assert transfers_of(context, edit_id) == ["post", "reserve"]
    verify_ledger(context)
