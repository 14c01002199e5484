"""Take your data: a ZIP of every edit (its inputs, its result and a JSON of its settings, plan, cost and
times) and of the ledger as CSV, built by a worker and kept in storage for EXPORT_DAYS.

The ZIP is written to a temporary file, one stored image at a time streamed from storage into it, and
read back only to store it; no transaction is open while files move. A person's edits and transfers are
read in pages, each in a short read transaction, so an export of thousands of edits holds neither the
database nor much memory.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import IO, TYPE_CHECKING, Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session

from app.billing import ledger
from app.db import after_commit
from app.editor import files
from app.errors import AppError, NotFound
from app.models import Edit, Export, User
from app.models.base import iso, new_id, utcnow
from app.storage import StoredObjectMissing

if TYPE_CHECKING:
    from app.context import AppContext

log = logging.getLogger(__name__)

BUILD_EXPORT = "accounts.build_export"
PAGE = 100
LEDGER_COLUMNS = ("id", "kind", "amount", "credits", "balance_after", "reason", "edit_id", "created_at")
RESEND_AFTER = timedelta(minutes=15)
"""A pending export whose task went missing (an in-process queue that restarted) is sent again after this."""
GIVE_UP_AFTER = timedelta(hours=6)


class ExportExpired(AppError):
    code = "export_expired"
    status = 410


class ExportNotReady(AppError):
    code = "export_not_ready"
    status = 409


def export_key(user_id: str, export_id: str, build: str) -> str:
    """Each build writes its own file, so a build that loses the race to finish removes only its own."""
    return f"u/{user_id}/exports/{export_id}-{build}.zip"


def status_of(export: Export, now: datetime | None = None) -> str:
    """pending, ready, failed or expired (a ready export past `expires_at` is expired before the sweep)."""
    if export.status == "ready" and export.expires_at is not None and export.expires_at <= (now or utcnow()):
        return "expired"
    return export.status


# --- asking, reading ------------------------------------------------------------------------------------


def request_export(context: AppContext, db: Session, user_id: str) -> Export:
    """A new pending export; the worker hears of it after the commit."""
    export = Export(user_id=user_id, status="pending", sent_at=utcnow())
    db.add(export)
    db.flush()
    export_id = export.id
    after_commit(db, lambda: context.queue.send(BUILD_EXPORT, export_id))
    return export


def get_export(db: Session, user_id: str, export_id: str) -> Export:
    """The export if it is this person's; NotFound otherwise (another person's export is not revealed)."""
    export = db.get(Export, export_id)
    if export is None or export.user_id != user_id:
        raise NotFound("No such export.")
    return export


def recent_exports(db: Session, user_id: str, limit: int = 5) -> list[Export]:
    return list(db.execute(select(Export).where(Export.user_id == user_id)
                           .order_by(Export.created_at.desc(), Export.id.desc()).limit(limit)).scalars())


def download_key(db: Session, user_id: str, export_id: str) -> tuple[Export, str]:
    """The export and the storage key of its ZIP, if it can be downloaded now."""
    export = get_export(db, user_id, export_id)
    status = status_of(export)
    if status == "expired":
        raise ExportExpired("This export has expired; ask for a new one on the account page.")
    if status != "ready" or export.storage_key is None:
        raise ExportNotReady("This export is not ready." if status == "pending" else "This export failed; "
                             "ask for a new one.")
    return export, export.storage_key


# --- building (the worker) ------------------------------------------------------------------------------


@dataclass
class _EditFiles:
    folder: str
    meta: dict[str, Any]
    files: list[tuple[str, str]]
    """(name in the ZIP, storage key)"""


def build(context: AppContext, export_id: str) -> None:
    """Build the ZIP of one pending export, store it and mark it ready (or failed, with a reason)."""
    with context.read_transaction() as db:
        export = db.get(Export, export_id)
        if export is None or export.status != "pending":
            return  # built already, or the account was deleted meanwhile
        user = db.get(User, export.user_id)
        if user is None or user.deleted_at is not None:
            return
        user_id, account = user.id, {"id": user.id, "email": user.email, "created_at": iso(user.created_at)}
    key = export_key(user_id, export_id, new_id()[:12])
    try:
        with tempfile.TemporaryFile(dir=context.settings.data_dir) as spool:
            _write_zip(context, spool, user_id, account)
            size = spool.tell()
            spool.seek(0)
            context.storage.put_file(key, spool, "application/zip")  # streamed: never whole in memory
    except Exception as exc:
        log.exception("export %s failed", export_id)
        with context.transaction() as db:
            db.execute(update(Export).where(Export.id == export_id, Export.status == "pending")
                       .values(status="failed", finished_at=utcnow(), error_message=str(exc)[:500]))
        return
    now = utcnow()
    with context.transaction() as db:
        done = db.execute(update(Export).where(Export.id == export_id, Export.status == "pending").values(
            status="ready", storage_key=key, bytes=size, finished_at=now,
            expires_at=now + timedelta(days=context.settings.export_days))).rowcount  # type: ignore[attr-defined]
    if not done:  # built by another worker meanwhile, or deleted with the account: leave nothing behind
        files.remove(context.storage, [key])


def _write_zip(context: AppContext, spool: IO[bytes], user_id: str, account: dict[str, Any]) -> None:
    made_at = utcnow()
    with zipfile.ZipFile(spool, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        count = 0
        for item in _edits(context, user_id):
            count += 1
            archive.writestr(_entry(f"{item.folder}/edit.json", made_at),
                             json.dumps(item.meta, indent=2, ensure_ascii=False))
            for name, key in item.files:
                _copy_into(context, archive, _entry(f"{item.folder}/{name}", made_at, zipfile.ZIP_STORED), key)
        with archive.open(_entry("ledger.csv", made_at), "w") as raw, \
                io.TextIOWrapper(raw, encoding="utf-8", newline="") as text:
            writer = csv.writer(text)
            writer.writerow(LEDGER_COLUMNS)
            for row in _ledger_rows(context, user_id):
                writer.writerow(row)
        account.update(exported_at=iso(made_at), edits=count)
        archive.writestr(_entry("account.json", made_at), json.dumps(account, indent=2, ensure_ascii=False))
        archive.writestr(_entry("README.txt", made_at), README)


def _entry(name: str, made_at: datetime, compression: int = zipfile.ZIP_DEFLATED) -> zipfile.ZipInfo:
    """A ZIP entry dated when the export was made (in UTC, as account.json's exported_at: ZIP dates carry no
    zone). Named without a ZipInfo, an entry opened for writing would be dated 1980-01-01."""
    info = zipfile.ZipInfo(name, date_time=made_at.timetuple()[:6])
    info.compress_type = compression
    return info


def _copy_into(context: AppContext, archive: zipfile.ZipFile, info: zipfile.ZipInfo, key: str) -> None:
    """Stream one stored file into the ZIP (stored, not compressed: images are compressed already)."""
    try:
        chunks = context.storage.iter_chunks(key)
        first = next(chunks, b"")
    except StoredObjectMissing:
        log.warning("export: stored file %s is missing; left out", key)
        return
    with archive.open(info, "w", force_zip64=True) as target:
        target.write(first)
        for chunk in chunks:
            target.write(chunk)


def _edits(context: AppContext, user_id: str) -> Iterator[_EditFiles]:
    """The person's edits oldest first, a page at a time, each page read in its own short transaction."""
    after: tuple[datetime, str] | None = None
    while True:
        with context.read_transaction() as db:
            query = select(Edit).where(Edit.user_id == user_id, Edit.deleted_at.is_(None))
            if after is not None:
                query = query.where(or_(Edit.created_at > after[0],
                                        and_(Edit.created_at == after[0], Edit.id > after[1])))
            rows = list(db.execute(query.order_by(Edit.created_at, Edit.id).limit(PAGE)).scalars())
            page = [_edit_files(edit) for edit in rows]
            if rows:
                after = (rows[-1].created_at, rows[-1].id)
        yield from page
        if len(rows) < PAGE:
            return


def _edit_files(edit: Edit) -> _EditFiles:
    folder = f"edits/{edit.created_at.strftime('%Y-%m-%d')}-{edit.id}"
    kept = edit.files_expired_at is None
    stored: list[tuple[str, str]] = []
    if kept:
        stored += [(f"input-{item.position}.{item.storage_key.rsplit('.', 1)[-1]}", item.storage_key)
                   for item in edit.inputs]
        if edit.status == "succeeded" and edit.result_key:
            stored.append((f"result.{edit.result_key.rsplit('.', 1)[-1]}", edit.result_key))
    meta = {
        "id": edit.id, "status": edit.status, "prompt": edit.prompt,
        "settings": {"quality": edit.quality, "resolution": edit.resolution, "aspect_ratio": edit.aspect_ratio,
                     "output_format": edit.output_format, "output_compression": edit.output_compression,
                     "background": edit.background, "width": edit.width, "height": edit.height},
        "plan": edit.plan, "credits": edit.credits, "image_count": edit.image_count, "parent_id": edit.parent_id,
        "backend": edit.backend, "model": edit.model, "source": edit.source,
        "error": {"code": edit.error_code, "message": edit.error_message} if edit.error_code else None,
        "created_at": iso(edit.created_at), "started_at": iso(edit.started_at),
        "finished_at": iso(edit.finished_at), "files_removed_at": iso(edit.files_expired_at),
        "files": [name for name, _ in stored],
    }
    return _EditFiles(folder, meta, stored)


def _ledger_rows(context: AppContext, user_id: str) -> Iterator[list[Any]]:
    """Every transfer of the person, newest first (the order of GET /api/v1/ledger), a page at a time."""
    before: int | None = None
    while True:
        with context.read_transaction() as db:
            page = ledger.history(db, user_id, limit=500, before_seq=before)
            rows = [[row.id, row.kind, ledger.signed_amount(row), row.amount, row.balance_after, row.reason,
                     row.edit_id or "", iso(row.created_at)] for row in page]
            if page:
                before = page[-1].seq
        yield from rows
        if len(rows) < 500:
            return


README = """Your data, as it was when this export was made.

account.json      your account: id, email, when it was made, when this export was made
ledger.csv        every movement of your credits, newest first: amount is the change of the available
                  balance (negative when spent or held), credits the size of the transfer
edits/<date>-<id>/
  edit.json       what you asked for: prompt, settings, plan, cost in credits, status and times
  input-0.*       the image you edited, as stored (oriented, metadata removed)
  input-1.* …     the reference images you added, if any, stored alike
  result.*        the result at the exact size you chose
"""


# --- the sweep -----------------------------------------------------------------------------------------


def sweep(context: AppContext) -> int:
    """Remove expired exports from storage, send again the ones whose task went missing and give up on
    very old ones. Returns how many exports it changed."""
    now = utcnow()
    with context.transaction() as db:
        expired = list(db.execute(select(Export.id, Export.storage_key).where(
            Export.status == "ready", Export.expires_at <= now).limit(PAGE)).all())
        if expired:
            db.execute(update(Export).where(Export.id.in_([row.id for row in expired]))
                       .values(status="expired"))
        keys = [row.storage_key for row in expired if row.storage_key]
        after_commit(db, lambda: files.remove(context.storage, keys))
        abandoned = db.execute(update(Export)
                               .where(Export.status == "pending", Export.created_at <= now - GIVE_UP_AFTER)
                               .values(status="failed", finished_at=now,
                                       error_message="The export did not finish; ask for a new one.")
                               ).rowcount  # type: ignore[attr-defined]
        lost = list(db.execute(select(Export.id).where(
            Export.status == "pending", or_(Export.sent_at.is_(None), Export.sent_at <= now - RESEND_AFTER))
        ).scalars())
        if lost:
            db.execute(update(Export).where(Export.id.in_(lost)).values(sent_at=now))
    for export_id in lost:
        context.queue.send(BUILD_EXPORT, export_id)
    return len(expired) + int(abandoned or 0) + len(lost)



def register(context: AppContext) -> None:
    """Build exports on the workers; expire them (and resend lost ones) in the periodic sweep."""
    context.queue.register(BUILD_EXPORT, lambda export_id: build(context, export_id))
    context.sweeps.append(lambda: sweep(context))
