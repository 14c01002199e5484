"""Erase your data: deleting an account leaves no file of the person in storage (a local folder and S3),
refunds queued edits, ends keys and sessions, refuses log-in, keeps the ledger whole, and a new account for the
same mailbox gets no free credits again. Deleting one edit keeps its ledger entries and removes its files."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from app.billing import ledger
from app.models import Edit, Transfer, User
from app.models.base import utcnow
from tests.accounts.test_export import wait_for_export
from tests.api.test_edits_api import small_png, submit
from tests.conftest import PASSTHROUGH, api_key_for, create_user, login, stored_files, verify_ledger, wait_for_edit
from tests.test_cli import ROOT


@pytest.fixture
def settings_overrides(request: pytest.FixtureRequest) -> dict[str, Any]:
    """`{"storage": "s3"}` puts the files in a fresh moto bucket; anything else is a setting."""
    overrides = dict(getattr(request, "param", {}))
    if overrides.pop("storage", "file") == "s3":
        bucket = request.getfixturevalue("s3_bucket")
        overrides.update(storage_url=f"s3://{bucket}/files", s3_endpoint_url=request.getfixturevalue("s3_endpoint"))
    return overrides


def stored_keys(context, settings) -> list[str]:
    """Every key in the storage the app uses, wherever it is."""
    if settings.storage_url.startswith("s3://"):
        import boto3

        bucket = settings.storage_url.removeprefix("s3://").split("/", 1)[0]
        s3 = boto3.client("s3", endpoint_url=settings.s3_endpoint_url)
        pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket)
        return [item["Key"] for page in pages for item in page.get("Contents", [])]
    root = settings.data_dir / "files"
    return [str(path.relative_to(root)) for path in stored_files(settings)]


def delete_me(client, headers, password="correct horse"):
    return client.request("DELETE", "/api/v1/me", json={"password": password}, headers=headers)


@pytest.mark.parametrize("settings_overrides", [{"storage": "file", "edit_workers": 1},
                                                {"storage": "s3", "edit_workers": 1}],
                         indirect=True, ids=["file", "s3"])
def test_deleting_the_account_removes_every_file_and_keeps_the_ledger(client, context, settings, backend):
    person = create_user(context, credits=100)
    other = create_user(context, credits=100)
    key = api_key_for(context, person.id)
    headers = {"X-CSRF-Token": login(client, person.email)}
    other_key = {"Authorization": f"Bearer {api_key_for(context, other.id)}"}

    kept = wait_for_edit(client, submit(client, other_key).json()["id"], headers=other_key)
    done = wait_for_edit(client, submit(client, headers, images=[small_png(), small_png((100, 80))]).json()["id"],
                         headers=headers)
    for path in ("result/preview", "inputs/0/preview", "inputs/1/preview"):
        assert client.get(f"/api/v1/edits/{done['id']}/{path}", headers=headers).status_code == 200
    export_id = client.post("/api/v1/me/exports", headers=headers).json()["id"]
    assert wait_for_export(client, export_id, headers)["status"] == "ready"

    backend.gate.clear()  # the only worker holds the next edit
    try:
        running = submit(client, headers).json()
        assert backend.started.wait(10)
        waiting = submit(client, headers).json()
        refused = delete_me(client, headers)
        assert refused.status_code == 409 and refused.json()["error"]["code"] == "edit_running"
        # The waiting edit is held back (as by a retry's backoff) so it is still queued once the other ends.
        with context.transaction() as db:
            db.execute(update(Edit).where(Edit.id == waiting["id"]).values(lease_until=utcnow() + timedelta(days=1)))
    finally:
        backend.gate.set()
    assert wait_for_edit(client, running["id"], headers=headers)["status"] == "succeeded"
    assert client.get(f"/api/v1/edits/{waiting['id']}", headers=headers).json()["status"] == "queued"
    before = client.get("/api/v1/me", headers=headers).json()
    assert before["reserved"] == waiting["credits"]
    assert any(person.id in key_ for key_ in stored_keys(context, settings))

    wrong = delete_me(client, headers, password="not my password")
    assert wrong.status_code == 422 and wrong.json()["error"]["field"] == "password"
    answer = delete_me(client, headers)
    assert answer.status_code == 204, answer.text

    left = stored_keys(context, settings)
    assert not any(person.id in key_ for key_ in left), left
    assert any(other.id in key_ for key_ in left)  # another person's files are untouched
    assert client.get(f"/api/v1/edits/{kept['id']}/result", headers=other_key).status_code == 200

    with context.transaction() as db:
        user = db.get(User, person.id)
        assert user.email == f"deleted-{person.id}@deleted.invalid" and user.deleted_at is not None
        balance = ledger.balance(db, person.id)
        assert balance.reserved == 0 and balance.available == before["balance"] + waiting["credits"]
        void = db.execute(select(Transfer).where(Transfer.edit_id == waiting["id"],
                                                 Transfer.kind == "void")).scalar_one()
        assert void.amount == waiting["credits"]
    verify_ledger(context)

    assert client.get("/api/v1/me", headers=headers).status_code == 401  # the session is gone
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {key}"}).status_code == 401
    refused_login = client.post("/api/v1/auth/login", json={"email": person.email, "password": "correct horse"})
    assert refused_login.status_code == 401


def test_the_address_can_sign_up_again_without_free_credits(client, context):
    first = client.post("/api/v1/auth/signup", json={"email": "Ann.Lee+shop@gmail.com", "password": "a good password"})
    assert first.status_code == 201 and first.json()["balance"] == 10
    assert delete_me(client, {"X-CSRF-Token": client.cookies["csrftoken"]}, "a good password").status_code == 204
    client.cookies.clear()
    again = client.post("/api/v1/auth/signup", json={"email": "ann.lee+shop@gmail.com", "password": "a good password"})
    assert again.status_code == 201, again.text
    assert again.json()["id"] != first.json()["id"] and again.json()["balance"] == 0
    with context.transaction() as db:
        grants = db.execute(select(Transfer).where(Transfer.id.like("signup-mailbox:%"))).scalars().all()
        assert [grant.account_id for grant in grants] == [first.json()["id"]]
    verify_ledger(context)


def test_deleting_an_edit_keeps_its_ledger_entries_and_removes_its_files(client, context, settings):
    person = create_user(context, credits=50)
    headers = {"Authorization": f"Bearer {api_key_for(context, person.id)}"}
    edit = wait_for_edit(client, submit(client, headers).json()["id"], headers=headers)
    assert client.get(f"/api/v1/edits/{edit['id']}/result/preview", headers=headers).status_code == 200
    entries = client.get("/api/v1/ledger", headers=headers).json()["items"]
    assert any(edit["id"] in key for key in stored_keys(context, settings))

    assert client.delete(f"/api/v1/edits/{edit['id']}", headers=headers).status_code == 204
    assert not any(edit["id"] in key for key in stored_keys(context, settings))
    assert client.get(f"/api/v1/edits/{edit['id']}", headers=headers).status_code == 404
    assert client.delete(f"/api/v1/edits/{edit['id']}", headers=headers).status_code == 404
    assert edit["id"] not in [item["id"] for item in client.get("/api/v1/edits", headers=headers).json()["items"]]
    assert client.get("/api/v1/ledger", headers=headers).json()["items"] == entries
    assert [entry["edit_id"] for entry in entries].count(edit["id"]) == 2  # reserve and post, still naming it
    with context.transaction() as db:
        assert db.get(Edit, edit["id"]).deleted_at is not None
    verify_ledger(context)


def test_the_command_line_deletes_an_account(context, settings):
    person = create_user(context, email="leaving@example.com", credits=5)
    env = {**os.environ, "DATABASE_URL": settings.database_url, "STORAGE_URL": settings.storage_url,
           "DATA_DIR": str(settings.data_dir), "EDIT_BACKEND": PASSTHROUGH, "PYTHONPATH": str(ROOT),
           "SECRET_KEY": "cli-test-secret"}
    done = subprocess.run([sys.executable, "-m", "app", "users", "delete", "--email", "leaving@example.com"],
                          capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "Deleted leaving@example.com" in done.stdout
    with context.transaction() as db:
        assert db.get(User, person.id).deleted_at is not None
    again = subprocess.run([sys.executable, "-m", "app", "users", "delete", "--email", "leaving@example.com"],
                           capture_output=True, text=True, env=env, timeout=120)
    assert again.returncode == 1 and "No account" in again.stderr
    verify_ledger(context)
