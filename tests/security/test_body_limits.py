"""Body limits (app.body_limit), the client address (app.limits), Stripe timestamps from the future, and the
SECRET_KEY that processes sharing a database or a queue must agree on."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.requests import Request
from starlette.responses import JSONResponse

from app.body_limit import DEFAULT_LIMIT, BodyLimit, upload_ceiling
from app.config import Settings
from app.errors import ConfigurationError
from app.limits import address_key, client_address
from app.models import StripeEvent
from tests.billing import stripe_events as se
from tests.conftest import PASSTHROUGH, api_key_for, create_user

ROOT = Path(__file__).resolve().parent.parent.parent
CHUNK = 64 * 1024
WEBHOOK = "/api/v1/billing/stripe/webhook"
WEBHOOK_SECRET = "whsec_test_limits"


def plain_settings(tmp_path: Path, **overrides: Any) -> Settings:
    return Settings(**{"data_dir": tmp_path, "_env_file": None, **overrides})


# --- the middleware, at the ASGI level: how many bytes it pulls before refusing ------------------------------


class EndlessBody:
    """An ASGI `receive` for a client that never stops sending; counts what was pulled."""

    def __init__(self) -> None:
        self.pulled = 0

    async def __call__(self) -> dict[str, Any]:
        self.pulled += CHUNK
        return {"type": "http.request", "body": b"x" * CHUNK, "more_body": True}


async def reads_everything(scope: Any, receive: Any, send: Any) -> None:
    """An app that reads the whole body before looking at it, as `await request.body()` does."""
    body = await Request(scope, receive).body()
    await JSONResponse({"size": len(body)})(scope, receive, send)


def call(middleware: BodyLimit, method: str, path: str, receive: Any, headers: list[tuple[bytes, bytes]]
         ) -> tuple[int, dict[bytes, bytes], Any]:
    scope = {"type": "http", "method": method, "path": path, "headers": headers, "query_string": b""}
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    # A thread of its own: the browser tests' Playwright keeps an event loop running in the main thread.
    runner = threading.Thread(target=asyncio.run, args=(middleware(scope, receive, send),))
    runner.start()
    runner.join()
    start = sent[0]
    body = b"".join(message.get("body", b"") for message in sent[1:])
    return start["status"], dict(start["headers"]), json.loads(body)


CHUNKED = [(b"transfer-encoding", b"chunked"), (b"content-type", b"application/json")]


@pytest.mark.nodb
def test_a_chunked_body_is_cut_off_just_past_the_limit(tmp_path):
    middleware = BodyLimit(reads_everything, plain_settings(tmp_path))
    for method, path in (("POST", "/api/v1/auth/login"), ("POST", WEBHOOK), ("POST", "/login"),
                         ("GET", "/healthz"), ("PUT", "/no/such/route")):
        client = EndlessBody()
        status, headers, body = call(middleware, method, path, client, CHUNKED)
        assert status == 413, path
        assert body == {"error": {"code": "request_too_large", "message": body["error"]["message"], "field": None}}
        assert "1 MB" in body["error"]["message"]
        assert headers[b"connection"] == b"close"
        assert DEFAULT_LIMIT < client.pulled <= DEFAULT_LIMIT + CHUNK, path


@pytest.mark.nodb
def test_an_upload_streams_up_to_its_ceiling_and_no_further(tmp_path):
    settings = plain_settings(tmp_path, max_upload_bytes=256 * 1024)
    ceiling = upload_ceiling(settings)
    assert ceiling == 9 * 256 * 1024 + 64 * 256 * 1024  # the multipart parser's own ceiling
    middleware = BodyLimit(reads_everything, settings)
    for path in ("/api/v1/edits", "/edit", "/v1/images/edits"):
        client = EndlessBody()
        status, headers, body = call(middleware, "POST", path, client, CHUNKED)
        assert (status, body["error"]["code"]) == (413, "request_too_large")
        assert headers[b"connection"] == b"close"
        assert ceiling < client.pulled <= ceiling + CHUNK, path


@pytest.mark.nodb
def test_a_declared_length_over_the_limit_is_refused_before_reading(tmp_path):
    middleware = BodyLimit(reads_everything, plain_settings(tmp_path))
    client = EndlessBody()
    status, _, body = call(middleware, "POST", "/api/v1/auth/login", client,
                           [(b"content-length", str(DEFAULT_LIMIT + 1).encode())])
    assert (status, body["error"]["code"], client.pulled) == (413, "request_too_large", 0)
    status, _, body = call(middleware, "POST", "/api/v1/edits", client,
                           [(b"content-length", b"300000000000")])
    assert (status, client.pulled) == (413, 0)


@pytest.mark.nodb
def test_a_body_within_the_limit_reaches_the_app_whole(tmp_path):
    middleware = BodyLimit(reads_everything, plain_settings(tmp_path))
    chunks = iter([b"a" * 1000, b"b" * 24, b""])

    async def receive() -> dict[str, Any]:
        chunk = next(chunks)
        return {"type": "http.request", "body": chunk, "more_body": bool(chunk)}

    status, _, body = call(middleware, "POST", "/api/v1/auth/login", receive, CHUNKED)
    assert (status, body) == (200, {"size": 1024})


# --- through the app ------------------------------------------------------------------------------------------


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"stripe_webhook_secret": WEBHOOK_SECRET, "max_upload_bytes": 64 * 1024}


def test_the_app_refuses_large_json_and_lets_small_bodies_through(client):
    big = client.post("/api/v1/auth/login", content=b'{"email": "' + b"a" * DEFAULT_LIMIT + b'"}',
                      headers={"Content-Type": "application/json"})
    assert big.status_code == 413 and big.json()["error"]["code"] == "request_too_large"
    small = client.post("/api/v1/auth/login", json={"email": "nobody@example.com", "password": "wrong password"})
    assert small.status_code == 401  # the body arrived intact: the route read and judged it


def test_an_upload_past_the_ceiling_is_refused_in_its_doors_envelope(client, context):
    key = api_key_for(context, create_user(context).id)
    ceiling = upload_ceiling(context.settings)

    def body() -> Iterator[bytes]:  # no Content-Length: it has to be counted as it streams
        yield b'--b\r\nContent-Disposition: form-data; name="prompt"\r\n\r\n'
        sent = 0
        while sent <= ceiling:
            yield b"x" * CHUNK
            sent += CHUNK

    headers = {"Authorization": f"Bearer {key}", "Content-Type": "multipart/form-data; boundary=b"}
    api = client.post("/api/v1/edits", content=body(), headers=headers)
    assert api.status_code == 413 and api.json()["error"]["code"] == "request_too_large"
    openai = client.post("/v1/images/edits", content=body(), headers=headers)  # TestClient sends it in one piece
    assert openai.status_code == 400  # OpenAI's status for a request it will not take
    assert openai.json()["error"] == {"message": openai.json()["error"]["message"], "type": "invalid_request_error",
                                      "param": None, "code": "request_too_large"}


# --- Stripe: a signed timestamp from the future -------------------------------------------------------------


def stripe_event(event_id: str) -> str:
    return json.dumps({"id": event_id, "object": "event", "type": "customer.created", "livemode": False,
                       "created": int(time.time()), "data": {"object": {"object": "customer", "id": "cus_1"}}})


def test_a_webhook_signed_in_the_future_is_refused(client, context):
    body = stripe_event("evt_from_the_future")
    future = client.post(WEBHOOK, content=body.encode(), headers={
        "Stripe-Signature": se.sign(body, WEBHOOK_SECRET, int(time.time()) + 3600),
        "Content-Type": "application/json"})
    assert future.status_code == 400
    assert future.json()["error"]["code"] == "invalid_signature" and "future" in future.json()["error"]["message"]
    with context.transaction() as db:
        assert db.get(StripeEvent, "evt_from_the_future") is None
    body = stripe_event("evt_clock_skew")  # a sender's clock a minute fast is within the tolerance
    skewed = client.post(WEBHOOK, content=body.encode(), headers={
        "Stripe-Signature": se.sign(body, WEBHOOK_SECRET, int(time.time()) + 60),
        "Content-Type": "application/json"})
    assert skewed.status_code == 200, skewed.text


# --- SECRET_KEY ------------------------------------------------------------------------------------------------


@pytest.mark.nodb
def test_shared_processes_refuse_to_start_without_a_secret_key(tmp_path):
    shared = {"database_url": "postgresql+psycopg://app@db.internal/app", "queue_url": "redis://redis.internal:6379/0"}
    for name, value in shared.items():
        with pytest.raises(ConfigurationError, match=f"SECRET_KEY is not set, but {name.upper()} is shared"):
            plain_settings(tmp_path, **{name: value})
        plain_settings(tmp_path, secret_key="one key for every process", **{name: value})
    plain_settings(tmp_path)  # one machine: a key generated in DATA_DIR is enough


@pytest.mark.nodb
def test_a_worker_without_a_secret_key_says_why_it_will_not_start(tmp_path):
    env = {**os.environ, "DATA_DIR": str(tmp_path / "data"), "EDIT_BACKEND": PASSTHROUGH, "PYTHONPATH": str(ROOT),
           "QUEUE_URL": "redis://127.0.0.1:6379/15"}
    env.pop("SECRET_KEY", None)
    started = subprocess.run([sys.executable, "-m", "app", "worker"], cwd=tmp_path, env=env, capture_output=True,
                             text=True, timeout=60)
    assert started.returncode == 2
    assert started.stderr.startswith("error: SECRET_KEY is not set, but QUEUE_URL is shared")
    assert "Traceback" not in started.stderr


# --- the client address --------------------------------------------------------------------------------------


def scope(peer: str | None, *forwarded: str) -> dict[str, Any]:
    return {"type": "http", "client": (peer, 50000) if peer else None,
            "headers": [(b"x-forwarded-for", value.encode()) for value in forwarded]}


@pytest.mark.nodb
def test_without_trusted_proxies_the_address_is_the_connections(tmp_path):
    settings = plain_settings(tmp_path)  # FORWARDED_ALLOW_IPS empty
    assert client_address(scope("203.0.113.5", "198.51.100.1"), settings) == "203.0.113.5"
    assert client_address(scope("127.0.0.1", "198.51.100.1"), settings) == "127.0.0.1"  # not even loopback
    assert client_address(scope(None), settings) == "unknown"


@pytest.mark.nodb
def test_behind_trusted_proxies_the_nearest_untrusted_hop_counts(tmp_path):
    settings = plain_settings(tmp_path, forwarded_allow_ips="10.0.0.0/8, 127.0.0.1")
    # The client wrote the left part itself; the proxies appended the rest.
    assert client_address(scope("10.0.0.2", "6.6.6.6, 198.51.100.7, 10.0.0.9"), settings) == "198.51.100.7"
    assert client_address(scope("10.0.0.2", "6.6.6.6", "198.51.100.7"), settings) == "198.51.100.7"  # two headers
    assert client_address(scope("127.0.0.1", "[2001:db8::1]:443"), settings) == "2001:db8::1"
    assert client_address(scope("127.0.0.1", "198.51.100.8:5555"), settings) == "198.51.100.8"
    assert client_address(scope("10.0.0.2"), settings) == "10.0.0.2"  # no header: the proxy itself
    assert client_address(scope("10.0.0.2", "10.1.1.1, 10.0.0.3"), settings) == "10.1.1.1"  # all trusted: the first
    # A peer that is not a trusted proxy cannot choose its address.
    assert client_address(scope("203.0.113.5", "198.51.100.7"), settings) == "203.0.113.5"
    everyone = plain_settings(tmp_path, forwarded_allow_ips="*")
    assert client_address(scope("203.0.113.5", "198.51.100.7"), everyone) == "198.51.100.7"


@pytest.mark.nodb
def test_proxy_settings_and_address_keys(tmp_path):
    with pytest.raises(ValueError, match="not-an-address"):
        plain_settings(tmp_path, forwarded_allow_ips="10.0.0.0/8,not-an-address")
    assert address_key("2001:db8:1:2:3:4:5:6") == address_key("2001:db8:1:2::9") == "2001:db8:1:2::/64"
    assert address_key("::ffff:198.51.100.7") == "198.51.100.7"
    assert address_key("198.51.100.7") == "198.51.100.7"
