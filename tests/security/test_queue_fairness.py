"""One person's queue never blocks everyone's: workers take turns between people instead of first in, first
out, and a person may only have EDIT_MAX_ACTIVE_PER_USER edits waiting or running at once.

The queue is driven by hand: no worker threads run, and `deliver` hands the next message of the in-process
queue to its task, exactly as a worker thread would. So every order below is decided by the claim rule,
never by timing."""

from __future__ import annotations

import io
import threading
import time
from datetime import timedelta

import pytest
from dramatiq.common import dq_name
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import func, select, update

from app.editor.sweeper import sweep
from app.main import create_app
from app.models import Edit, Transfer
from app.models.base import utcnow
from app.queue import QUEUE_NAME
from tests.conftest import api_key_for, create_user, stored_files, verify_ledger


@pytest.fixture
def app(context):
    return create_app(context=context, run_workers=False)


def png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (96, 64), "teal").save(buffer, "PNG")
    return buffer.getvalue()


def person(context, credits: int = 100) -> dict[str, str]:
    user = create_user(context, credits=credits)
    return {"Authorization": f"Bearer {api_key_for(context, user.id)}"}


def submit(client: TestClient, headers: dict[str, str], prompt: str = "Brighter", **extra_headers: str):
    return client.post("/api/v1/edits", headers={**headers, **extra_headers},
                       data={"prompt": prompt, "quality": "low", "resolution": "1K", "output_format": "jpeg"},
                       files=[("image", ("a.png", png(), "image/png"))])


def queued(client: TestClient, headers: dict[str, str], count: int = 1) -> list[str]:
    ids = []
    for n in range(count):
        response = submit(client, headers, prompt=f"Brighter {n}")
        assert response.status_code == 202, response.text
        ids.append(response.json()["id"])
    return ids


def attempts(context) -> dict[str, int]:
    with context.transaction() as db:
        return {edit_id: count for edit_id, count in db.execute(select(Edit.id, Edit.attempts))}


def deliver(context, *, delayed: bool = False) -> list[str]:
    """Give the next message (of the delay queue, as if its time had come) to its task; the edits that
    started because of it."""
    broker = context.queue.broker
    consumer = broker.consume(dq_name(QUEUE_NAME) if delayed else QUEUE_NAME, timeout=10)
    message = next(consumer)
    assert message is not None, "no message waiting"
    before = attempts(context)
    try:
        broker.get_actor(message.actor_name)(*message.args)
    finally:
        consumer.ack(message)
    return [edit_id for edit_id, count in attempts(context).items() if count > before.get(edit_id, 0)]


def waiting_messages(context, *, delayed: bool = False) -> int:
    return context.queue.broker.queues[dq_name(QUEUE_NAME) if delayed else QUEUE_NAME].qsize()


def statuses(context, ids: list[str]) -> list[str]:
    with context.transaction() as db:
        rows = db.execute(select(Edit.id, Edit.status).where(Edit.id.in_(ids)))
        found = {edit_id: status for edit_id, status in rows}
    return [found[edit_id] for edit_id in ids]


def test_another_persons_edit_is_not_stuck_behind_one_persons_backlog(client, context):
    alice, bob = person(context), person(context)
    a = queued(client, alice, 6)
    [b] = queued(client, bob)
    assert waiting_messages(context) == 7  # one message per queued edit

    order = [edit_id for _ in range(7) for edit_id in deliver(context)]

    # Alice's first edit was alone when it started; then Bob's turn comes before her next five.
    assert order == [a[0], b, *a[1:]]
    assert waiting_messages(context) == 0
    assert statuses(context, [*a, b]) == ["succeeded"] * 7
    verify_ledger(context)


def test_a_free_worker_takes_the_person_with_nothing_running(client, context, backend):
    alice, bob = person(context), person(context)
    a = queued(client, alice, 6)
    [b] = queued(client, bob)
    backend.gate.clear()  # the backend holds every edit it is given until the gate opens
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            deliver(context)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    first, second = threading.Thread(target=worker), threading.Thread(target=worker)
    first.start()
    assert backend.started.wait(30)
    second.start()
    deadline = time.monotonic() + 30
    while statuses(context, [*a, b]).count("running") < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    # Two workers busy: one with Alice's oldest edit, the other with Bob's, not with Alice's second.
    assert statuses(context, [*a, b]) == ["running", *["queued"] * 5, "running"]
    backend.gate.set()
    first.join(30)
    second.join(30)
    assert errors == []
    assert [edit_id for _ in range(5) for edit_id in deliver(context)] == a[1:]
    verify_ledger(context)


@pytest.mark.parametrize("settings_overrides", [{"retry_base_seconds": 3600}], indirect=True)
def test_an_edit_waiting_to_be_retried_is_not_started_early_and_still_takes_its_turn(client, context, backend):
    alice, bob = person(context), person(context)
    [retried] = queued(client, alice)
    backend.unavailable = 1
    assert deliver(context) == [retried]  # fails for a moment: retried in an hour
    assert statuses(context, [retried]) == ["queued"]
    [later] = queued(client, alice)
    [b] = queued(client, bob)

    # Alice was served last (her first attempt), so Bob goes first; her retry waits for its time.
    assert deliver(context) == [b]
    assert deliver(context) == [later]
    # A restart sends every queued edit again at once: that message must not start the retry early either,
    # and a message for the retry's time is kept.
    assert sweep(context, resend_all_queued=True) == 1
    assert deliver(context) == []
    assert statuses(context, [retried]) == ["queued"]
    assert waiting_messages(context) == 0 and waiting_messages(context, delayed=True) == 2

    with context.transaction() as db:  # the hour has passed
        db.execute(update(Edit).where(Edit.id == retried).values(lease_until=utcnow() - timedelta(seconds=1)))
    assert deliver(context, delayed=True) == [retried]
    assert deliver(context, delayed=True) == []
    assert statuses(context, [retried, later, b]) == ["succeeded"] * 3
    assert attempts(context)[retried] == 2
    verify_ledger(context)


def test_too_many_active_edits_answers_429_and_stores_and_charges_nothing(client, context, settings):
    limit = context.settings.edit_max_active_per_user
    alice = person(context)
    accepted = []
    for n in range(limit):
        response = submit(client, alice, prompt=f"Brighter {n}", **{"Idempotency-Key": f"batch-{n}"})
        assert response.status_code == 202, response.text
        accepted.append(response.json()["id"])
    me = client.get("/api/v1/me", headers=alice).json()
    files = sorted(stored_files(settings))
    with context.transaction() as db:
        transfers = db.execute(select(func.count()).select_from(Transfer)).scalar_one()

    refused = submit(client, alice, prompt="One more", **{"Idempotency-Key": "one-more"})

    assert refused.status_code == 429, refused.text
    error = refused.json()["error"]
    assert error["code"] == "too_many_active_edits"
    assert error["message"] == f"You have {limit} edits waiting or running; wait for one to finish."
    assert int(refused.headers["Retry-After"]) >= 1
    assert client.get("/api/v1/me", headers=alice).json() == me  # nothing charged or reserved
    assert sorted(stored_files(settings)) == files  # no input kept
    with context.transaction() as db:
        assert db.execute(select(func.count()).select_from(Edit)).scalar_one() == limit
        assert db.execute(select(func.count()).select_from(Transfer)).scalar_one() == transfers
    # A retried request is still answered with its edit, and another person is not held back.
    replay = submit(client, alice, prompt="Brighter 0", **{"Idempotency-Key": "batch-0"})
    assert replay.status_code == 202 and replay.json()["id"] == accepted[0]
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert submit(client, person(context)).status_code == 202
    # Once one of Alice's edits has finished she may submit again.
    assert deliver(context) == [accepted[0]]
    assert submit(client, alice, prompt="One more", **{"Idempotency-Key": "one-more"}).status_code == 202
    verify_ledger(context)
