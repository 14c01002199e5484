"""compose.yaml's topology, proven as processes: two `python -m app serve` and two `python -m app worker` on
PostgreSQL, a Redis of their own and moto's S3 server (tests/topology.py starts them as compose would).
100 edits from ten people go in through both web processes; one worker is SIGKILLed while it holds an edit
and started again, and Redis is stopped and started again while edits are being submitted. Every edit still
ends exactly once (succeeded, or failed with its credits returned), nobody is charged twice, and
`python -m app ledger verify` is clean.

PostgreSQL only (the PostgreSQL pass of `make test`): the topology is about processes sharing one database."""

from __future__ import annotations

import io
import os
import signal
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

import httpx
import pytest
from PIL import Image
from sqlalchemy import select

from tests.conftest import unavailable
from tests.topology import Person, Topology, Unavailable, running_topology

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.s3,
              pytest.mark.skipif(os.environ.get("TEST_DATABASE") != "postgresql",
                                 reason="the production topology runs on PostgreSQL (make test-postgresql)")]

PEOPLE = 10
EDITS_EACH = 10
FIRST_WAVE = 6  # per person before the worker is killed and Redis stopped; the rest while Redis is away
# Guards against hanging only; nothing waits for a length of time.
DEADLINE_SECONDS = 240
SETTINGS = {
    "EDIT_WORKERS": "2",
    # A killed worker's edit is taken up again once its lease lapses: short, so the test is quick. A live
    # worker renews its lease every third of it; one that misses a renewal on a busy machine only makes
    # another attempt, which the ledger must survive just the same.
    "LEASE_SECONDS": "4",
    "SWEEP_INTERVAL_SECONDS": "0.5",
    "WORKER_HEARTBEAT_SECONDS": "1",
    # The messages a killed worker had taken ahead of its threads go back to Redis's queue this soon.
    "WORKER_HEARTBEAT_STALE_SECONDS": "6",
    "EDIT_MAX_ACTIVE_PER_USER": str(EDITS_EACH),
    "RATE_LIMIT_SUBMIT_PER_USER": "1000/minute",
    "RATE_LIMIT_API_KEY": "100000/minute",
}


def small_png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), "teal").save(buffer, "PNG")
    return buffer.getvalue()


class Outage:
    """Whether Redis is stopped now, and how many submits were answered while it was."""

    def __init__(self) -> None:
        self.redis_down = False
        self.accepted_while_down = 0
        self.lock = threading.Lock()
        self.second_wave = threading.Event()

    def answered(self) -> None:
        with self.lock:
            if self.redis_down:  # set only once Redis has exited, cleared before it starts again
                self.accepted_while_down += 1


class Client:
    """One person: submits EDITS_EACH edits over both web processes (each with its Idempotency-Key, sent
    again, to the other process, when an answer does not come back), then polls each until it ends."""

    def __init__(self, number: int, person: Person, urls: list[str], outage: Outage, deadline: float) -> None:
        self.number, self.person, self.urls, self.outage, self.deadline = number, person, urls, outage, deadline
        self.headers = {"Authorization": f"Bearer {person.api_key}"}
        self.edit_ids: list[str] = []
        self.submitted_to: Counter[str] = Counter()
        self.resent = 0
        self.ended: dict[str, dict] = {}
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            with httpx.Client(timeout=60, headers=self.headers) as http:
                for index in range(EDITS_EACH):
                    if index == FIRST_WAVE:
                        assert self.outage.second_wave.wait(DEADLINE_SECONDS), "the second wave never started"
                    hold = self.number == 0 and index == 0
                    self.edit_ids.append(self.submit(http, index, "Hold this one" if hold else "Brighter"))
                for edit_id in self.edit_ids:
                    self.ended[edit_id] = self.poll(http, edit_id)
        except BaseException as exc:
            self.error = exc

    def submit(self, http: httpx.Client, index: int, prompt: str) -> str:
        key = str(uuid.uuid4())
        attempt = 0
        while True:
            url = self.urls[(self.number + index + attempt) % len(self.urls)]
            try:
                response = http.post(f"{url}/api/v1/edits", headers={"Idempotency-Key": key},
                                     data={"prompt": prompt, "quality": "low", "resolution": "1K",
                                           "output_format": "jpeg"},
                                     files=[("image", ("small.png", small_png(), "image/png"))])
            except httpx.TransportError:
                response = None
            if response is not None and response.status_code < 500:
                assert response.status_code in (200, 202), response.text
                self.outage.answered()
                self.submitted_to[url] += 1
                return str(response.json()["id"])
            assert time.monotonic() < self.deadline, f"submit {key} never answered"
            attempt += 1
            self.resent += 1

    def poll(self, http: httpx.Client, edit_id: str) -> dict:
        while True:
            url = self.urls[len(self.ended) % len(self.urls)]
            try:
                edit = http.get(f"{url}/api/v1/edits/{edit_id}").json()
                if edit["status"] in ("succeeded", "failed"):
                    return dict(edit)
            except httpx.TransportError:
                pass
            assert time.monotonic() < self.deadline, f"edit {edit_id} never ended"
            time.sleep(0.1)


@pytest.fixture(scope="module")
def topology(tmp_path_factory: pytest.TempPathFactory):
    try:
        with running_topology(Path(tmp_path_factory.mktemp("topology")), **SETTINGS) as running:
            yield running
    except Unavailable as exc:
        unavailable(str(exc))


def wait_for_held_edit(topology: Topology, deadline: float) -> int:
    """The pid of the worker that holds the "hold" edit, once it has written it (HoldingBackend)."""
    held = topology.folder / "held"
    while not held.exists():
        assert time.monotonic() < deadline, "no worker took the held edit\n" + topology.logs()
        time.sleep(0.05)
    return int(held.read_text())


def test_every_edit_ends_once_through_a_killed_worker_and_a_redis_restart(topology):
    deadline = time.monotonic() + DEADLINE_SECONDS
    people = topology.people(PEOPLE, credits=100)
    outage = Outage()
    clients = [Client(number, person, topology.web_urls, outage, deadline) for number, person in enumerate(people)]
    threads = [threading.Thread(target=client.run, daemon=True) for client in clients]
    for thread in threads:
        thread.start()

    # A worker in the middle of an edit (it holds the lease and keeps renewing it) dies without a word.
    holder = wait_for_held_edit(topology, deadline)
    slot = next(index for index, worker in enumerate(topology.workers) if worker.pid == holder)
    assert topology.workers[slot].stop(signal.SIGKILL) == -signal.SIGKILL
    topology.start_worker(slot)  # what compose's restart policy does

    # Redis goes away while people keep submitting, and comes back with what it had (its append-only file).
    topology.redis.stop()
    outage.redis_down = True
    outage.second_wave.set()
    while outage.accepted_while_down < 3:
        assert time.monotonic() < deadline, "no submit was answered while Redis was away\n" + topology.logs()
        assert not any(client.error for client in clients), [client.error for client in clients]
        time.sleep(0.05)
    outage.redis_down = False
    topology.redis.start()

    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    errors = [client.error for client in clients if client.error]
    assert not errors, f"{errors}\n{topology.logs()}"

    # Both web processes took submits; every submit made exactly one edit.
    edit_ids = [edit_id for client in clients for edit_id in client.edit_ids]
    assert len(edit_ids) == len(set(edit_ids)) == PEOPLE * EDITS_EACH
    per_web = Counter()
    for client in clients:
        per_web.update(client.submitted_to)
    assert set(per_web) == set(topology.web_urls) and min(per_web.values()) >= 30, per_web
    # The web processes answered while Redis was away and left the edits for the sweepers to send.
    web_logs = "".join(web.log.read_text() for web in topology.webs)
    assert "could not queue edit" in web_logs

    check_every_edit_ended_once(topology, clients)
    verified = topology.cli("ledger", "verify")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "Ledger verify OK" in verified.stdout
    for url in topology.web_urls:  # ready again: Redis back, a worker heartbeat fresh
        assert httpx.get(f"{url}/readyz", timeout=10).status_code == 200


def check_every_edit_ended_once(topology: Topology, clients: list[Client]) -> None:
    from app.db import make_engine, make_session_factory, transaction
    from app.models import Account, Edit, Transfer

    engine = make_engine(topology.database_url)
    try:
        with transaction(make_session_factory(engine)) as db:
            edits = {edit.id: edit for edit in db.execute(select(Edit)).scalars()}
            transfers = Counter((t.edit_id, t.kind) for t in db.execute(select(Transfer)).scalars() if t.edit_id)
            accounts = {account.user_id: account for account in db.execute(select(Account)).scalars()}
    finally:
        engine.dispose()
    assert len(edits) == PEOPLE * EDITS_EACH
    for client in clients:
        charged = 0
        for edit_id in client.edit_ids:
            edit = edits[edit_id]
            assert client.ended[edit_id]["status"] == edit.status
            # One reservation, settled once: charged if it succeeded, returned if it failed.
            settled = "post" if edit.status == "succeeded" else "void"
            assert transfers[(edit_id, "reserve")] == 1 and transfers[(edit_id, settled)] == 1, edit_id
            assert transfers[(edit_id, "void" if settled == "post" else "post")] == 0, edit_id
            if edit.status == "succeeded":
                assert edit.result_key
                charged += edit.credits
            else:
                assert edit.error_code, edit_id
        account = accounts[client.person.user_id]
        assert account.debits_pending == 0
        assert account.available == client.person.credits - charged
    held = edits[clients[0].edit_ids[0]]
    # The held edit was taken up again after its worker died.
    assert held.attempts >= 2 and held.status == "succeeded", (held.status, held.attempts, held.error_code)
