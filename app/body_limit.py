"""How many bytes a request body may have, enforced while it arrives.

Starlette's `request.body()`, `.json()` and `.form()` read the whole body before anyone can look at its size,
so the limit sits in front of the app, in ASGI `receive`:

- a `Content-Length` over the route's limit is refused at once, before a byte of the body is read;
- a route with a small limit (JSON, forms, Stripe's webhook: 1 MB) has its body read here first, up to the
  limit, and refused as soon as it passes it; the route then gets the buffered body, so every route answers
  413 alike, whether or not it reads its body;
- an upload route (its body is parsed as it streams, app/api/multipart.py) gets a `receive` that counts and
  raises `RequestTooLarge` the moment the total passes the per-request cap; the door renders that error in its
  own envelope.

Refusals made here are the JSON API's envelope, `413 request_too_large`, with `Connection: close` so the client
stops sending.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.config import Settings
from app.errors import PayloadTooLarge

MB = 1024 * 1024
DEFAULT_LIMIT = 1 * MB
"""JSON bodies and forms."""


class RequestTooLarge(PayloadTooLarge):
    code = "request_too_large"


def upload_ceiling(settings: Settings) -> int:
    """The most an upload request may carry: every image at MAX_UPLOAD_BYTES plus the form fields (the same
    ceiling the multipart parser applies)."""
    from app.api.multipart import Limits
    from app.editor.validation import MAX_IMAGES

    limits = Limits(file_fields=frozenset(), max_files=MAX_IMAGES, max_file_bytes=settings.max_upload_bytes)
    return limits.max_files * limits.max_file_bytes + limits.max_fields * limits.max_field_bytes


@dataclass(frozen=True)
class BodyRule:
    method: str
    path: str
    limit: Callable[[Settings], int]
    streamed: bool
    """The route parses its body as it streams (count it); otherwise it is read here first (buffer it)."""


RULES = (
    BodyRule("POST", "/api/v1/edits", upload_ceiling, streamed=True),
    BodyRule("POST", "/edit", upload_ceiling, streamed=True),
    BodyRule("POST", "/v1/images/edits", upload_ceiling, streamed=True),
    BodyRule("POST", "/api/v1/billing/stripe/webhook", lambda settings: 1 * MB, streamed=False),
)
"""Routes whose limit is not DEFAULT_LIMIT. Any other request: DEFAULT_LIMIT, read here first."""


class BodyLimit:
    """ASGI middleware enforcing RULES (see the module's docstring)."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.table = {(rule.method, rule.path): (rule.limit(settings), rule.streamed) for rule in RULES}

    def limit_for(self, method: str, path: str) -> tuple[int, bool]:
        """(limit in bytes, streamed) for a request."""
        return self.table.get((method, path), (DEFAULT_LIMIT, False))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit, streamed = self.limit_for(scope["method"], scope["path"])
        declared, chunked = _framing(scope)
        if declared is not None and declared > limit:
            await refuse(send, limit)
            return
        if not chunked and not declared:
            await self.app(scope, receive, send)  # no body at all
        elif streamed:
            await self._counted(scope, receive, send, limit)
        else:
            await self._read_ahead(scope, receive, send, limit)

    async def _read_ahead(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away while sending
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                await refuse(send, limit)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()  # the disconnect, for whoever listens for it
            replayed = True
            return {"type": "http.request", "body": b"".join(chunks), "more_body": False}

        await self.app(scope, replay, send)

    async def _counted(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        received = 0
        tripped = finished = started = False

        async def counting() -> Message:
            nonlocal received, tripped, finished
            if tripped:
                raise _too_large(limit)
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                finished = not message.get("more_body", False)
                if received > limit:
                    tripped = True
                    raise _too_large(limit)
            return message

        async def sending(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                if not finished:  # an answer before the whole body (a refusal): the client may stop sending
                    message = {**message, "headers": [*message.get("headers", ()), (b"connection", b"close")]}
            await send(message)

        try:
            await self.app(scope, counting, sending)
        except Exception:
            if not tripped:
                raise
            if not started:  # nobody rendered the refusal
                await refuse(send, limit)


def _framing(scope: Scope) -> tuple[int | None, bool]:
    declared: int | None = None
    chunked = False
    for name, value in scope["headers"]:
        if name == b"content-length" and value.strip().isdigit():
            declared = int(value)
        elif name == b"transfer-encoding":
            chunked = True
    return declared, chunked


def _too_large(limit: int) -> RequestTooLarge:
    return RequestTooLarge(f"The request body is larger than this endpoint accepts ({_size(limit)}).")


def _size(limit: int) -> str:
    return f"{limit / MB:g} MB" if limit >= MB else f"{limit} bytes"


async def refuse(send: Send, limit: int) -> None:
    """413 in the JSON envelope, closing the connection (the body will not be read)."""
    error = _too_large(limit)
    body = json.dumps({"error": {"code": error.code, "message": error.message, "field": None}}).encode()
    headers: list[Any] = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                          (b"connection", b"close")]
    await send({"type": "http.response.start", "status": 413, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def install_body_limit(app: Any, settings: Settings) -> None:
    """Put BodyLimit in front of `app`'s routes (one line in create_app)."""
    app.add_middleware(BodyLimit, settings=settings)
