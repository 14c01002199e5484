"""A tiny local stand-in for Stripe's Checkout API, at the HTTP boundary: localstripe has no Checkout Sessions,
so the tests point the official SDK (STRIPE_API_BASE) at this server. It answers POST /v1/checkout/sessions in
Stripe's documented shape, replays the first answer for a repeated Idempotency-Key as Stripe does, and keeps
every request it received (headers and form fields, flattened as the SDK sends them) for the tests to read."""

from __future__ import annotations

import json
import secrets
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    form: dict[str, str]


@dataclass
class FakeStripe:
    url: str = ""
    requests: list[Received] = field(default_factory=list)
    fail_next: list[tuple[int, dict[str, Any], dict[str, str]]] = field(default_factory=list)
    """Answers to give before the next successful ones: (status, error body, headers)."""
    _sessions: dict[str, dict[str, Any]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def reset(self) -> None:
        with self._lock:
            self.requests.clear()
            self.fail_next.clear()
            self._sessions.clear()

    def sessions_created(self) -> list[Received]:
        return [r for r in self.requests if r.method == "POST" and r.path == "/v1/checkout/sessions"]

    def answer(self, method: str, path: str, headers: dict[str, str], form: dict[str, str]
               ) -> tuple[int, dict[str, Any], dict[str, str]]:
        with self._lock:
            self.requests.append(Received(method, path, headers, form))
            if self.fail_next:
                return self.fail_next.pop(0)
            if method != "POST" or path != "/v1/checkout/sessions":
                return 404, {"error": {"type": "invalid_request_error", "message": f"No such route {path}"}}, {}
            key = headers.get("idempotency-key")
            if key and key in self._sessions:
                return 200, self._sessions[key], {"idempotent-replayed": "true"}
            session = checkout_session_object(form)
            if key:
                self._sessions[key] = session
            return 200, session, {}


def checkout_session_object(form: dict[str, str]) -> dict[str, Any]:
    """A Checkout Session as Stripe answers its creation (mode=payment, still open and unpaid)."""
    session_id = f"cs_test_{secrets.token_hex(12)}"
    unit = int(form.get("line_items[0][price_data][unit_amount]", "0"))
    amount = unit * int(form.get("line_items[0][quantity]", "1"))
    metadata = {k[len("metadata["):-1]: v for k, v in form.items() if k.startswith("metadata[")}
    return {
        "id": session_id, "object": "checkout.session", "amount_subtotal": amount, "amount_total": amount,
        "cancel_url": form.get("cancel_url"), "client_reference_id": form.get("client_reference_id"),
        "currency": form.get("line_items[0][price_data][currency]"), "customer": form.get("customer"),
        "customer_creation": form.get("customer_creation"), "customer_email": form.get("customer_email"),
        "expires_at": 1_900_000_000, "livemode": False, "metadata": metadata, "mode": form.get("mode"),
        "payment_intent": None, "payment_status": "unpaid", "status": "open",
        "success_url": form.get("success_url"), "url": f"https://checkout.stripe.com/c/pay/{session_id}",
    }


def start(fake: FakeStripe) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length).decode() if length else ""
            path, _, query = self.path.partition("?")
            form = dict(parse_qsl(body or query, keep_blank_values=True))
            headers = {name.lower(): value for name, value in self.headers.items()}
            status, answer, extra = fake.answer(self.command, path, headers, form)
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Request-Id", f"req_{secrets.token_hex(6)}")
            for name, value in extra.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_DELETE = _serve

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    threading.Thread(target=server.serve_forever, daemon=True, name="fake-stripe").start()
    return server
