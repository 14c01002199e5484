"""A worker that looks for the fairest edit while another worker starts that very edit still starts the next
one: its message is never used up with an edit left waiting (which then waited for the sweeper's
STALE_QUEUED; `make load` found it on the two-worker topology). PostgreSQL only: SQLite has one writer at a
time, so no other worker can start an edit while one looks."""

from __future__ import annotations

import os
from datetime import timedelta

import pytest
from sqlalchemy import event, select, update

from app.editor.runner import Runner, _fairest_ready
from app.models import Edit
from app.models.base import utcnow
from tests.conftest import api_key_for, create_user
from tests.editor.test_pipeline import submit

pytestmark = pytest.mark.skipif(os.environ.get("TEST_DATABASE") != "postgresql",
                                reason="needs two writers at once (PostgreSQL)")


@pytest.fixture
def settings_overrides():
    return {"edit_workers": 0}  # no worker threads: this test plays both workers


def test_a_message_starts_the_next_edit_when_another_worker_takes_the_fairest_first(client, context):
    ids = []
    for _ in range(2):
        user = create_user(context, credits=10)
        response = submit(client, {"Authorization": f"Bearer {api_key_for(context, user.id)}"})
        assert response.status_code == 202, response.text
        ids.append(response.json()["id"])
    first, second = ids
    taken: list[str] = []
    inside = [False]  # the other worker's own statements pass through this hook too

    def other_worker_starts_the_fairest(conn, cursor, statement, parameters, context_, executemany):
        # Just before this worker reads which edit to start, the other worker starts the fairest one.
        if taken or inside[0] or not statement.startswith("SELECT edits.id \nFROM edits"):
            return
        inside[0] = True
        with context.transaction() as db:
            fairest = _fairest_ready(db, utcnow(), context.settings.max_attempts)
            assert fairest is not None
            db.execute(update(Edit).where(Edit.id == fairest).values(
                status="running", attempts=1, lease_until=utcnow() + timedelta(minutes=5)))
            taken.append(fairest)

    event.listen(context.engine, "before_cursor_execute", other_worker_starts_the_fairest)
    try:
        Runner(context).run(first)  # the message sent for the first edit
    finally:
        event.remove(context.engine, "before_cursor_execute", other_worker_starts_the_fairest)

    assert taken == [first]
    with context.transaction() as db:
        assert db.execute(select(Edit.status).where(Edit.id == second)).scalar() == "succeeded"
