"""Take your data: the export ZIP holds, file by file, what was uploaded and produced, a JSON of each edit and
the ledger as the API shows it; it belongs to its owner only, is rate-limited, and expires."""

from __future__ import annotations

import csv
import io
import json
import time
import zipfile
from datetime import datetime, timedelta

import pytest
from sqlalchemy import update

from app.accounts import export as exports
from app.models import Export
from app.models.base import utcnow
from tests.api.test_edits_api import small_png, submit
from tests.conftest import create_user, login, stored_files, wait_for_edit


def wait_for_export(client, export_id: str, headers: dict[str, str], timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        answer = client.get(f"/api/v1/me/exports/{export_id}", headers=headers)
        assert answer.status_code == 200, answer.text
        if answer.json()["status"] != "pending":
            return answer.json()
        if time.monotonic() > deadline:
            raise AssertionError(f"export {export_id} still pending after {timeout}s")
        time.sleep(0.05)


@pytest.fixture
def signed_in(context, client):
    user = create_user(context, credits=100)
    return user, {"X-CSRF-Token": login(client, user.email)}


def test_the_export_holds_every_file_its_settings_and_the_ledger(client, context, signed_in):
    _, headers = signed_in
    first = wait_for_edit(client, submit(client, headers, images=[small_png(), small_png((200, 300), (10, 90, 200))],
                                         quality="low").json()["id"], headers=headers)
    second = wait_for_edit(client, submit(client, headers, output_format="jpeg", resolution="2K",
                                          prompt="Make it warmer").json()["id"], headers=headers)
    assert first["status"] == second["status"] == "succeeded"

    asked = client.post("/api/v1/me/exports", headers=headers)
    assert asked.status_code == 202, asked.text
    done = wait_for_export(client, asked.json()["id"], headers)
    assert done["status"] == "ready" and done["size"] > 0
    assert done["download_url"] == f"/api/v1/me/exports/{done['id']}/download"

    download = client.get(done["download_url"], headers=headers)
    assert download.status_code == 200
    assert download.headers["content-type"] == "application/zip"
    assert download.headers["content-disposition"].startswith("attachment;")
    assert len(download.content) == done["size"]
    archive = zipfile.ZipFile(io.BytesIO(download.content))
    assert archive.testzip() is None
    names = archive.namelist()

    for edit in (first, second):
        folder = next(name.rsplit("/", 1)[0] for name in names if edit["id"] in name)
        meta = json.loads(archive.read(f"{folder}/edit.json"))
        assert meta["id"] == edit["id"] and meta["prompt"] == edit["prompt"]
        assert meta["status"] == "succeeded" and meta["credits"] == edit["credits"]
        assert {key: meta["settings"][key] for key in ("quality", "resolution", "aspect_ratio", "output_format",
                                                       "width", "height")} == \
            {key: edit[key] for key in ("quality", "resolution", "aspect_ratio", "output_format", "width", "height")}
        assert (meta["created_at"], meta["started_at"], meta["finished_at"]) == \
            (edit["created_at"], edit["started_at"], edit["finished_at"])
        assert "plan" in meta
        for position in range(edit["image_count"]):
            name = next(n for n in names if n.startswith(f"{folder}/input-{position}."))
            assert archive.read(name) == client.get(f"/api/v1/edits/{edit['id']}/inputs/{position}",
                                                    headers=headers).content
        result = next(n for n in names if n.startswith(f"{folder}/result."))
        assert archive.read(result) == client.get(f"/api/v1/edits/{edit['id']}/result", headers=headers).content
        assert len([n for n in names if n.startswith(folder + "/")]) == edit["image_count"] + 2

    rows = list(csv.DictReader(io.StringIO(archive.read("ledger.csv").decode())))
    api = client.get("/api/v1/ledger?limit=100", headers=headers).json()["items"]
    assert len(rows) == len(api) == 5  # grant, then reserve and post for each edit
    for row, entry in zip(rows, api, strict=True):
        assert row["id"] == entry["id"] and row["kind"] == entry["kind"]
        assert int(row["amount"]) == entry["amount"] and int(row["balance_after"]) == entry["balance_after"]
        assert row["reason"] == entry["reason"] and (row["edit_id"] or None) == entry["edit_id"]
        assert row["created_at"] == entry["created_at"]
    account = json.loads(archive.read("account.json"))
    assert account["email"] == client.get("/api/v1/me", headers=headers).json()["email"]
    assert account["edits"] == 2
    # Every entry is dated when the export was made (ZIP times are to 2 seconds), none 1980-01-01.
    exported = datetime.fromisoformat(account["exported_at"].replace("Z", "+00:00")).replace(tzinfo=None)
    for info in archive.infolist():
        assert timedelta(0) <= exported - datetime(*info.date_time) < timedelta(seconds=2), info
    readme = archive.read("README.txt").decode()
    main_image = next(line for line in readme.splitlines() if "input-0" in line)
    assert "the image you edited" in main_image and "reference" not in main_image


def test_another_person_gets_404_for_an_export(client, context, signed_in):
    _, headers = signed_in
    export_id = client.post("/api/v1/me/exports", headers=headers).json()["id"]
    assert wait_for_export(client, export_id, headers)["status"] == "ready"
    client.cookies.clear()
    stranger = create_user(context)
    stranger_headers = {"X-CSRF-Token": login(client, stranger.email)}
    for path in (f"/api/v1/me/exports/{export_id}", f"/api/v1/me/exports/{export_id}/download"):
        answer = client.get(path, headers=stranger_headers)
        assert answer.status_code == 404 and answer.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize("settings_overrides", [{"rate_limit_export_per_user": "2/hour"}], indirect=True)
def test_asking_for_exports_is_rate_limited(client, signed_in):
    _, headers = signed_in
    for _ in range(2):
        assert client.post("/api/v1/me/exports", headers=headers).status_code == 202
    refused = client.post("/api/v1/me/exports", headers=headers)
    assert refused.status_code == 429 and refused.json()["error"]["code"] == "rate_limited"
    assert int(refused.headers["retry-after"]) > 0


def test_an_export_expires_and_the_sweep_removes_its_file(client, context, settings, signed_in):
    _, headers = signed_in
    export_id = client.post("/api/v1/me/exports", headers=headers).json()["id"]
    ready = wait_for_export(client, export_id, headers)
    assert ready["expires_at"] is not None
    assert any(export_id in str(path) for path in stored_files(settings))
    with context.transaction() as db:
        db.execute(update(Export).where(Export.id == export_id).values(expires_at=utcnow() - timedelta(seconds=1)))
    assert client.get(f"/api/v1/me/exports/{export_id}", headers=headers).json()["status"] == "expired"
    gone = client.get(f"/api/v1/me/exports/{export_id}/download", headers=headers)
    assert gone.status_code == 410 and gone.json()["error"]["code"] == "export_expired"
    exports.sweep(context)
    assert not any(export_id in str(path) for path in stored_files(settings))
    assert client.get(f"/api/v1/me/exports/{export_id}", headers=headers).json()["status"] == "expired"
