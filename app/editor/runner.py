"""Run one edit: claim it with a lease, call the backend, fit and encode the result, store it, then mark it
succeeded and charge the reservation in one transaction. Any failure returns the credits.

A claim is a conditional UPDATE, so two workers handed the same edit (a re-sent message, a sweeper that
was too quick) never both run it; a worker whose lease lapsed cannot overwrite the outcome of the attempt
that replaced it, because every outcome is written only `WHERE attempts = <its own attempt>`.

Fair order between people: a RUN_EDIT message means "one queued edit is waiting", not "run this one". Every
queued edit sent exactly one, so the counts match whichever edit each message ends up starting, and the
worker starts the fairest ready edit: that of the person with the fewest edits running, then the person
served least recently, then the longest waiting. One person's six edits thus take turns with another's
one instead of standing in front of it. A queued edit's `lease_until` is the time it may start again (a
retry's backoff), so a message meant for another edit cannot start it early.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import ColumnElement, Update, and_, func, or_, select, update
from sqlalchemy.orm import Session, aliased

from app import observability
from app.backends.base import BackendRefused, BackendUnavailable, EditRequest, EditResult, customer_id
from app.billing import ledger
from app.editor import memory, output
from app.editor.keys import reservation_id, result_key
from app.models import Edit
from app.models.base import utcnow
from app.storage import StoredObjectMissing

if TYPE_CHECKING:
    from app.context import AppContext

log = logging.getLogger(__name__)

RUN_EDIT = "run_edit"
# Looks for the fairest edit before a message is given back to the queue, when other workers keep taking
# the chosen edit first (PostgreSQL; SQLite runs one writer at a time).
CLAIM_TRIES = 5
# A message sent for an edit that waits for its retry time arrives this much after that time.
READY_MARGIN_SECONDS = 0.01


@dataclass(frozen=True)
class Claim:
    """What a worker needs of an edit it holds."""

    edit_id: str
    user_id: str
    attempt: int
    prompt: str
    quality: str
    width: int
    height: int
    output_format: str
    output_compression: int | None
    background: str
    input_keys: list[str]
    # For the metrics and the log lines (app.observability).
    backend: str = ""
    resolution: str = ""
    credits: int = 0
    request_id: str | None = None
    waited_seconds: float = 0.0
    started: float = field(default_factory=time.perf_counter)


def send_run_edit(context: AppContext, edit_id: str, *, delay_seconds: float = 0) -> None:
    """Tell the workers that `edit_id` waits. When the broker cannot take the message (Redis restarting), the
    edit is marked as having none (`enqueued_at` NULL) so that the next sweep sends it again, instead of it
    waiting for the sweeper's STALE_QUEUED."""
    try:
        context.queue.send(RUN_EDIT, edit_id, delay_seconds=delay_seconds)
    except Exception:
        log.warning("could not queue edit %s; the sweeper will send it again", edit_id, exc_info=True)
        with context.transaction() as db:
            db.execute(update(Edit).where(Edit.id == edit_id, Edit.status == "queued").values(enqueued_at=None))


class Runner:
    def __init__(self, context: AppContext) -> None:
        self.context = context

    def run(self, edit_id: str) -> None:
        """Do the fairest waiting edit (not necessarily `edit_id`: see `_claim`); nothing if none is ready."""
        claim = self._claim(edit_id)
        if claim is None:
            return
        observability.edit_started(claim.backend, claim.waited_seconds)
        with observability.bound(request_id=claim.request_id, edit_id=claim.edit_id):
            self._run(claim)

    def _run(self, claim: Claim) -> None:
        keeper = _LeaseKeeper(self, claim)
        keeper.start()
        stored_key: str | None = None
        try:
            files = [self.context.storage.get(key) for key in claim.input_keys]
            # Reserve the edit's estimated peak before decoding anything, so that what the workers of this
            # process decode and compute stays within EDIT_MEMORY_MB however many run at once. (The encoded
            # files just read are outside it: at most nine uploads of MAX_UPLOAD_BYTES.)
            need = memory.edit_estimate(files, (claim.width, claim.height), self.context.backend)
            with memory.process_budget(self.context.settings.edit_memory_mb).reserve(need):
                images = [output.decode_input(file, at_least=(claim.width, claim.height)) for file in files]
                del files
                result = self.context.backend.edit(EditRequest(
                    images=images, prompt=claim.prompt, quality=claim.quality, width=claim.width,
                    height=claim.height, output_format=claim.output_format, background=claim.background,
                    customer_id=customer_id(self.context.settings.resolved_secret_key, claim.user_id)))
                del images
                fitted = output.fit(result.image, claim.width, claim.height)
                data = output.encode(fitted, claim.output_format, claim.output_compression)
                del fitted
            stored_key = result_key(claim.user_id, claim.edit_id, claim.attempt, claim.output_format)
            self.context.storage.put(stored_key, data, output.content_type(claim.output_format))
        except BackendRefused as exc:
            keeper.stop()
            observability.BACKEND_FAILURES.labels(claim.backend, exc.code).inc()
            self._fail(claim, exc.code, exc.message, exc.detail)
            return
        except BackendUnavailable as exc:
            keeper.stop()
            observability.BACKEND_FAILURES.labels(claim.backend, exc.code).inc()
            self._retry_or_fail(claim, exc.code, exc.message, exc.detail)
            return
        except StoredObjectMissing:
            keeper.stop()
            self._fail(claim, "input_missing", "An input image of this edit is no longer stored.")
            return
        except Exception:
            keeper.stop()
            log.exception("edit %s attempt %d crashed", claim.edit_id, claim.attempt)
            self._retry_or_fail(claim, "internal_error", "The edit failed on our side; your credits were returned.")
            return
        keeper.stop()
        if not self._succeed(claim, stored_key, len(data), result):
            self.context.storage.delete(stored_key)  # a newer attempt owns the edit now

    def _claim(self, edit_id: str) -> Claim | None:
        """Start the fairest ready edit, whichever edit this message was sent for (see the module docstring).
        Only when no queued edit is ready does the message fall back to its own edit, if that edit's lease
        lapsed (a message delivered again after its worker died)."""
        max_attempts = self.context.settings.max_attempts
        for _ in range(CLAIM_TRIES):
            with self.context.transaction() as db:
                now = utcnow()
                fairest = _fairest_ready(db, now, max_attempts)
                claim = self._take(db, fairest or edit_id, now)
            if claim is not None or fairest is None:
                break
            # Another worker started that edit between our look and our UPDATE: look again.
        else:
            # The edit this message stands for is still waiting: give the message back rather than lose it.
            send_run_edit(self.context, edit_id)
            return None
        if fairest is None:
            self._wake_when_ready()
        return claim

    def _wake_when_ready(self) -> None:
        """This message found no ready edit. If some wait for their retry time, make sure one message comes
        back then: one delivered a moment early (a restart re-sends every queued edit at once, clocks round
        to milliseconds) must not leave an edit with none. A spare message only finds nothing to do."""
        with self.context.transaction() as db:
            row = db.execute(select(Edit.id, Edit.lease_until)
                             .where(Edit.status == "queued", Edit.lease_until > utcnow())
                             .order_by(Edit.lease_until).limit(1)).first()
        if row is not None:
            delay = (row.lease_until - utcnow()).total_seconds() + READY_MARGIN_SECONDS
            send_run_edit(self.context, row.id, delay_seconds=max(delay, READY_MARGIN_SECONDS))

    def _take(self, db: Session, edit_id: str, now: datetime) -> Claim | None:
        """The claim itself: one conditional UPDATE, so two workers never both start one edit."""
        settings = self.context.settings
        row = db.execute(
            update(Edit)
            .where(Edit.id == edit_id, Edit.attempts < settings.max_attempts,
                   or_(_ready(now, settings.max_attempts), (Edit.status == "running") & (Edit.lease_until < now)))
            .values(status="running", attempts=Edit.attempts + 1,
                    lease_until=now + timedelta(seconds=settings.lease_seconds),
                    started_at=func.coalesce(Edit.started_at, now))
            .returning(Edit.attempts)
        ).first()
        if row is None:
            return None
        edit = db.get(Edit, edit_id)
        assert edit is not None
        return Claim(edit_id=edit.id, user_id=edit.user_id, attempt=row[0], prompt=edit.prompt,
                     quality=edit.quality, width=edit.width, height=edit.height,
                     output_format=edit.output_format, output_compression=edit.output_compression,
                     background=edit.background, input_keys=[i.storage_key for i in edit.inputs],
                     backend=edit.backend, resolution=edit.resolution, credits=edit.credits,
                     request_id=edit.request_id, waited_seconds=(now - (edit.enqueued_at or edit.created_at))
                     .total_seconds())

    def _owned(self, claim: Claim) -> Update:
        return update(Edit).where(Edit.id == claim.edit_id, Edit.status == "running",
                                  Edit.attempts == claim.attempt)

    def extend_lease(self, claim: Claim) -> bool:
        """Push the lease forward; False when this attempt no longer owns the edit."""
        until = utcnow() + timedelta(seconds=self.context.settings.lease_seconds)
        with self.context.transaction() as db:
            return db.execute(self._owned(claim).values(lease_until=until)).rowcount == 1  # type: ignore[attr-defined]

    def _succeed(self, claim: Claim, key: str, size: int, result: EditResult) -> bool:
        # The size the backend made the picture at, before output.fit made it the promised size.
        values: dict[str, object] = {"status": "succeeded", "result_key": key, "result_bytes": size,
                                     "finished_at": utcnow(), "lease_until": None,
                                     "native_width": result.image.width, "native_height": result.image.height}
        if result.plan is not None:
            values["plan"] = result.plan
        if result.usage is not None:
            values["usage"] = result.usage
        if result.model is not None:
            values["model"] = result.model
        with self.context.transaction() as db:
            if db.execute(self._owned(claim).values(**values)).rowcount != 1:  # type: ignore[attr-defined]
                return False
            ledger.settle(db, pending_id=reservation_id(claim.edit_id), kind="post",
                          reason="Charged for the edit")
        self._ended(claim, "succeeded")
        observability.credits_moved("charged", claim.credits)
        for follow_up in self.context.after_charge:  # e.g. billing queues a top-up if now below its threshold
            follow_up(claim.user_id)
        log.info("edit %s succeeded (attempt %d)", claim.edit_id, claim.attempt)
        return True

    def _fail(self, claim: Claim, code: str, message: str, detail: str | None = None) -> None:
        failed = False
        with self.context.transaction() as db:
            if db.execute(self._owned(claim).values(
                    status="failed", error_code=code, error_message=message, error_detail=detail,
                    finished_at=utcnow(), lease_until=None)).rowcount == 1:  # type: ignore[attr-defined]
                ledger.settle(db, pending_id=reservation_id(claim.edit_id), kind="void",
                              reason="Returned: the edit failed")
                failed = True
        if failed:
            self._ended(claim, "failed")
            observability.credits_moved("returned", claim.credits)
        log.info("edit %s failed: %s", claim.edit_id, code)

    def _retry_or_fail(self, claim: Claim, code: str, message: str, detail: str | None = None) -> None:
        if claim.attempt >= self.context.settings.max_attempts:
            self._fail(claim, code, message, detail)
            return
        delay = self.context.settings.retry_base_seconds * 2 ** (claim.attempt - 1)
        with self.context.transaction() as db:
            now = utcnow()
            # The wait lives in the row, not only in the message's delay: any message may start any ready edit.
            requeued = db.execute(self._owned(claim).values(
                status="queued", lease_until=now + timedelta(seconds=delay),
                enqueued_at=now)).rowcount == 1  # type: ignore[attr-defined]
        if requeued:
            self._ended(claim, "retried")
            send_run_edit(self.context, claim.edit_id, delay_seconds=delay)
            log.warning("edit %s attempt %d: %s; retrying in %.0fs", claim.edit_id, claim.attempt, code, delay)

    @staticmethod
    def _ended(claim: Claim, status: str) -> None:
        observability.edit_ended(status, backend=claim.backend, quality=claim.quality,
                                 resolution=claim.resolution, running_seconds=time.perf_counter() - claim.started)


def _ready(now: datetime, max_attempts: int) -> ColumnElement[bool]:
    """Queued edits a worker may start now: attempts left, and not waiting for a retry's time."""
    return and_(Edit.status == "queued", Edit.attempts < max_attempts,
                or_(Edit.lease_until.is_(None), Edit.lease_until <= now))


def _fairest_ready(db: Session, now: datetime, max_attempts: int) -> str | None:
    """The ready edit to start next: of the person with the fewest edits running, then the one whose last
    edit started longest ago (or never), then whose oldest ready edit has waited longest; that person's
    oldest ready edit. "Last started" is what keeps turns when nobody is running at the moment of a claim
    (one worker, or edits that finish quickly): without it the oldest edit would always win, which is
    first in, first out again."""
    ready = _ready(now, max_attempts)
    waiting = (select(Edit.user_id, func.min(Edit.created_at).label("since"))
               .where(ready).group_by(Edit.user_id).subquery())
    other = aliased(Edit)
    running = (select(func.count()).select_from(other)
               .where(other.user_id == waiting.c.user_id, other.status == "running")
               .correlate(waiting).scalar_subquery())
    # A person's edits start oldest first, so the newest started one holds their latest start; walking
    # back from the newest (ix_edits_user_created) passes only their few queued edits.
    last_started = (select(other.started_at)
                    .where(other.user_id == waiting.c.user_id, other.started_at.is_not(None))
                    .order_by(other.created_at.desc(), other.id.desc()).limit(1)
                    .correlate(waiting).scalar_subquery())
    person = (select(waiting.c.user_id)
              .order_by(running, last_started.asc().nulls_first(), waiting.c.since, waiting.c.user_id)
              .limit(1).scalar_subquery())
    # One statement, so the person and their edit come from one snapshot: in two, another worker could start
    # the person's only ready edit in between, and this message would end without starting any other.
    return db.execute(select(Edit.id).where(ready, Edit.user_id == person)
                      .order_by(Edit.created_at, Edit.id).limit(1)).scalar()


class _LeaseKeeper:
    """Renews the lease while a long backend call runs, so the sweeper only reclaims dead workers."""

    def __init__(self, runner: Runner, claim: Claim) -> None:
        self.runner = runner
        self.claim = claim
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"lease-{claim.edit_id[:8]}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)

    def _loop(self) -> None:
        interval = self.runner.context.settings.lease_seconds / 3
        while not self._stop.wait(interval):
            try:
                if not self.runner.extend_lease(self.claim):
                    return
            except Exception:
                log.exception("could not extend the lease of %s", self.claim.edit_id)
