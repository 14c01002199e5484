"""The scale-out column of DESIGN.md with the same code: a Redis queue, S3-compatible storage and a
separate `python -m app worker` process doing the edits for the web process."""

from __future__ import annotations

import io
import signal
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from app.context import build_context
from app.main import create_app
from tests.conftest import PASSTHROUGH, api_key_for, create_user, make_settings, verify_ledger, wait_for_edit
from tests.scale_out_services import S3_ENV, worker_process

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def scale_out(tmp_path, database_url, clean_db, redis_url, s3_bucket, s3_endpoint):
    overrides = {"queue_url": redis_url, "storage_url": f"s3://{s3_bucket}/edits", "s3_endpoint_url": s3_endpoint}
    settings = make_settings(tmp_path / "web", database_url, **overrides)
    worker_settings = {**S3_ENV, "DATA_DIR": str(tmp_path / "worker"), "DATABASE_URL": database_url,
                       "QUEUE_URL": redis_url, "STORAGE_URL": overrides["storage_url"], "S3_ENDPOINT_URL": s3_endpoint,
                       "EDIT_BACKEND": PASSTHROUGH, "SECRET_KEY": "worker-secret", "EDIT_WORKERS": "2",
                       "SWEEP_INTERVAL_SECONDS": "1"}
    with worker_process(tmp_path, **worker_settings) as worker:
        context = build_context(settings)
        yield context, worker
    context.queue.stop()
    context.engine.dispose()


def test_separate_worker_process_with_redis_and_s3(scale_out):
    context, worker = scale_out
    assert not context.queue.in_process
    user = create_user(context, credits=20)
    headers = {"Authorization": f"Bearer {api_key_for(context, user.id)}"}
    buffer = io.BytesIO()
    Image.new("RGB", (300, 200), "navy").save(buffer, "PNG")
    with TestClient(create_app(context=context)) as client:
        ids = []
        for aspect in ("16:9", "1:1", "9:16"):
            response = client.post("/api/v1/edits", headers=headers,
                                   data={"prompt": "Brighter", "aspect_ratio": aspect},
                                   files=[("image", ("a.png", buffer.getvalue(), "image/png"))])
            assert response.status_code == 202, response.text
            ids.append(response.json()["id"])
        for edit_id in ids:
            edit = wait_for_edit(client, edit_id, headers=headers, timeout=60)
            assert edit["status"] == "succeeded", (edit, worker.poll())
            image = Image.open(io.BytesIO(client.get(edit["result_url"], headers=headers).content))
            assert image.size == (edit["width"], edit["height"])
        # The web process ran none of them: its own backend was never called.
        assert context.backend.calls == 0
        stored = context.storage.get(f"u/{user.id}/e/{ids[0]}/input-0.png")
        assert stored.startswith(b"\x89PNG")
    verify_ledger(context)
    worker.send_signal(signal.SIGTERM)
    output, _ = worker.communicate(timeout=30)
    assert worker.returncode == 0, output
    assert "Worker running" in output
