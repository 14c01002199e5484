"""Run one edit: claim it with a lease, call the backend, fit and encode the result, store it, then mark it
succeeded and charge the reservation in one transaction. Any failure returns the credits.

A claim is a conditional UPDATE, so two workers handed the same edit (a re-sent message, a sweeper that
was too quick) never both run it; a worker whose lease lapsed cannot overwrite the outcome of the attempt
that replaced it, because every outcome is written only `WHERE attempts = <its own attempt>`.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import Update, func, or_, update

from app.backends.base import BackendRefused, BackendUnavailable, EditRequest
from app.billing import auto_recharge, ledger
from app.editor import output
from app.editor.keys import reservation_id, result_key
from app.models import Edit
from app.models.base import utcnow
from app.storage import StoredObjectMissing

if TYPE_CHECKING:
    from app.context import AppContext

log = logging.getLogger(__name__)

RUN_EDIT = "run_edit"


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


class Runner:
    def __init__(self, context: AppContext) -> None:
        self.context = context

    def run(self, edit_id: str) -> None:
        """Do one edit if it is still waiting (or its lease lapsed); otherwise do nothing."""
        claim = self._claim(edit_id)
        if claim is None:
            return
        keeper = _LeaseKeeper(self, claim)
        keeper.start()
        stored_key: str | None = None
        try:
            images = [output.decode_input(self.context.storage.get(key), at_least=(claim.width, claim.height))
                      for key in claim.input_keys]
            result = self.context.backend.edit(EditRequest(
                images=images, prompt=claim.prompt, quality=claim.quality, width=claim.width,
                height=claim.height, output_format=claim.output_format, background=claim.background))
            del images
            fitted = output.fit(result.image, claim.width, claim.height)
            data = output.encode(fitted, claim.output_format, claim.output_compression)
            stored_key = result_key(claim.user_id, claim.edit_id, claim.attempt, claim.output_format)
            self.context.storage.put(stored_key, data, output.content_type(claim.output_format))
        except BackendRefused as exc:
            keeper.stop()
            self._fail(claim, exc.code, exc.message)
            return
        except BackendUnavailable as exc:
            keeper.stop()
            self._retry_or_fail(claim, exc.code, exc.message)
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
        if not self._succeed(claim, stored_key, len(data), result.plan, result.usage, result.model):
            self.context.storage.delete(stored_key)  # a newer attempt owns the edit now

    def _claim(self, edit_id: str) -> Claim | None:
        settings = self.context.settings
        now = utcnow()
        with self.context.transaction() as db:
            row = db.execute(
                update(Edit)
                .where(Edit.id == edit_id, Edit.attempts < settings.max_attempts,
                       or_(Edit.status == "queued", (Edit.status == "running") & (Edit.lease_until < now)))
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
                         background=edit.background, input_keys=[i.storage_key for i in edit.inputs])

    def _owned(self, claim: Claim) -> Update:
        return update(Edit).where(Edit.id == claim.edit_id, Edit.status == "running",
                                  Edit.attempts == claim.attempt)

    def extend_lease(self, claim: Claim) -> bool:
        """Push the lease forward; False when this attempt no longer owns the edit."""
        until = utcnow() + timedelta(seconds=self.context.settings.lease_seconds)
        with self.context.transaction() as db:
            return db.execute(self._owned(claim).values(lease_until=until)).rowcount == 1  # type: ignore[attr-defined]

    def _succeed(self, claim: Claim, key: str, size: int, plan: list[str] | None,
                 usage: dict[str, Any] | None, model: str | None) -> bool:
        values: dict[str, object] = {"status": "succeeded", "result_key": key, "result_bytes": size,
                                     "finished_at": utcnow(), "lease_until": None}
        if plan is not None:
            values["plan"] = plan
        if usage is not None:
            values["usage"] = usage
        if model is not None:
            values["model"] = model
        with self.context.transaction() as db:
            if db.execute(self._owned(claim).values(**values)).rowcount != 1:  # type: ignore[attr-defined]
                return False
            ledger.settle(db, pending_id=reservation_id(claim.edit_id), kind="post",
                          reason="Charged for the edit")
        auto_recharge.after_charge(self.context, claim.user_id)  # queues a top-up if now below the threshold
        log.info("edit %s succeeded (attempt %d)", claim.edit_id, claim.attempt)
        return True

    def _fail(self, claim: Claim, code: str, message: str) -> None:
        with self.context.transaction() as db:
            if db.execute(self._owned(claim).values(
                    status="failed", error_code=code, error_message=message, finished_at=utcnow(),
                    lease_until=None)).rowcount == 1:  # type: ignore[attr-defined]
                ledger.settle(db, pending_id=reservation_id(claim.edit_id), kind="void",
                              reason="Returned: the edit failed")
        log.info("edit %s failed: %s", claim.edit_id, code)

    def _retry_or_fail(self, claim: Claim, code: str, message: str) -> None:
        if claim.attempt >= self.context.settings.max_attempts:
            self._fail(claim, code, message)
            return
        delay = self.context.settings.retry_base_seconds * 2 ** (claim.attempt - 1)
        with self.context.transaction() as db:
            requeued = db.execute(self._owned(claim).values(
                status="queued", lease_until=None, enqueued_at=utcnow())).rowcount == 1  # type: ignore[attr-defined]
        if requeued:
            self.context.queue.send(RUN_EDIT, claim.edit_id, delay_seconds=delay)
            log.warning("edit %s attempt %d: %s; retrying in %.0fs", claim.edit_id, claim.attempt, code, delay)


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
