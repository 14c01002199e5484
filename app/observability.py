"""What an operator sees of a running process: Prometheus metrics, structured log lines and the request id
that joins the lines of one request (and of the edit it submitted) across web and worker processes.

Metrics are module-level prometheus_client objects, counted where things happen (the runner, the submit
service, the webhook intake, the rate limiter, the OpenAI backend). With PROMETHEUS_MULTIPROC_DIR in the
process environment (read by prometheus_client itself, before the first metric exists) every process
writes its counts to files there and a scrape of any of them adds them all up; otherwise a scrape sees this
process alone. Gauges that describe shared state (the queue) are read from the database at scrape time by
a collector, never kept in process memory, so several processes never disagree about them.

This module imports nothing of HTTP frameworks or the database: backends and services count through it.
The HTTP middleware below is plain ASGI.
"""

from __future__ import annotations

import logging
import re
import secrets
import sys
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator, MutableMapping, Sequence
from contextlib import contextmanager
from typing import IO, Any

import structlog
from prometheus_client import REGISTRY, Counter, Histogram, generate_latest, values
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

# --- metrics ----------------------------------------------------------------------------------------------

# Edits take from a second (offline engine, 1K) to minutes (a provider at 4K, retries): buckets to 15 min.
_SLOW_BUCKETS = (0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300, 600, 900)

HTTP_DURATION = Histogram(
    "imagedit_http_request_duration_seconds", "Time to answer an HTTP request, by route template and status.",
    ["method", "route", "status"])
EDITS = Counter(
    "imagedit_edits", "Edit attempts by outcome: succeeded, failed (credits returned) or retried.",
    ["status", "backend", "quality", "resolution"])
EDIT_QUEUED = Histogram(
    "imagedit_edit_queued_seconds", "Time an edit waited in the queue before a worker started it.",
    ["backend"], buckets=_SLOW_BUCKETS)
EDIT_RUNNING = Histogram(
    "imagedit_edit_running_seconds", "Time a worker spent on one attempt of an edit, by outcome.",
    ["backend", "status"], buckets=_SLOW_BUCKETS)
CREDITS = Counter(
    "imagedit_credits", "Credits reserved for submitted edits, charged for succeeded ones, returned for failed.",
    ["movement"])
WEBHOOK_EVENTS = Counter(
    "imagedit_stripe_webhook_events", "Stripe webhook deliveries and handlings by event type and outcome "
    "(stored, duplicate, bad_signature, handled, failed).", ["type", "outcome"])
WEBHOOK_LAG = Histogram(
    "imagedit_stripe_webhook_lag_seconds", "Time from Stripe creating an event to us receiving or handling it.",
    ["stage"], buckets=(0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 6 * 3600, 24 * 3600))
RATE_LIMIT_REFUSALS = Counter(
    "imagedit_rate_limit_refusals", "Requests refused by a rate limit, by rule.", ["rule"])
BACKEND_RETRIES = Counter(
    "imagedit_backend_retries", "Calls to an edit backend retried after a transient failure, by code.",
    ["backend", "code"])
BACKEND_FAILURES = Counter(
    "imagedit_backend_failures", "Edit attempts a backend refused or could not complete, by code.",
    ["backend", "code"])

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def multiprocess() -> bool:
    """Whether prometheus_client keeps its values in PROMETHEUS_MULTIPROC_DIR (decided when it was imported)."""
    return values.ValueClass is not values.MutexValue


def edit_started(backend: str, waited_seconds: float) -> None:
    EDIT_QUEUED.labels(backend).observe(max(0.0, waited_seconds))


def edit_ended(status: str, *, backend: str, quality: str, resolution: str, running_seconds: float) -> None:
    """One attempt's outcome: `succeeded`, `failed` or `retried`."""
    EDITS.labels(status, backend, quality, resolution).inc()
    EDIT_RUNNING.labels(backend, status).observe(max(0.0, running_seconds))


def credits_moved(movement: str, amount: int) -> None:
    """`reserved`, `charged` or `returned`, counted once the transaction that moved them committed."""
    if amount > 0:
        CREDITS.labels(movement).inc(amount)


class QueueCollector:
    """Queue depth, edits running and the oldest queued edit's age, read by `read()` at each scrape."""

    def __init__(self, read: Callable[[], tuple[int, int, float]]) -> None:
        self.read = read

    def collect(self) -> Iterator[Metric]:
        try:
            queued, running, oldest = self.read()
        except Exception:  # the database is down: say nothing rather than fail the whole scrape
            logging.getLogger(__name__).warning("could not read the queue for /metrics", exc_info=True)
            return
        yield GaugeMetricFamily("imagedit_queue_depth", "Edits waiting for a worker.", value=queued)
        yield GaugeMetricFamily("imagedit_edits_running", "Edits a worker is doing now.", value=running)
        yield GaugeMetricFamily("imagedit_queue_oldest_age_seconds",
                                "How long the oldest waiting edit has waited (0 when none).", value=oldest)


class _Together:
    """Several collectors scraped as one (prometheus_client only asks for `collect`)."""

    def __init__(self, parts: Sequence[Any]) -> None:
        self.parts = parts

    def collect(self) -> Iterator[Metric]:
        for part in self.parts:
            yield from part.collect()


def metrics_source(extra: Iterable[Collector] = ()) -> _Together:
    """This process's metrics (or every process's, in multiprocess mode) and the `extra` collectors."""
    base: Any = MultiProcessCollector(None) if multiprocess() else REGISTRY
    return _Together([base, *extra])


def render(extra: Iterable[Collector] = ()) -> bytes:
    """The Prometheus text exposition of `metrics_source(extra)`."""
    return generate_latest(metrics_source(extra))


def serve_metrics(port: int, extra: Iterable[Collector] = ()) -> Callable[[], None]:
    """Serve the metrics on `port` (all interfaces) from a thread; returns a function that stops it."""
    from prometheus_client import start_http_server

    server, thread = start_http_server(port, registry=metrics_source(extra))

    def stop() -> None:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)

    return stop


# --- request ids ------------------------------------------------------------------------------------------

# What a caller's id may look like to be kept: short, and nothing that could forge a log line or a header.
_SANE_ID = re.compile(r"[A-Za-z0-9._:\-]{1,64}")


def new_request_id() -> str:
    return secrets.token_hex(16)


def sane_request_id(value: str | None) -> str:
    """The caller's id when it looks sane (1–64 of letters, digits and `.`, `_`, `:`, `-`), else a new one."""
    if value is not None and _SANE_ID.fullmatch(value):
        return value
    return new_request_id()


def current_request_id() -> str | None:
    """The id bound to this request (or this edit's run), for storing with what it creates."""
    value = structlog.contextvars.get_contextvars().get("request_id")
    return value if isinstance(value, str) else None


@contextmanager
def bound(**fields: Any) -> Iterator[None]:
    """Every log line inside carries `fields` (request_id, edit_id…), in this thread and what it starts."""
    with structlog.contextvars.bound_contextvars(**{k: v for k, v in fields.items() if v is not None}):
        yield


Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}
_access_log = logging.getLogger("app.access")


def route_template(scope: Scope) -> str:
    """The matched route's path template (`/api/v1/edits/{edit_id}`), never the raw path: the raw path has
    ids in it and would make one time series per edit. `unmatched` when no route took the request."""
    route = scope.get("route")
    template = getattr(route, "path_format", None) or getattr(route, "path", None)
    return template if isinstance(template, str) and template else "unmatched"


class RequestObserver:
    """ASGI middleware, outermost: takes or makes the request id, binds it for the request's log lines,
    returns it on every answer (errors and 500s included), times the request by route template and writes
    one access line."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = next((value.decode("latin-1") for name, value in scope.get("headers", ())
                         if name == b"x-request-id"), None)
        request_id = sane_request_id(incoming)
        status = 500  # unless the app answers: an exception that escaped everything
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                headers = [(name, value) for name, value in message.get("headers", ())
                           if name.lower() != b"x-request-id"]
                headers.append((b"x-request-id", request_id.encode("latin-1")))
                message = {**message, "headers": headers}
            await send(message)

        with bound(request_id=request_id):
            try:
                await self.app(scope, receive, send_with_id)
            finally:
                elapsed = time.perf_counter() - started
                method = scope.get("method", "GET")
                route = route_template(scope)
                HTTP_DURATION.labels(method if method in _METHODS else "other", route, str(status)).observe(elapsed)
                _access_log.info("%s %s %d", method, route, status, extra={
                    "method": method, "route": route, "status": status, "duration_ms": round(elapsed * 1000, 1)})


# --- logs -------------------------------------------------------------------------------------------------

_SECRET_FIELDS = re.compile(r"pass(word|wd)?|secret|token|api_?key|authorization|cookie|credential|signature",
                            re.IGNORECASE)
# Secrets that may sit inside a message: bearer credentials, OpenAI and Stripe keys, our own (`sk-ie-…`).
_SECRET_TEXT = re.compile(r"(?i)(bearer\s+|[?&]token=)[^\s,;\"'&]+|\b(sk|rk|whsec)[-_][A-Za-z0-9_\-]{8,}")
PROMPT_LOG_CHARS = 80
_PROMPT_FIELDS = {"prompt", "instruction", "body", "payload"}


def _scrub_text(text: str) -> str:
    return _SECRET_TEXT.sub(lambda m: f"{m.group(1)}[redacted]" if m.group(1) else "[redacted]", text)


def redact(logger: Any, method: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """structlog processor: blanks fields named like secrets, shortens prompts and bodies, and scrubs keys
    bearer tokens and mailed links' tokens out of the message itself."""
    event_dict.pop("color_message", None)  # uvicorn's copy of the message with terminal colours
    for key in list(event_dict):
        value = event_dict[key]
        if key.startswith("_"):
            continue
        if _SECRET_FIELDS.search(key):
            event_dict[key] = "[redacted]"
        elif key in _PROMPT_FIELDS and isinstance(value, str | bytes) and len(value) > PROMPT_LOG_CHARS:
            text = value.decode("utf-8", "replace") if isinstance(value, bytes) else value
            event_dict[key] = f"{text[:PROMPT_LOG_CHARS]}… ({len(value)} chars)"
        elif isinstance(value, str):
            event_dict[key] = _scrub_text(value)
    return event_dict


def _shared_processors() -> list[Any]:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.ExtraAdder(),
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        redact,
    ]


def log_handler(log_format: str, stream: IO[str] | None = None) -> logging.Handler:
    """A standard-library handler that renders every record (ours and the libraries') through structlog:
    one JSON object per line (`json`) or a readable line (`console`)."""
    stream = stream or sys.stderr
    renderer: Any
    if log_format == "json":
        final: list[Any] = [structlog.processors.format_exc_info, structlog.processors.JSONRenderer()]
    else:
        renderer = structlog.dev.ConsoleRenderer(colors=bool(getattr(stream, "isatty", lambda: False)()))
        final = [renderer]
    handler = logging.StreamHandler(stream)
    handler.setFormatter(structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=_shared_processors(),
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *final]))
    return handler


def configure_logging(log_format: str = "console", level: int = logging.INFO) -> None:
    """Route all logging through structlog (LOG_FORMAT): existing `logging.getLogger(__name__)` calls keep
    working and gain the bound request id. Called once by the command line."""
    structlog.configure(
        processors=[*_shared_processors(), structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    root.addHandler(log_handler(log_format))
    root.setLevel(level)
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)  # a line per plugin at each start
    # uvicorn's loggers carry their own handlers unless told otherwise: let them reach ours instead.
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True
