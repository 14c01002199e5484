"""A small stand-in for OpenAI's Images API edit endpoint, served on loopback for the tests.

It speaks the documented request and response shapes of `POST /v1/images/edits`: it checks the bearer key
and what each model accepts the way OpenAI does, from the facts kept about OpenAI's published spec
(tests/backends/openai_spec_facts.py: fields, the model enum, sizes, qualities, backgrounds, fidelity),
never from the adapter's own table, answers `{created, data: [{b64_json}], output_format, quality, size, usage}`, and
records every request (fields, image parts, headers) so a test can assert on what was sent. A test scripts
the next answers with `fake.then(...)`: each error shape, `retry-after`, a slow answer, a dropped connection;
a prompt containing MODERATION_BLOCKED is always blocked, as OpenAI's safety system would.

The edited image is the first reference, cover-fitted to the requested size and inverted, so a test can tell
a result that came through the provider from one that did not.

Use the `fake_openai` fixture (import `fake_openai_fixture` and `fake_openai_server_fixture` into the test
module), `openai_backend_for_tests(url)` for a backend pointed at it, and `openai_settings(fake)` for
settings_overrides that run the app on it.
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
import socket
import struct
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from PIL import Image, ImageOps
from python_multipart.multipart import MultipartParser, parse_options_header

from app.backends.openai import OpenAIBackend
from app.config import Settings
from tests.backends import openai_spec_facts as spec

FAKE_API_KEY = "sk-fake-0123456789abcdefghijklmnopqrstuvwxyz"
BLOCKED_WORD = "MODERATION_BLOCKED"
"""A prompt containing this is refused the way OpenAI's safety system refuses (400 moderation_blocked)."""


@dataclass
class ReceivedPart:
    """One file part of a request, as it arrived."""

    name: str
    filename: str
    content_type: str
    data: bytes

    def image(self) -> Image.Image:
        image = Image.open(io.BytesIO(self.data))
        image.load()
        return image


@dataclass
class ReceivedRequest:
    """What the fake received: the path, headers, text fields and file parts, in order."""

    path: str
    headers: dict[str, str]
    fields: dict[str, list[str]] = field(default_factory=dict)
    files: list[ReceivedPart] = field(default_factory=list)

    def field(self, name: str) -> str | None:
        values = self.fields.get(name)
        return values[-1] if values else None


@dataclass(frozen=True)
class Reply:
    """A scripted answer for the next request: "ok" (validated success, after `delay`), "error" (`status`
    and OpenAI's error envelope), "drop" (close the connection without answering) or "raw" (`body` as is)."""

    kind: str = "ok"
    status: int = 200
    body: Any = None
    headers: tuple[tuple[str, str], ...] = ()
    delay: float = 0.0


def error_body(message: str, *, type: str = "invalid_request_error", param: str | None = None,
               code: str | None = None) -> dict[str, Any]:
    """OpenAI's error envelope."""
    return {"error": {"message": message, "type": type, "param": param, "code": code}}


def invalid_request(message: str = "Invalid value for 'size'.", *, param: str | None = "size",
                    code: str | None = "invalid_value") -> Reply:
    return Reply("error", 400, error_body(message, param=param, code=code))


def moderation_blocked(violations: str = "violence", request_id: str = "req_moderation_400") -> Reply:
    message = (f"{spec.MODERATION_BLOCKED.message} If you believe this is an error, contact us and include "
               f"the request ID {request_id}. safety_violations=[{violations}].")
    return Reply("error", 400, error_body(message, type=spec.MODERATION_BLOCKED.type,
                                          code=spec.MODERATION_BLOCKED.code), (("x-request-id", request_id),))


def unauthorized() -> Reply:
    # OpenAI quotes part of the key it refused: the backend must not pass this message on.
    masked = f"{FAKE_API_KEY[:6]}***{FAKE_API_KEY[-4:]}"
    return Reply("error", 401, error_body(f"Incorrect API key provided: {masked}.", code="invalid_api_key"))


def rate_limited(retry_after: str | None = None, *, header: str = "retry-after") -> Reply:
    headers = ((header, retry_after),) if retry_after is not None else ()
    return Reply("error", 429, error_body("Rate limit reached for gpt-image-2 on images per minute.",
                                          type="requests", code="rate_limit_exceeded"), headers)


def quota_exceeded(request_id: str = "req_quota_429") -> Reply:
    return documented(spec.INSUFFICIENT_QUOTA, request_id=request_id)


def billing_hard_limit(request_id: str = "req_billing_400") -> Reply:
    """The billing hard limit: OpenAI answers it with 400, not 429."""
    return documented(spec.BILLING_HARD_LIMIT, request_id=request_id)


def input_fidelity_unsupported(request_id: str = "req_fidelity_400") -> Reply:
    return documented(spec.INPUT_FIDELITY_UNSUPPORTED, param="input_fidelity", request_id=request_id)


def documented(answer: spec.ErrorAnswer, *, param: str | None = None, request_id: str | None = None,
               should_retry: str | None = None) -> Reply:
    """One of OpenAI's documented error answers (tests/backends/openai_spec_facts.py), with the headers
    OpenAI sends: `x-request-id`, and `x-should-retry` when given."""
    headers = [("x-request-id", request_id)] if request_id else []
    if should_retry is not None:
        headers.append(("x-should-retry", should_retry))
    return Reply("error", answer.status, error_body(answer.message, type=answer.type, param=param,
                                                      code=answer.code), tuple(headers))


def server_error(status: int = 500) -> Reply:
    message = {500: "The server had an error while processing your request. Sorry about that!",
               502: "Bad gateway.", 503: "The engine is currently overloaded, please try again later."}
    return Reply("error", status, error_body(message.get(status, "Server error."), type="server_error"))


def slow(seconds: float) -> Reply:
    return Reply("ok", delay=seconds)


def drop() -> Reply:
    return Reply("drop")


def not_an_image() -> Reply:
    return Reply("raw", 200, {"created": int(time.time()),
                              "data": [{"b64_json": base64.b64encode(b"not an image").decode()}]})


class FakeOpenAI:
    """The server. `url` is the base URL to configure (`.../v1`), like https://api.openai.com/v1."""

    def __init__(self, api_key: str = FAKE_API_KEY) -> None:
        self.api_key = api_key
        self.requests: list[ReceivedRequest] = []
        self._script: list[Reply] = []
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass  # keep test output quiet

            def do_POST(self) -> None:
                fake._handle(self)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/v1"
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-openai", daemon=True)

    def start(self) -> FakeOpenAI:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def then(self, *replies: Reply) -> FakeOpenAI:
        """Answer the next requests with these replies, in order; afterwards, succeed again."""
        with self._lock:
            self._script.extend(replies)
        return self

    def reset(self) -> None:
        with self._lock:
            self._script.clear()
            self.requests.clear()

    @property
    def last(self) -> ReceivedRequest:
        return self.requests[-1]

    # --- one request ----------------------------------------------------------------------------------

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        body = _read_body(handler)
        headers = {name.lower(): value for name, value in handler.headers.items()}
        received = ReceivedRequest(path=handler.path, headers=headers)
        content_type = handler.headers.get("content-type", "")
        if content_type.startswith("multipart/form-data"):
            received.fields, received.files = _parse_multipart(content_type, body)
        with self._lock:
            self.requests.append(received)
            reply = self._script.pop(0) if self._script else Reply()
        if reply.kind == "drop":
            _drop(handler)
            return
        if reply.delay:
            time.sleep(reply.delay)
        if reply.kind in ("error", "raw"):
            _send(handler, reply.status, reply.body, reply.headers)
        else:
            status, answer = self._answer(handler.path, received)
            _send(handler, status, answer, reply.headers)

    def _answer(self, path: str, request: ReceivedRequest) -> tuple[int, dict[str, Any]]:
        """What OpenAI answers to a request that was not scripted to fail: its checks, then the edit."""
        if path.rstrip("/") != "/v1/images/edits":
            return 404, error_body(f"Invalid URL (POST {path})", code=None)
        if request.headers.get("authorization") != f"Bearer {self.api_key}":
            return 401, unauthorized().body
        if not request.headers.get("content-type", "").startswith("multipart/form-data"):
            return 400, error_body("Send multipart/form-data.", param=None, code="invalid_content_type")
        for name in request.fields:
            if name not in spec.EDIT_FIELDS or name in spec.FILE_FIELDS:
                return 400, error_body(f"Unknown parameter: '{name}'.", param=name, code="unknown_parameter")
        if not request.field("prompt"):
            return 400, error_body("Missing required parameter: 'prompt'.", param="prompt",
                                   code="missing_required_parameter")
        if BLOCKED_WORD in request.field("prompt"):  # type: ignore[operator]
            return 400, moderation_blocked().body
        images = [part for part in request.files if part.name in ("image", "image[]")]
        if not images or len(images) != len(request.files):
            return 400, error_body("Send the images as 'image' or repeated 'image[]'.", param="image",
                                   code="invalid_value")
        model = request.field("model") or spec.DEFAULT_MODEL
        facts = spec.MODELS.get(model)
        if facts is None:
            return 400, error_body(f"Invalid value: '{model}'. Supported values are: "
                                   f"{', '.join(spec.MODEL_ENUM)}.", param="model", code="invalid_value")
        refusal = _refused_by_spec(request, model, facts, len(images))
        if refusal is not None:
            return 400, refusal
        quality = request.field("quality") or "auto"
        output_format = request.field("output_format") or "png"
        size = request.field("size") or "auto"
        width, height = _size(size, facts)
        try:
            source = images[0].image()
        except Exception:
            return 400, error_body("Invalid image file.", param="image", code="invalid_image_file")
        result = ImageOps.invert(ImageOps.fit(source.convert("RGB"), (width, height)))
        buffer = io.BytesIO()
        result.save(buffer, {"jpeg": "JPEG", "webp": "WEBP"}.get(output_format, "PNG"))
        text_tokens = len(request.field("prompt").split())  # type: ignore[union-attr]
        image_tokens = 323 * len(images)
        output_tokens = width * height // 1024
        return 200, {
            "created": int(time.time()),
            "background": "opaque",
            "data": [{"b64_json": base64.b64encode(buffer.getvalue()).decode()}],
            "output_format": output_format,
            "quality": "medium" if quality == "auto" else quality,
            "size": f"{width}x{height}",
            "usage": {"input_tokens": text_tokens + image_tokens,
                      "input_tokens_details": {"text_tokens": text_tokens, "image_tokens": image_tokens},
                      "output_tokens": output_tokens,
                      "output_tokens_details": {"text_tokens": 0, "image_tokens": output_tokens},
                      "total_tokens": text_tokens + image_tokens + output_tokens},
        }


def _refused_by_spec(request: ReceivedRequest, model: str, facts: spec.ModelFacts,
                     image_count: int) -> dict[str, Any] | None:
    """OpenAI's 400 for a request the spec facts do not allow for this model, or None."""
    for name in request.fields:
        if name not in facts.fields:
            code = "invalid_input_fidelity_model" if name == "input_fidelity" else "unsupported_parameter"
            return error_body(f"'{name}' is not supported with {model}.", param=name, code=code)
    if image_count > facts.max_images:
        return error_body(f"{model} takes at most {facts.max_images} images.", param="image",
                          code="invalid_value")
    background = request.field("background")
    if background is not None and background not in facts.backgrounds | facts.preview_backgrounds:
        return error_body(f"background '{background}' is not supported for {model}.", param="background",
                          code="unsupported_value")
    output_format = request.field("output_format") or "png"
    checks = (("quality", request.field("quality"), facts.qualities),
              ("output_format", request.field("output_format"), spec.OUTPUT_FORMATS),
              ("input_fidelity", request.field("input_fidelity"), spec.INPUT_FIDELITY))
    for name, value, allowed in checks:
        if value is not None and value not in allowed:
            return error_body(f"Invalid value: '{value}'.", param=name, code="invalid_value")
    if background == "transparent" and output_format == "jpeg":
        return error_body("Transparent backgrounds need png or webp.", param="output_format",
                          code="invalid_value")
    compression = request.field("output_compression")
    if compression is not None:
        low, high = spec.OUTPUT_COMPRESSION_RANGE
        if output_format not in spec.COMPRESSED_FORMATS or not compression.isdigit() \
                or not low <= int(compression) <= high:
            return error_body(f"Invalid output_compression '{compression}' for {output_format}.",
                              param="output_compression", code="invalid_value")
    user = request.field("user")
    if user is not None and not user:
        return error_body("'user' must not be empty.", param="user", code="invalid_value")
    size = request.field("size") or "auto"
    if _size(size, facts) == (0, 0):
        return error_body(f"Invalid size '{size}' for {model}.", param="size", code="invalid_value")
    return None


def _size(size: str, facts: spec.ModelFacts) -> tuple[int, int]:
    """The size a model would make for `size`, or (0, 0) when the spec facts refuse it."""
    if size == "auto":
        return 1024, 1024
    width_text, _, height_text = size.partition("x")
    if not (width_text.isdigit() and height_text.isdigit()):
        return 0, 0
    width, height = int(width_text), int(height_text)
    rules = facts.sizes
    accepted = rules.allows(width, height) if isinstance(rules, spec.FlexibleSizeFacts) else (width, height) in rules
    return (width, height) if accepted else (0, 0)


def _read_body(handler: BaseHTTPRequestHandler) -> bytes:
    if handler.headers.get("transfer-encoding", "").lower() == "chunked":
        chunks: list[bytes] = []
        while True:
            size = int(handler.rfile.readline().split(b";")[0].strip(), 16)
            if size == 0:
                handler.rfile.readline()
                return b"".join(chunks)
            chunks.append(handler.rfile.read(size))
            handler.rfile.readline()
    return handler.rfile.read(int(handler.headers.get("content-length") or 0))


def _parse_multipart(content_type: str, body: bytes) -> tuple[dict[str, list[str]], list[ReceivedPart]]:
    _, options = parse_options_header(content_type)
    fields: dict[str, list[str]] = {}
    files: list[ReceivedPart] = []
    state: dict[str, Any] = {"headers": {}, "name": b"", "value": b"", "data": bytearray()}

    def on_part_begin() -> None:
        state.update(headers={}, name=b"", value=b"", data=bytearray())

    def on_header_field(data: bytes, start: int, end: int) -> None:
        state["name"] += data[start:end]

    def on_header_value(data: bytes, start: int, end: int) -> None:
        state["value"] += data[start:end]

    def on_header_end() -> None:
        state["headers"][state["name"].lower()] = state["value"]
        state.update(name=b"", value=b"")

    def on_part_data(data: bytes, start: int, end: int) -> None:
        state["data"] += data[start:end]

    def on_part_end() -> None:
        _, disposition = parse_options_header(state["headers"].get(b"content-disposition", b""))
        name = disposition.get(b"name", b"").decode()
        if b"filename" in disposition:
            part_type = state["headers"].get(b"content-type", b"").decode()
            filename = disposition[b"filename"].decode()
            files.append(ReceivedPart(name, filename, part_type, bytes(state["data"])))
        else:
            fields.setdefault(name, []).append(bytes(state["data"]).decode())

    callbacks = {"on_part_begin": on_part_begin, "on_header_field": on_header_field,
                 "on_header_value": on_header_value, "on_header_end": on_header_end,
                 "on_part_data": on_part_data, "on_part_end": on_part_end}
    parser = MultipartParser(options[b"boundary"], callbacks)  # type: ignore[arg-type]
    parser.write(body)
    parser.finalize()
    return fields, files


def _send(handler: BaseHTTPRequestHandler, status: int, body: Any,
          headers: tuple[tuple[str, str], ...]) -> None:
    payload = json.dumps(body).encode()
    with contextlib.suppress(OSError):  # a client that timed out has gone; nothing to tell it
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(payload)))
        if not any(name.lower() == "x-request-id" for name, _ in headers):
            handler.send_header("x-request-id", f"req_{int(time.time() * 1000)}")
        for name, value in headers:
            handler.send_header(name, value)
        handler.end_headers()
        handler.wfile.write(payload)


def _drop(handler: BaseHTTPRequestHandler) -> None:
    """Close the connection with a reset and no answer, as a crashed proxy or a cut network does."""
    handler.close_connection = True
    connection: socket.socket = handler.connection
    connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with contextlib.suppress(OSError):
        connection.shutdown(socket.SHUT_RDWR)


# --- for tests -------------------------------------------------------------------------------------------


def openai_backend_for_tests(fake: FakeOpenAI | str, **settings: Any) -> OpenAIBackend:
    """An OpenAIBackend pointed at the fake (or at a base URL), with short backoff. The timeout is generous:
    the fake encodes a real image, which a busy machine may take a while to do."""
    base_url = fake.url if isinstance(fake, FakeOpenAI) else fake
    values: dict[str, Any] = {"openai_api_key": FAKE_API_KEY, "openai_base_url": base_url,
                              "openai_timeout_seconds": 30.0, "openai_max_retries": 2,
                              "openai_retry_base_seconds": 0.01, "openai_retry_max_wait_seconds": 1.0,
                              "_env_file": None}
    values.update(settings)
    return OpenAIBackend(Settings(**values))


def openai_settings(fake: FakeOpenAI, **extra: Any) -> dict[str, Any]:
    """settings_overrides that run the app with EDIT_BACKEND=openai against the fake."""
    return {"edit_backend": "openai", "openai_api_key": fake.api_key, "openai_base_url": fake.url,
            "openai_timeout_seconds": 30.0, "openai_max_retries": 2, "openai_retry_base_seconds": 0.01,
            "openai_retry_max_wait_seconds": 1.0, **extra}


# Fixtures under a name of their own, so that a test module imports `fake_openai_fixture` and
# `fake_openai_server_fixture` (marked as used for ruff) and its tests ask for `fake_openai` as usual.


@pytest.fixture(scope="session", name="fake_openai_server")
def fake_openai_server_fixture() -> Iterator[FakeOpenAI]:
    """The fake OpenAI server, started once per test module that imports it."""
    server = FakeOpenAI().start()
    yield server
    server.stop()


@pytest.fixture(name="fake_openai")
def fake_openai_fixture(fake_openai_server: FakeOpenAI) -> Iterator[FakeOpenAI]:
    """The fake OpenAI server, with an empty script and no recorded requests."""
    fake_openai_server.reset()
    yield fake_openai_server
    fake_openai_server.reset()
