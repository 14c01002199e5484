"""What an operator sees: /metrics behind its token and counting exactly what happened, the request id on
every answer and on every log line of one edit (web and worker), and no secret in the logs."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from app import observability
from tests.billing import stripe_events as se
from tests.billing.conftest import WEBHOOK_SECRET, Webhooks, handled, wait_until
from tests.conftest import api_key_for, create_user, image_bytes, wait_for_edit

TOKEN = "metrics-token-for-tests"
WITH_METRICS = pytest.mark.parametrize("settings_overrides", [{"metrics_token": TOKEN}], indirect=True)

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(client: Any) -> Samples:
    response = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return {(sample.name, frozenset(sample.labels.items())): sample.value
            for family in text_string_to_metric_families(response.text) for sample in family.samples}


def moved(before: Samples, after: Samples, name: str, **labels: str) -> float:
    key = (name, frozenset(labels.items()))
    return after.get(key, 0.0) - before.get(key, 0.0)


def submit(client: Any, headers: dict[str, str], prompt: str = "Brighter", **extra: str) -> Any:
    return client.post("/api/v1/edits", headers=headers, data={"prompt": prompt, **extra},
                       files=[("image", ("a.png", image_bytes(size=(320, 200)), "image/png"))])


@pytest.fixture
def json_logs() -> Iterator[io.StringIO]:
    """Every log line of the process, rendered as the server renders them with LOG_FORMAT=json."""
    stream = io.StringIO()
    handler = observability.log_handler("json", stream)
    root = logging.getLogger()
    previous = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    yield stream
    root.removeHandler(handler)
    root.setLevel(previous)


def lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


# --- /metrics is for its token holder only ----------------------------------------------------------------


def test_metrics_are_not_there_without_a_token_setting(client):
    assert client.get("/metrics").status_code == 404
    assert client.get("/metrics", headers={"Authorization": "Bearer anything"}).status_code == 404


@WITH_METRICS
def test_metrics_answer_only_the_right_token(client):
    assert client.get("/metrics").status_code == 404
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 404
    assert client.get("/metrics", headers={"Authorization": f"Basic {TOKEN}"}).status_code == 404
    assert client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}x"}).status_code == 404
    assert "imagedit_queue_depth" in client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).text


# --- the counters move by exactly what happened -----------------------------------------------------------


@WITH_METRICS
def test_an_edit_and_a_failed_edit_move_the_counters_by_what_happened(client, context, backend):
    user = create_user(context, credits=20)
    headers = {"Authorization": f"Bearer {api_key_for(context, user.id)}"}
    before = scrape(client)

    good = submit(client, headers, quality="medium", resolution="1K")
    assert good.status_code == 202, good.text
    assert wait_for_edit(client, good.json()["id"], headers=headers)["status"] == "succeeded"
    backend.fail_in_edit = "No subject to work on."
    bad = submit(client, headers, quality="low", resolution="2K")
    assert bad.status_code == 202, bad.text
    assert wait_for_edit(client, bad.json()["id"], headers=headers)["status"] == "failed"
    after = scrape(client)

    edits = "imagedit_edits_total"
    assert moved(before, after, edits, status="succeeded", backend="passthrough", quality="medium",
                 resolution="1K") == 1
    assert moved(before, after, edits, status="failed", backend="passthrough", quality="low", resolution="2K") == 1
    # medium 1K costs 2 and was charged; low 2K costs 2 and came back.
    assert moved(before, after, "imagedit_credits_total", movement="reserved") == 4
    assert moved(before, after, "imagedit_credits_total", movement="charged") == 2
    assert moved(before, after, "imagedit_credits_total", movement="returned") == 2
    assert moved(before, after, "imagedit_backend_failures_total", backend="passthrough", code="no_subject") == 1
    assert moved(before, after, "imagedit_edit_queued_seconds_count", backend="passthrough") == 2
    assert moved(before, after, "imagedit_edit_running_seconds_count", backend="passthrough", status="failed") == 1
    assert after[("imagedit_queue_depth", frozenset())] == 0
    assert after[("imagedit_queue_oldest_age_seconds", frozenset())] == 0

    # Requests are timed by their route's template: one series per route, never one per edit id.
    duration = "imagedit_http_request_duration_seconds_count"
    assert moved(before, after, duration, method="POST", route="/api/v1/edits", status="202") == 2
    assert moved(before, after, duration, method="GET", route="/api/v1/edits/{edit_id}", status="200") >= 2
    routes = {dict(labels).get("route") for name, labels in after if name == duration}
    assert not any(good.json()["id"] in (route or "") for route in routes)


@WITH_METRICS
def test_the_queue_gauges_read_the_database(client, context, backend):
    user = create_user(context, credits=20)
    headers = {"Authorization": f"Bearer {api_key_for(context, user.id)}"}
    backend.gate.clear()  # the first edit holds a worker; the rest wait in the queue
    try:
        first = submit(client, headers)
        assert backend.started.wait(30)
        ids = [submit(client, headers, prompt=f"Brighter {n}").json()["id"] for n in range(2)]
        backend_workers = context.settings.edit_workers
        samples = wait_until(lambda: (s := scrape(client)) and s[("imagedit_queue_depth", frozenset())]
                             + s[("imagedit_edits_running", frozenset())] == 3 and s, what="three edits seen")
        assert samples[("imagedit_edits_running", frozenset())] <= backend_workers
        assert samples[("imagedit_queue_depth", frozenset())] >= 3 - backend_workers
    finally:
        backend.gate.set()
    for edit_id in [first.json()["id"], *ids]:
        assert wait_for_edit(client, edit_id, headers=headers)["status"] == "succeeded"
    after = scrape(client)
    assert after[("imagedit_queue_depth", frozenset())] == 0
    assert after[("imagedit_edits_running", frozenset())] == 0


@pytest.mark.parametrize("settings_overrides", [{"metrics_token": TOKEN, "stripe_webhook_secret": WEBHOOK_SECRET}],
                         indirect=True)
def test_webhooks_are_counted_by_type_and_outcome(client, context):
    webhooks = Webhooks(client, context)
    evt = se.event("customer.created", {"id": se.new_id("cus"), "object": "customer"})
    before = scrape(client)
    assert webhooks.post(evt).status_code == 200
    wait_until(lambda: handled(context, evt["id"]), what="the event to be handled")
    assert webhooks.post(evt).status_code == 200  # Stripe delivers again
    assert webhooks.post(evt, secret="whsec_someone_else").status_code == 400
    after = scrape(client)

    events = "imagedit_stripe_webhook_events_total"
    assert moved(before, after, events, type="customer.created", outcome="stored") == 1
    assert moved(before, after, events, type="customer.created", outcome="handled") == 1
    assert moved(before, after, events, type="customer.created", outcome="duplicate") == 1
    assert moved(before, after, events, type="unknown", outcome="bad_signature") == 1
    assert moved(before, after, "imagedit_stripe_webhook_lag_seconds_count", stage="received") == 1
    assert moved(before, after, "imagedit_stripe_webhook_lag_seconds_count", stage="handled") == 1


@pytest.mark.parametrize("settings_overrides", [{"metrics_token": TOKEN, "rate_limit_estimate_per_address": "2/hour"}],
                         indirect=True)
def test_rate_limit_refusals_are_counted_by_rule(client):
    before = scrape(client)
    answers = [client.post("/api/v1/estimate", json={"quality": "low", "resolution": "1K"}).status_code
               for _ in range(4)]
    after = scrape(client)
    assert answers == [200, 200, 429, 429]
    assert moved(before, after, "imagedit_rate_limit_refusals_total", rule="estimate") == 2


# --- the request id ---------------------------------------------------------------------------------------


def test_every_answer_carries_a_request_id(client):
    made = client.get("/healthz").headers["X-Request-ID"]
    assert len(made) == 32 and int(made, 16) >= 0
    assert client.get("/healthz", headers={"X-Request-ID": "lb-7f3a.42"}).headers["X-Request-ID"] == "lb-7f3a.42"
    # Errors carry it too, and their envelope stays the documented one.
    missing = client.get("/api/v1/edits/nope", headers={"X-Request-ID": "trace-1"})
    assert missing.status_code == 401 and missing.headers["X-Request-ID"] == "trace-1"
    assert set(missing.json()) == {"error"}
    assert client.get("/no/such/page", headers={"X-Request-ID": "trace-2"}).headers["X-Request-ID"] == "trace-2"
    # An id that could forge a log line or is absurdly long is replaced by a fresh one.
    for insane in ("a" * 65, "bad id", "x\ny", "<script>"):
        given = client.get("/healthz", headers={"X-Request-ID": insane}).headers["X-Request-ID"]
        assert given != insane and len(given) == 32


def test_a_crash_answers_500_with_the_request_id(context):
    from fastapi.testclient import TestClient

    from app.main import create_app

    app = create_app(context=context, run_workers=False)

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("kaboom")

    with TestClient(app, raise_server_exceptions=False) as client:
        answer = client.get("/boom", headers={"X-Request-ID": "crash-1"})
    assert answer.status_code == 500
    assert answer.headers["X-Request-ID"] == "crash-1"


def test_one_edits_log_lines_join_web_and_worker_by_request_id(client, context, json_logs):
    user = create_user(context, credits=20)
    headers = {"Authorization": f"Bearer {api_key_for(context, user.id)}", "X-Request-ID": "edit-trace-77"}
    answer = submit(client, headers)
    assert answer.status_code == 202 and answer.headers["X-Request-ID"] == "edit-trace-77"
    edit_id = answer.json()["id"]
    assert wait_for_edit(client, edit_id, headers=headers)["status"] == "succeeded"

    mine = [line for line in lines(json_logs) if line.get("request_id") == "edit-trace-77"]
    web = [line for line in mine if line["logger"] == "app.access" and line.get("route") == "/api/v1/edits"]
    worker = [line for line in mine if line["logger"] == "app.editor.runner"]
    assert web and web[0]["status"] == 202 and web[0]["method"] == "POST"
    assert any("succeeded" in line["event"] and line.get("edit_id") == edit_id for line in worker), mine
    assert all({"timestamp", "level", "event"} <= set(line) for line in mine)


def test_no_password_or_api_key_reaches_the_logs(client, context, json_logs):
    password = "Tr0ub4dor&3-not-logged"
    signup = client.post("/api/v1/auth/signup", json={"email": "quiet@example.com", "password": password})
    assert signup.status_code == 201, signup.text
    client.cookies.clear()
    login = client.post("/api/v1/auth/login", json={"email": "quiet@example.com", "password": password})
    assert login.status_code == 200
    key = client.post("/api/v1/api-keys", json={"name": "ci"},
                      headers={"X-CSRF-Token": client.cookies["csrftoken"]}).json()["key"]
    client.cookies.clear()
    answer = submit(client, {"Authorization": f"Bearer {key}"}, prompt="Brighter, " + "secretly long " * 40)
    assert answer.status_code == 202, answer.text
    wait_for_edit(client, answer.json()["id"], headers={"Authorization": f"Bearer {key}"})
    # And a careless line that names them anyway is scrubbed on the way out.
    logging.getLogger("app.test").info("calling with Authorization: Bearer %s", key,
                                       extra={"password": password, "api_key": key})

    text = json_logs.getvalue()
    assert lines(json_logs), "nothing was logged"
    assert password not in text
    assert key not in text
    assert key[-20:] not in text


@pytest.mark.nodb
def test_the_log_redactor_blanks_secrets_and_shortens_prompts():
    event = observability.redact(None, "info", {
        "event": "sent sk-ie-abcdefghijklmnop to Bearer xyz.123", "password": "hunter2", "stripe_secret_key": "x",
        "prompt": "p" * 500, "edit_id": "e1"})
    assert event["password"] == event["stripe_secret_key"] == "[redacted]"
    assert "abcdefghijklmnop" not in event["event"] and "xyz.123" not in event["event"]
    assert len(event["prompt"]) < 120 and "500 chars" in event["prompt"]
    assert event["edit_id"] == "e1"


@pytest.mark.nodb
def test_console_logs_are_readable_lines():
    stream = io.StringIO()
    logger = logging.getLogger("app.test.console")
    logger.addHandler(observability.log_handler("console", stream))
    logger.setLevel(logging.INFO)
    logger.propagate = False
    with observability.bound(request_id="r-1"):
        logger.info("edit %s succeeded", "e-9")
    text = stream.getvalue()
    assert "edit e-9 succeeded" in text and "request_id=r-1" in text and not text.lstrip().startswith("{")


# --- across processes: a real `python -m app worker` ------------------------------------------------------


@pytest.fixture
def worker_process(tmp_path, database_url, clean_db, redis_url) -> Iterator[tuple[Any, Any, int]]:
    """A web context and a separate worker process sharing the database, a Redis queue and a file store;
    the worker logs JSON lines and serves its metrics on a port of its own."""
    from app.context import build_context
    from tests.conftest import PASSTHROUGH, free_port, make_settings
    from tests.scale_out_services import worker_process as started_worker

    storage = f"file://{tmp_path}/files"
    port = free_port()
    settings = make_settings(tmp_path / "web", database_url, queue_url=redis_url, storage_url=storage,
                             metrics_token=TOKEN)
    with started_worker(tmp_path, unset=("PROMETHEUS_MULTIPROC_DIR",), DATA_DIR=str(tmp_path / "worker"),
                        DATABASE_URL=database_url, QUEUE_URL=redis_url, STORAGE_URL=storage,
                        EDIT_BACKEND=PASSTHROUGH, SECRET_KEY="test-secret-key-not-for-production", EDIT_WORKERS="1",
                        LOG_FORMAT="json", WORKER_METRICS_PORT=str(port), WORKER_HEARTBEAT_SECONDS="0.5") as worker:
        context = build_context(settings)
        yield context, worker, port
    context.queue.stop()
    context.engine.dispose()


def test_a_worker_process_logs_the_edits_request_id_and_serves_its_metrics(worker_process):
    import signal

    import httpx
    from fastapi.testclient import TestClient

    from app.main import create_app

    context, worker, port = worker_process
    user = create_user(context, credits=20)
    headers = {"Authorization": f"Bearer {api_key_for(context, user.id)}", "X-Request-ID": "across-processes-1"}
    with TestClient(create_app(context=context)) as client:
        wait_until(lambda: client.get("/readyz").status_code == 200 or worker.poll() is not None, timeout=60,
                   what="the worker's first heartbeat")
        assert worker.poll() is None, worker.stdout.read() if worker.stdout else ""
        answer = submit(client, headers, quality="high", resolution="1K")
        assert answer.status_code == 202, answer.text
        edit_id = answer.json()["id"]
        assert wait_for_edit(client, edit_id, headers=headers)["status"] == "succeeded"

        scraped = {(sample.name, frozenset(sample.labels.items())): sample.value
                   for family in text_string_to_metric_families(httpx.get(f"http://127.0.0.1:{port}/metrics").text)
                   for sample in family.samples}
        assert scraped[("imagedit_edits_total", frozenset({"status": "succeeded", "backend": "passthrough",
                                                           "quality": "high", "resolution": "1K"}.items()))] == 1
        assert scraped[("imagedit_credits_total", frozenset({"movement": "charged"}.items()))] == 4
        assert ("imagedit_queue_depth", frozenset()) in scraped

        worker.send_signal(signal.SIGTERM)
        output, _ = worker.communicate(timeout=60)
        assert worker.returncode == 0, output
        # A worker that stopped cleanly takes its heartbeat with it: nobody consumes the shared queue now
        # (/readyz says so once its few seconds of caching have passed).
        wait_until(lambda: client.get("/readyz").status_code == 503, timeout=30, what="readiness to fail")

    logged = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    mine = [line for line in logged if line.get("request_id") == "across-processes-1"]
    assert any(line.get("edit_id") == edit_id and "succeeded" in line["event"] for line in mine), output
    assert all(line["level"] and line["timestamp"] for line in logged)


@pytest.mark.nodb
def test_with_a_multiprocess_dir_every_process_adds_up(tmp_path):
    """Several uvicorn or worker processes with PROMETHEUS_MULTIPROC_DIR: a scrape of any sees their sum."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    env = {**os.environ, "PYTHONPATH": str(root), "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    for amount in (3, 4):
        subprocess.run([sys.executable, "-c", f"from app import observability; "
                        f"observability.credits_moved('charged', {amount})"], env=env, cwd=root, check=True)
    scrape = subprocess.run([sys.executable, "-c", "import sys; from app import observability; "
                             "assert observability.multiprocess(); sys.stdout.write(observability.render().decode())"],
                            env=env, cwd=root, check=True, capture_output=True, text=True)
    totals = {(sample.name, frozenset(sample.labels.items())): sample.value
              for family in text_string_to_metric_families(scrape.stdout) for sample in family.samples}
    assert totals[("imagedit_credits_total", frozenset({"movement": "charged"}.items()))] == 7
