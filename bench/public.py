"""Issue 8's row: a 300 MB chunked body to each kind of route answers 413 while the server's memory grows by
at most 100 MB. A real `python -m app serve` in a subprocess on a free loopback port; its RSS is sampled
(psutil) while httpx streams the body in 1 MB chunks."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from bench.server import PeakGrowth, serving

BODY_MB = 300
FLOOR_MB = 100.0
CHUNK = b"x" * (1024 * 1024)
BOUNDARY = "bench-boundary"


def _row(name: str, value: float, unit: str, floor: float | None, *, ok: bool | None = None) -> dict[str, Any]:
    if ok is None and floor is not None:
        ok = value <= floor
    return {"name": name, "value": value, "unit": unit, "floor": floor, "ok": ok}


def _plain_body() -> Iterator[bytes]:
    for _ in range(BODY_MB):
        yield CHUNK


def _one_file_upload() -> Iterator[bytes]:
    """multipart/form-data with one image part of BODY_MB (the per-file cap refuses it while it streams)."""
    yield (f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="prompt"\r\n\r\nBrighter\r\n'
           f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="image"; filename="big.png"\r\n'
           "Content-Type: image/png\r\n\r\n").encode()
    yield from _plain_body()
    yield f"\r\n--{BOUNDARY}--\r\n".encode()


def bench_oversized_bodies() -> list[dict[str, Any]]:
    import httpx

    with serving(credits=10, STRIPE_WEBHOOK_SECRET="whsec_bench") as server:
        rows = []
        base_url, key = server.url, server.api_key
        cases = [
            ("POST", "/api/v1/auth/login", {"Content-Type": "application/json"}, _plain_body),
            ("POST", "/api/v1/billing/stripe/webhook", {"Content-Type": "application/json",
                                                        "Stripe-Signature": "t=1,v1=00"}, _plain_body),
            ("POST", "/login", {"Content-Type": "application/x-www-form-urlencoded"}, _plain_body),
            ("GET", "/healthz", {"Content-Type": "application/octet-stream"}, _plain_body),
            ("POST", "/api/v1/edits", {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}",
                                       "Authorization": f"Bearer {key}"}, _one_file_upload),
        ]
        with httpx.Client(base_url=base_url, timeout=120) as http:
            http.get("/api/v1/pricing")  # warm-up
            for method, path, headers, body in cases:
                status, growth, seconds = _stream(http, server.pid, method, path, headers, body())
                rows.append(_row(f"{BODY_MB} MB chunked to {method} {path}: {status} in {seconds:.1f} s, "
                                 "server memory growth", growth, "MB", FLOOR_MB,
                                 ok=status == 413 and growth <= FLOOR_MB))
    return rows


def _stream(http: Any, pid: int, method: str, path: str, headers: dict[str, str],
            body: Iterator[bytes]) -> tuple[int, float, float]:
    """Send one chunked body; (status, peak RSS growth in MB over the request, seconds)."""
    with PeakGrowth(pid) as growth:
        started = time.perf_counter()
        try:
            status = http.request(method, path, headers=headers, content=body).status_code
        finally:
            seconds = time.perf_counter() - started
            time.sleep(0.2)  # whatever the server still holds after answering counts too
    return status, growth.mb, seconds


def run() -> list[dict[str, Any]]:
    return bench_oversized_bodies()
