"""Issue 8's lock row: while 8 clients send wrong passwords for 10 s, another person's `GET /api/v1/me`
keeps its p50 at or under 250 ms. The log-in limits are raised for the run, so that every guess reaches
Argon2 and the row measures the locks, not the limiter."""

from __future__ import annotations

import statistics
import threading
import time
from typing import Any

from bench.pipeline import _row
from bench.server import serving

CLIENTS = 8
SECONDS = 10.0
UNLIMITED = {"RATE_LIMIT_LOGIN_PER_ACCOUNT": "100000/minute", "RATE_LIMIT_LOGIN_PER_ADDRESS": "100000/minute"}


def bench_flood() -> list[dict[str, Any]]:
    import httpx

    with serving(**UNLIMITED) as server:
        server.cli("users", "create", "--email", "victim@example.com", "--password", "right password")
        base_url = server.url
        stop = threading.Event()
        guesses = [0]

        def guess() -> None:
            with httpx.Client(base_url=base_url, timeout=30) as client:
                while not stop.is_set():
                    client.post("/api/v1/auth/login", json={"email": "victim@example.com", "password": "wrong"})
                    guesses[0] += 1

        threads = [threading.Thread(target=guess) for _ in range(CLIENTS)]
        for thread in threads:
            thread.start()
        latencies: list[float] = []
        deadline = time.monotonic() + SECONDS
        with httpx.Client(base_url=base_url, timeout=30,
                          headers={"Authorization": f"Bearer {server.api_key}"}) as reader:
            while time.monotonic() < deadline:
                started = time.perf_counter()
                assert reader.get("/api/v1/me").status_code == 200
                latencies.append((time.perf_counter() - started) * 1000)
                time.sleep(0.05)
        stop.set()
        for thread in threads:
            thread.join()
    return [_row(f"GET /me p50 during {CLIENTS} password guessers ({guesses[0]} guesses)",
                 statistics.median(latencies), "ms", 250.0)]


def run() -> list[dict[str, Any]]:
    return bench_flood()
