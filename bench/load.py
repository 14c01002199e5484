"""`make load`: N people, each submitting an edit and polling it until it ends, again and again, for a fixed
time, through the JSON API with their API keys; first against the embedded default (one `serve`, SQLite,
in-process workers), then against compose.yaml's topology as processes (two `serve` and two `worker` on
PostgreSQL, Redis and moto's S3: tests/topology.py, the starter the topology test uses).

The edits are real: the offline engine (EDIT_BACKEND=local) brightens a small photo at low quality, 1K. Rate
limits stay on, raised above what N people ask for, so the counters' cost is in the figures (on Redis in
the topology). Prints edits per second, p50/p99 of submits and of status polls, errors (must be 0), and
each setup ends with `python -m app ledger verify`. Exit 1 on any error or a ledger that does not verify.

    python -m bench.load [--people N] [--seconds S] [--only embedded|topology]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
PROMPT = "Make it a bit brighter"
POLL_SECONDS = 0.25
# Guards against hanging only: an edit still not ended this long after the run counts as an error.
DRAIN_SECONDS = 300.0
BACKEND = "local"
SETTINGS = {
    "MODEL_DIR": str(ROOT / "data" / "models"),
    "EDIT_WORKERS": "2",
    "RATE_LIMIT_SUBMIT_PER_USER": "100000/minute",
    "RATE_LIMIT_API_KEY": "100000/minute",
}


@dataclass
class Tally:
    submits_ms: list[float] = field(default_factory=list)
    polls_ms: list[float] = field(default_factory=list)
    finished_in_window: int = 0
    finished: int = 0
    errors: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Result:
    setup: str
    people: int
    seconds: float
    tally: Tally
    ledger_ok: bool

    def cells(self) -> list[str]:
        tally = self.tally
        return [self.setup, str(self.people), f"{self.seconds:g}", str(tally.finished_in_window),
                f"{tally.finished_in_window / self.seconds:.2f}",
                f"{percentile(tally.submits_ms, 50):.0f} / {percentile(tally.submits_ms, 99):.0f}",
                f"{percentile(tally.polls_ms, 50):.0f} / {percentile(tally.polls_ms, 99):.0f}",
                str(len(tally.errors)), "OK" if self.ledger_ok else "FAILED"]


HEADER = ["setup", "people", "seconds", "edits done", "edits/s", "submit p50 / p99 ms", "poll p50 / p99 ms",
          "errors", "ledger verify"]


def percentile(values: list[float], pct: int) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[pct - 1]


def small_photo() -> bytes:
    """A real photo at 640 px wide, as a phone might send after resizing."""
    image = Image.open(ROOT / "tests" / "fixtures" / "coffee.png").convert("RGB")
    image.thumbnail((640, 640))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=85)
    return buffer.getvalue()


async def person(base_url: str, api_key: str, photo: bytes, until: float, tally: Tally) -> None:
    """Submit, poll until the edit ends, again, until `until`; then see the last edit to its end."""
    async with httpx.AsyncClient(base_url=base_url, timeout=120,
                                 headers={"Authorization": f"Bearer {api_key}"}) as http:
        while time.monotonic() < until:
            started = time.perf_counter()
            try:
                response = await http.post("/api/v1/edits", headers={"Idempotency-Key": str(uuid.uuid4())},
                                           data={"prompt": PROMPT, "quality": "low", "resolution": "1K"},
                                           files=[("image", ("photo.jpg", photo, "image/jpeg"))])
            except httpx.HTTPError as exc:
                tally.errors.append(f"submit: {exc!r}")
                continue
            tally.submits_ms.append((time.perf_counter() - started) * 1000)
            if response.status_code != 202:
                tally.errors.append(f"submit: {response.status_code} {response.text[:200]}")
                continue
            await follow(http, response.json()["id"], until, tally)


async def follow(http: httpx.AsyncClient, edit_id: str, until: float, tally: Tally) -> None:
    give_up = until + DRAIN_SECONDS
    while True:
        await asyncio.sleep(POLL_SECONDS)
        started = time.perf_counter()
        try:
            response = await http.get(f"/api/v1/edits/{edit_id}")
        except httpx.HTTPError as exc:
            tally.errors.append(f"poll: {exc!r}")
            return
        tally.polls_ms.append((time.perf_counter() - started) * 1000)
        if response.status_code != 200:
            tally.errors.append(f"poll: {response.status_code} {response.text[:200]}")
            return
        status = response.json()["status"]
        if status == "succeeded":
            tally.finished += 1
            tally.finished_in_window += time.monotonic() <= until
            return
        if status == "failed":
            tally.errors.append(f"edit {edit_id} failed: {response.json().get('error')}")
            return
        if time.monotonic() > give_up:
            tally.errors.append(f"edit {edit_id} still {status} after the run")
            return


async def load(urls: list[str], api_keys: list[str], seconds: float) -> Tally:
    """One person per API key, spread over `urls` in turn."""
    tally = Tally()
    photo = small_photo()
    until = time.monotonic() + seconds
    await asyncio.gather(*(person(urls[index % len(urls)], key, photo, until, tally)
                           for index, key in enumerate(api_keys)))
    return tally


def run_embedded(people: int, seconds: float) -> Result:
    from bench.server import serving
    from tests.topology import create_people

    with serving(EDIT_BACKEND=BACKEND, **SETTINGS) as server:
        keys = [person.api_key for person in
                create_people(f"sqlite:///{server.cli.folder}/app.db", people, credits=100_000)]
        tally = asyncio.run(load([server.url], keys, seconds))
        ledger_ok = verify(lambda: subprocess.run([sys.executable, "-m", "app", "ledger", "verify"],
                                                  env=server.cli.env, cwd=server.cli.folder, capture_output=True,
                                                  text=True))
    return Result("embedded: 1 serve, SQLite, in-process workers", people, seconds, tally, ledger_ok)


def run_topology(people: int, seconds: float) -> Result:
    from tests.topology import running_topology

    with tempfile.TemporaryDirectory() as folder, \
            running_topology(Path(folder), backend=BACKEND, **SETTINGS) as topology:
        keys = [person.api_key for person in topology.people(people, credits=100_000)]
        tally = asyncio.run(load(topology.web_urls, keys, seconds))
        ledger_ok = verify(lambda: topology.cli("ledger", "verify"))
    return Result("topology: 2 serve + 2 worker, PostgreSQL, Redis, S3", people, seconds, tally, ledger_ok)


def verify(command: Callable[[], subprocess.CompletedProcess[str]]) -> bool:
    answer = command()
    print(answer.stdout.strip() or answer.stderr.strip(), file=sys.stderr)
    return answer.returncode == 0


def print_table(results: list[Result]) -> None:
    rows = [HEADER, *(result.cells() for result in results)]
    widths = [max(len(row[column]) for row in rows) for column in range(len(HEADER))]
    for number, row in enumerate(rows):
        print("| " + " | ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)) + " |")
        if number == 0:
            print("|" + "|".join("-" * (width + 2) for width in widths) + "|")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.load", description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--only", choices=("embedded", "topology"))
    args = parser.parse_args(argv)
    from tests.topology import Unavailable

    results = []
    for name, run in (("embedded", run_embedded), ("topology", run_topology)):
        if args.only in (None, name):
            print(f"running {name}: {args.people} people for {args.seconds:g} s …", file=sys.stderr, flush=True)
            try:
                results.append(run(args.people, args.seconds))
            except Unavailable as exc:
                print(f"(skipping {name}: {exc})", file=sys.stderr)
    print_table(results)
    for result in results:
        for error in result.tally.errors[:10]:
            print(f"error ({result.setup}): {error}", file=sys.stderr)
    failed = any(result.tally.errors or not result.ledger_ok for result in results)
    return 1 if failed or not results else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
