"""Submitting, reading and deleting edits.

`submit` keeps its database transactions short on purpose: it checks everything that needs no images,
then validates and plans the images with no transaction open (that is the slow part), then inserts the
edit, stores its inputs and reserves its credits in ONE transaction. Files written in that transaction
are deleted if it rolls back; the queue hears of the edit only after it commits.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Protocol

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from app import observability
from app.backends.base import BackendRefused, MadeSize, Plan, PlanRequest
from app.billing import ledger
from app.db import after_commit
from app.editor import files, output, sizes
from app.editor.keys import input_key, reservation_id
from app.editor.runner import send_run_edit
from app.editor.validation import (
    CleanImage,
    EditOptions,
    check_form_key,
    check_idempotency_key,
    check_image_count,
    check_options,
    clean_image,
    clean_prompt,
)
from app.errors import (
    AccountOnHold,
    Conflict,
    EditRefused,
    InsufficientCredits,
    NotFound,
    TooManyRequests,
    ValidationFailed,
)
from app.models import Edit, EditInput
from app.models.base import new_id, utcnow

if TYPE_CHECKING:
    from app.context import AppContext

# The main image is decoded at least this large for the plan: enough for the largest mask the local engine
# computes (1600 px), far less than a 50-megapixel upload.
PLAN_IMAGE_SIZE = (1600, 1600)


class Upload(Protocol):
    """An uploaded image as the service needs it: whatever door received it (the multipart parser's
    files satisfy this)."""

    @property
    def sha256(self) -> str: ...

    def read(self) -> bytes: ...


@dataclass
class Submission:
    """An edit as a person or program asked for it, before any check."""

    prompt: str | None
    images: Sequence[Upload]
    quality: str | None = None
    resolution: str | None = None
    aspect_ratio: str | None = None
    output_format: str | None = None
    parent_id: str | None = None
    idempotency_key: str | None = None
    form_key: str | None = None
    """The key the editor page without JavaScript carries (one per page load): the same page sent twice with
    the same content is one edit; a changed form is a new intent, so the key is tied to the request's hash."""
    source: str = "api"
    size: tuple[int, int] | None = None
    """An explicit output size (the OpenAI-compatible `size`); it sets the tier and replaces the aspect."""
    output_compression: int | None = None
    background: str = "auto"
    model: str | None = None
    replay_window: timedelta | None = None
    """Treat an identical request from the same person within this window as a retry of the first."""
    image_field: str = "image"
    extra_hash_fields: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class Estimate:
    credits: int
    width: int
    height: int
    plan: Plan | None
    refusal: EditRefused | None
    made: MadeSize
    """The size the backend makes the picture at, and what to say about it before the charge."""


def submit(context: AppContext, user_id: str, submission: Submission) -> tuple[Edit, bool]:
    """Validate, price, reserve and queue an edit. Returns the edit and whether it is a replay of an
    earlier identical request (then nothing new was stored or charged)."""
    options = _options(submission)
    check_idempotency_key(submission.idempotency_key)
    prompt = clean_prompt(submission.prompt)
    image_count = len(submission.images) + (1 if submission.parent_id else 0)
    check_image_count(image_count, field=submission.image_field)
    credits = context.pricing.credits_for(options.quality, options.resolution, image_count)
    request_hash = _request_hash(submission, options, prompt)
    if submission.form_key:  # a copy: the caller's submission stays as it was sent
        submission = replace(submission,
                             idempotency_key=f"form:{check_form_key(submission.form_key)}:{request_hash[:40]}")

    with context.transaction() as db:
        replay = _find_replay(db, user_id, submission, request_hash)
        if replay is not None:
            return replay, True
        # Cheap refusals before the slow work below (decoding, the plan's look at the picture, storage);
        # both are checked again under the account's lock.
        _check_active_edits(db, user_id, context.settings.edit_max_active_per_user)
        _check_can_spend(db, user_id, credits)
        parent_data = _parent_result(context, db, user_id, submission.parent_id)

    images = _clean_images(context, submission, parent_data)
    main_size = (images[0].width, images[0].height)
    plan = plan_instruction(context, prompt, image_count, main_size, main_data=images[0].data,
                            quality=options.quality, output_aspect=_output_aspect(options, submission.size))
    width, height = resolve_size(options, main_size, plan, submission.size)

    edit_id = new_id()
    inputs = _store_inputs(context, user_id, edit_id, images)  # storage is slow: before any lock is taken
    with _removed_unless_kept(context, inputs) as keep, context.transaction() as db:
        ledger.lock_account(db, user_id)
        replay = _find_replay(db, user_id, submission, request_hash)
        if replay is not None:
            return replay, True
        keep()
        _check_active_edits(db, user_id, context.settings.edit_max_active_per_user)
        _check_can_spend(db, user_id, credits)
        edit = Edit(
            id=edit_id, user_id=user_id, status="queued", prompt=prompt, quality=options.quality,
            resolution=options.resolution, aspect_ratio=options.aspect_ratio, output_format=options.output_format,
            output_compression=submission.output_compression, background=submission.background, width=width,
            height=height, credits=credits, image_count=image_count, parent_id=submission.parent_id,
            backend=context.backend.name, model=submission.model or getattr(context.backend, "model", None),
            plan=plan.steps if plan else None, source=submission.source,
            idempotency_key=submission.idempotency_key, request_hash=request_hash, attempts=0,
            request_id=observability.current_request_id(),
            enqueued_at=utcnow(), inputs=inputs)
        db.add(edit)
        db.flush()
        ledger.transfer(db, transfer_id=reservation_id(edit.id), user_id=user_id, kind="reserve", amount=credits,
                        edit_id=edit.id, reason=f"Reserved for an edit ({options.quality}, {options.resolution})")
        after_commit(db, lambda: send_run_edit(context, edit_id))
    observability.credits_moved("reserved", credits)
    return edit, False


def _options(submission: Submission) -> EditOptions:
    options = check_options(submission.quality, submission.resolution, submission.aspect_ratio,
                            submission.output_format)
    if submission.size is not None:
        tier = sizes.tier_for_size(*submission.size)
        options = EditOptions(options.quality, tier, "auto", options.output_format)
    return options


def _request_hash(submission: Submission, options: EditOptions, prompt: str) -> str:
    body = {
        "prompt": prompt, "quality": options.quality, "resolution": options.resolution,
        "aspect_ratio": options.aspect_ratio, "output_format": options.output_format,
        "parent_id": submission.parent_id, "size": submission.size,
        "output_compression": submission.output_compression, "background": submission.background,
        "images": [upload.sha256 for upload in submission.images], **submission.extra_hash_fields,
    }
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def _find_replay(db: Session, user_id: str, submission: Submission, request_hash: str) -> Edit | None:
    if submission.idempotency_key:
        edit = db.execute(select(Edit).where(Edit.user_id == user_id,
                                             Edit.idempotency_key == submission.idempotency_key)).scalar_one_or_none()
        if edit is not None and edit.request_hash != request_hash:
            raise Conflict("This Idempotency-Key was already used for a different request.",
                           field="Idempotency-Key", code="idempotency_key_reused")
        return edit
    if submission.replay_window is not None:
        since = utcnow() - submission.replay_window
        return db.execute(
            select(Edit).where(Edit.user_id == user_id, Edit.source == submission.source,
                               Edit.request_hash == request_hash, Edit.created_at >= since)
            .order_by(Edit.created_at.desc()).limit(1)
        ).scalar_one_or_none()
    return None


def _check_active_edits(db: Session, user_id: str, limit: int) -> None:
    """At most `limit` edits per person waiting or running (EDIT_MAX_ACTIVE_PER_USER). Called under the
    account's lock, so a person's simultaneous submissions count each other."""
    active = db.execute(select(func.count()).select_from(Edit).where(
        Edit.user_id == user_id, Edit.status.in_(("queued", "running")))).scalar_one()
    if active >= limit:
        # Nothing to compute the wait from (edits take seconds to minutes); asking again is free.
        raise TooManyRequests(f"You have {active} edits waiting or running; wait for one to finish.",
                              code="too_many_active_edits", retry_after=10)


def _check_can_spend(db: Session, user_id: str, credits: int) -> None:
    balance = ledger.balance(db, user_id)
    if balance.on_hold or balance.outstanding > 0:
        raise AccountOnHold("Your account is on hold because of a payment dispute or refund; "
                            "see the billing page.", field=None)
    if balance.available < credits:
        raise InsufficientCredits(
            f"This edit costs {credits} credits and you have {balance.available}. Top up to continue.",
            field="credits")


def _parent_result(context: AppContext, db: Session, user_id: str, parent_id: str | None) -> bytes | None:
    if parent_id is None:
        return None
    parent = db.get(Edit, parent_id)
    if parent is None or parent.user_id != user_id or parent.deleted_at is not None:
        raise NotFound("The edit to continue from does not exist.", field="parent_id")
    if parent.files_expired_at is not None:
        raise ValidationFailed("The result of the edit to continue from was removed after the retention "
                               "period.", field="parent_id", code="parent_expired")
    if parent.status != "succeeded" or parent.result_key is None:
        raise ValidationFailed("The edit to continue from has no result yet.", field="parent_id",
                               code="parent_not_ready")
    return context.storage.get(parent.result_key)


def _clean_images(context: AppContext, submission: Submission, parent_data: bytes | None) -> list[CleanImage]:
    limit = context.settings.max_image_pixels
    images: list[CleanImage] = []
    if parent_data is not None:
        images.append(clean_image(parent_data, field="parent_id", label="The earlier result", max_pixels=limit))
    for upload in submission.images:
        number = len(images) + 1
        images.append(clean_image(upload.read(), field=submission.image_field, label=f"Image {number}",
                                  max_pixels=limit))
    return images


def plan_instruction(context: AppContext, prompt: str, image_count: int,
                     main_size: tuple[int, int] | None, *, main_data: bytes | None = None,
                     quality: str | None = None, output_aspect: tuple[int, int] | None = None) -> Plan | None:
    """The backend's plan, when it can make one. A refusal is raised before anything is charged.

    With `main_data` (at submit) the backend also sees the main image, reduced to the size a subject is
    judged at, so an edit it cannot do to this picture (no subject to cut out) is refused for free, and
    framing to the output's shape (`output_aspect`, from the settings) is planned for what it shows."""
    backend = context.backend
    if not backend.capabilities.plans:
        return None
    load = None if main_data is None else (lambda: output.decode_input(main_data, at_least=PLAN_IMAGE_SIZE))
    try:
        return backend.plan(PlanRequest(prompt=prompt, image_count=image_count, main_size=main_size,
                                        load_main_image=load, quality=quality, output_aspect=output_aspect))
    except BackendRefused as exc:
        raise EditRefused(exc.message, clause=exc.clause, code=exc.code) from exc


def _output_aspect(options: EditOptions, explicit: tuple[int, int] | None) -> tuple[int, int] | None:
    """The output's shape the settings fix (an exact size, or an aspect ratio other than auto)."""
    if explicit is not None:
        return explicit
    return None if options.aspect_ratio == "auto" else sizes.parse_ratio(options.aspect_ratio)


def resolve_size(options: EditOptions, main_size: tuple[int, int] | None, plan: Plan | None,
                 explicit: tuple[int, int] | None = None) -> tuple[int, int]:
    """The promised size. An instruction that asks for a frame ("Instagram story") sets the aspect when
    the setting is auto, and is refused when it contradicts an explicit setting."""
    asked = plan.aspect if plan else None
    if explicit is not None:
        if asked and not sizes.same_ratio(asked, explicit):
            raise _frame_conflict(asked, f"{explicit[0]}x{explicit[1]}", "size")
        return explicit
    chosen = options.aspect_ratio
    if asked and chosen != "auto" and not sizes.same_ratio(asked, sizes.parse_ratio(chosen)):
        raise _frame_conflict(asked, options.aspect_ratio, "aspect_ratio")
    return sizes.target_size(options.resolution, options.aspect_ratio, main_size, asked)


def _frame_conflict(asked: tuple[int, int], setting: str, field_name: str) -> EditRefused:
    refusal = EditRefused(
        f"The instruction asks for a {asked[0]}:{asked[1]} frame but {field_name.replace('_', ' ')} is set to "
        f"{setting}. Set it to auto (or {asked[0]}:{asked[1]}), or take the framing out of the instruction.",
        code="frame_conflict")
    refusal.field = field_name
    return refusal


def _store_inputs(context: AppContext, user_id: str, edit_id: str, images: list[CleanImage]) -> list[EditInput]:
    """Write the inputs to storage and describe them (no transaction is open: see `_removed_unless_kept`)."""
    rows: list[EditInput] = []
    try:
        for position, image in enumerate(images):
            key = input_key(user_id, edit_id, position, image.extension)
            context.storage.put(key, image.data, image.content_type)
            rows.append(EditInput(position=position, storage_key=key, content_type=image.content_type,
                                  width=image.width, height=image.height, bytes=len(image.data)))
    except BaseException:
        files.remove(context.storage, [row.storage_key for row in rows])
        raise
    return rows


@contextlib.contextmanager
def _removed_unless_kept(context: AppContext, inputs: list[EditInput]) -> Iterator[Callable[[], None]]:
    """Delete the stored inputs when the block ends unless it called `keep()` and then finished normally:
    a replay found at the last moment, a refusal or a rollback leaves no file behind."""
    kept = [False]
    try:
        yield lambda: kept.__setitem__(0, True)
    except BaseException:
        files.remove(context.storage, [row.storage_key for row in inputs])
        raise
    if not kept[0]:
        files.remove(context.storage, [row.storage_key for row in inputs])


def estimate(context: AppContext, *, quality: str | None, resolution: str | None, aspect_ratio: str | None,
             image_count: int, main_size: tuple[int, int] | None, prompt: str | None) -> Estimate:
    """The price and size of an edit before it is submitted, with the plan or refusal for its prompt."""
    options = check_options(quality, resolution, aspect_ratio, None)
    check_image_count(max(1, image_count), field="image_count")
    credits = context.pricing.credits_for(options.quality, options.resolution, max(1, image_count))
    plan: Plan | None = None
    refusal: EditRefused | None = None
    if prompt and prompt.strip():
        try:
            plan = plan_instruction(context, clean_prompt(prompt), max(1, image_count), main_size,
                                    output_aspect=_output_aspect(options, None))
            width, height = resolve_size(options, main_size, plan)
        except EditRefused as exc:
            refusal = exc
            width, height = resolve_size(options, main_size, None)
    else:
        width, height = resolve_size(options, main_size, None)
    return Estimate(credits, width, height, plan, refusal, context.backend.made_size(width, height))


# --- reading and deleting -------------------------------------------------------------------------------


def get_edit(db: Session, user_id: str, edit_id: str) -> Edit:
    """The edit if it belongs to this person; NotFound otherwise (never Forbidden: ids are not revealed)."""
    edit = db.get(Edit, edit_id)
    if edit is None or edit.user_id != user_id or edit.deleted_at is not None:
        raise NotFound("No such edit.")
    return edit


def encode_cursor(created_at: datetime, edit_id: str) -> str:
    return base64.urlsafe_b64encode(f"{created_at.isoformat()}|{edit_id}".encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        stamp, _, edit_id = raw.partition("|")
        return datetime.fromisoformat(stamp), edit_id
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValidationFailed("That cursor is not valid; start again without it.", field="cursor") from exc


def list_edits(db: Session, user_id: str, *, limit: int, cursor: str | None) -> tuple[list[Edit], str | None]:
    """A page of a person's edits, newest first, and the cursor of the next page (None at the end)."""
    query = select(Edit).where(Edit.user_id == user_id, Edit.deleted_at.is_(None))
    if cursor:
        stamp, edit_id = _decode_cursor(cursor)
        query = query.where(or_(Edit.created_at < stamp, and_(Edit.created_at == stamp, Edit.id < edit_id)))
    rows = list(db.execute(query.order_by(Edit.created_at.desc(), Edit.id.desc()).limit(limit + 1)).scalars())
    next_cursor = encode_cursor(rows[limit - 1].created_at, rows[limit - 1].id) if len(rows) > limit else None
    return rows[:limit], next_cursor


def delete_edit(context: AppContext, db: Session, user_id: str, edit_id: str) -> None:
    """Delete an edit's files and hide it for good. A queued edit is cancelled and its credits returned; a
    running one must finish first. The row stays, marked deleted, so that its ledger entries still name it."""
    edit = get_edit(db, user_id, edit_id)
    if edit.status == "running":
        raise Conflict("This edit is running; delete it once it has finished.", code="edit_running")
    if edit.status == "queued":
        cancel_queued(db, edit)
    mark_deleted(context, db, edit)


def cancel_queued(db: Session, edit: Edit) -> None:
    """Stop a queued edit before a worker claims it and return its credits (Conflict if a worker just did)."""
    if db.execute(select(Edit.id).where(Edit.id == edit.id, Edit.status == "queued")
                  .with_for_update()).first() is None:
        raise Conflict("This edit has just started; delete it once it has finished.", code="edit_running")
    ledger.settle(db, pending_id=reservation_id(edit.id), kind="void", reason="Returned: the edit was cancelled")
    edit.status, edit.error_code, edit.error_message = "failed", "cancelled", "Cancelled before it started."
    edit.finished_at, edit.lease_until = utcnow(), None


def mark_deleted(context: AppContext, db: Session, edit: Edit) -> None:
    """Mark a finished (or cancelled) edit deleted and remove its files once that is committed."""
    keys = files.stored_keys(edit)
    edit.deleted_at = utcnow()
    db.flush()
    after_commit(db, lambda: files.remove(context.storage, keys))
