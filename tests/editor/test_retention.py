"""RETENTION_DAYS: the sweep removes exactly the inputs and results of edits older than that, in bounded
batches, and the pages say so; without the setting nothing is removed. The background sweep is slowed down
so that each pass here is the one under test."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import update

from app.editor import retention
from app.models import Edit
from app.models.base import utcnow
from tests.api.test_edits_api import submit
from tests.conftest import api_key_for, create_user, login, stored_files, verify_ledger, wait_for_edit


def age(context, edit_id: str, days: float) -> None:
    """Move an edit into the past, as if it had been made and finished `days` ago."""
    then = utcnow() - timedelta(days=days)
    with context.transaction() as db:
        db.execute(update(Edit).where(Edit.id == edit_id).values(created_at=then, started_at=then, finished_at=then))


def files_of(settings, edit_id: str) -> list[str]:
    return [path.name for path in stored_files(settings) if edit_id in str(path)]


@pytest.fixture
def person(context, client):
    user = create_user(context, credits=200)
    return user, {"Authorization": f"Bearer {api_key_for(context, user.id)}"}


@pytest.mark.parametrize("settings_overrides", [{"retention_days": 30, "sweep_interval_seconds": 3600}], indirect=True)
def test_retention_removes_exactly_the_old_files(client, context, settings, person):
    user, headers = person
    old, recent = (wait_for_edit(client, submit(client, headers).json()["id"], headers=headers) for _ in range(2))
    assert client.get(f"/api/v1/edits/{old['id']}/result/preview", headers=headers).status_code == 200
    age(context, old["id"], 31)
    age(context, recent["id"], 29)
    recent_files = files_of(settings, recent["id"])
    assert len(files_of(settings, old["id"])) == 3 and len(recent_files) == 2  # the old one has a preview too

    assert retention.sweep(context) == 1
    assert files_of(settings, old["id"]) == []
    assert files_of(settings, recent["id"]) == recent_files
    assert retention.sweep(context) == 0  # already done: nothing twice

    kept = client.get(f"/api/v1/edits/{old['id']}", headers=headers)
    assert kept.status_code == 200 and kept.json()["prompt"] == old["prompt"]  # the record stays
    assert client.get(f"/api/v1/edits/{old['id']}/result", headers=headers).status_code == 404
    assert client.get(f"/api/v1/edits/{recent['id']}/result", headers=headers).status_code == 200
    assert len(client.get("/api/v1/ledger", headers=headers).json()["items"]) == 5
    verify_ledger(context)

    client.headers.clear()
    login(client, user.email)
    history = client.get("/history").text
    assert "removed after 30 days" in history and "Files removed after 30 days" in history
    detail = client.get(f"/edits/{old['id']}").text
    assert "Images removed" in detail and "30 days after it finished" in detail
    assert "removed after 30 days" in client.get(f"/edits/{recent['id']}").text


@pytest.mark.parametrize("settings_overrides", [{"retention_days": 1, "sweep_interval_seconds": 3600}], indirect=True)
def test_retention_works_in_bounded_batches(client, context, settings, person):
    _, headers = person
    edits = [wait_for_edit(client, submit(client, headers).json()["id"], headers=headers) for _ in range(3)]
    for edit in edits:
        age(context, edit["id"], 2)
    assert retention.sweep(context, batch=2) == 2
    assert retention.sweep(context, batch=2) == 1
    assert retention.sweep(context, batch=2) == 0
    assert all(files_of(settings, edit["id"]) == [] for edit in edits)


def test_without_retention_days_nothing_is_removed(client, context, settings, person):
    _, headers = person
    edit = wait_for_edit(client, submit(client, headers).json()["id"], headers=headers)
    age(context, edit["id"], 3650)
    assert retention.sweep(context) == 0
    assert len(files_of(settings, edit["id"])) == 2
    assert "removed after" not in client.get("/history", headers=headers).text
