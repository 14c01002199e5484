"""The editor API under /api/v1: prices and estimates, submitting edits, reading and deleting them, their
images. Handlers parse, call one service, shape the answer."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from app import limits
from app.api import stored_files
from app.api.docs import API_ERRORS, EDIT_REQUEST, EDIT_RESPONSES, IMAGE_FILE, WEBP_FILE
from app.api.paging import Page
from app.api.uploads import Upload, streams_upload, upload_form
from app.billing import ledger
from app.billing.pricing import QUALITIES, RESOLUTIONS
from app.deps import Context, CsrfProtected, CurrentPrincipal, DbSession, OptionalPrincipal
from app.editor import service as edits
from app.editor import sizes
from app.editor.schemas import (
    BackendOut,
    EditOut,
    EstimateOut,
    EstimateRequest,
    PackOut,
    PricingOut,
    Refusal,
)
from app.editor.validation import MAX_IMAGES, MAX_PROMPT_CHARS, OUTPUT_FORMATS
from app.errors import NotFound
from app.models import Edit, EditInput

router = APIRouter(prefix="/api/v1", tags=["edits"], responses=API_ERRORS,
                   dependencies=[CsrfProtected, limits.ApiKeyLimited])

Limit = Annotated[int, Query(ge=1, le=100)]
ImageUpload = Annotated[Upload, Depends(upload_form(frozenset({"image", "image[]"})))]


@router.get("/pricing")
def pricing(context: Context) -> PricingOut:
    table = context.pricing
    capabilities = context.backend.capabilities
    return PricingOut(
        table=table.table, extra_reference_credits=table.extra_reference_credits,
        packs=[PackOut(**pack.model_dump()) for pack in table.packs], resolutions=list(RESOLUTIONS),
        long_edges=sizes.LONG_EDGE, qualities=list(QUALITIES), aspect_ratios=list(sizes.ASPECT_RATIOS),
        output_formats=list(OUTPUT_FORMATS), max_images=MAX_IMAGES, max_prompt_chars=MAX_PROMPT_CHARS,
        max_upload_bytes=context.settings.max_upload_bytes, max_image_pixels=context.settings.max_image_pixels,
        backend=BackendOut(name=context.backend.name, plans=capabilities.plans,
                           transparent_output=capabilities.transparent_output))


@router.post("/estimate", dependencies=[limits.EstimateLimited])
def estimate(body: EstimateRequest, principal: OptionalPrincipal, context: Context, db: DbSession) -> EstimateOut:
    """Price, exact size and (when the backend can plan) the plan or refusal for an edit not yet sent."""
    main_size = (body.width, body.height) if body.width and body.height else None
    result = edits.estimate(context, quality=body.quality, resolution=body.resolution,
                            aspect_ratio=body.aspect_ratio, image_count=body.image_count, main_size=main_size,
                            prompt=body.prompt)
    balance = ledger.balance(db, principal.user_id).available if principal else None
    refusal = None
    if result.refusal is not None:
        refusal = Refusal(clause=result.refusal.clause, message=result.refusal.message,
                          code=result.refusal.code, field=result.refusal.field)
    return EstimateOut(credits=result.credits, width=result.width, height=result.height, balance=balance,
                       affordable=None if balance is None else balance >= result.credits,
                       plan=result.plan.steps if result.plan else None, refusal=refusal,
                       native_width=result.made.width, native_height=result.made.height,
                       size_notes=list(result.made.notes))


@router.post("/edits", status_code=202, openapi_extra=EDIT_REQUEST, responses=EDIT_RESPONSES)
@streams_upload
async def create_edit(request: Request, response: Response, upload: ImageUpload, context: Context) -> EditOut:
    """Submit an edit (multipart). Validated, priced and reserved before this answers; runs in the queue.
    A replay of an Idempotency-Key answers the first edit with header `Idempotent-Replayed: true`."""
    form, principal = upload.form, upload.principal
    submission = edits.Submission(
        prompt=form.get("prompt"), images=form.files, quality=form.get("quality"),
        resolution=form.get("resolution"), aspect_ratio=form.get("aspect_ratio"),
        output_format=form.get("output_format"), parent_id=form.get("parent_id") or None,
        idempotency_key=request.headers.get("idempotency-key") or None,
        source="web" if principal.via == "session" else "api")
    edit, replayed = await run_in_threadpool(edits.submit, context, principal.user_id, submission)
    response.headers["Location"] = f"/api/v1/edits/{edit.id}"
    if replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return EditOut.of(edit)


@router.get("/edits")
def list_edits(principal: CurrentPrincipal, db: DbSession, limit: Limit = 20,
               cursor: str | None = None) -> Page[EditOut]:
    rows, next_cursor = edits.list_edits(db, principal.user_id, limit=limit, cursor=cursor)
    return Page[EditOut](items=[EditOut.of(edit) for edit in rows], next_cursor=next_cursor)


@router.get("/edits/{edit_id}")
def get_edit(edit_id: str, principal: CurrentPrincipal, db: DbSession) -> EditOut:
    return EditOut.of(edits.get_edit(db, principal.user_id, edit_id))


def _result_key(edit: Edit) -> str:
    if edit.status != "succeeded" or edit.result_key is None:
        raise NotFound("This edit has no result (yet).", code="no_result")
    return edit.result_key


def _input(edit: Edit, position: int) -> EditInput:
    item = next((entry for entry in edit.inputs if entry.position == position), None)
    if item is None:
        raise NotFound("This edit has no such input.")
    return item


@router.get("/edits/{edit_id}/result", response_class=StreamingResponse, responses=IMAGE_FILE)
def get_result(edit_id: str, principal: CurrentPrincipal, db: DbSession, context: Context,
               inline: bool = False) -> StreamingResponse:
    """The result image at its exact size, as a download (or `?inline=1` to show it)."""
    edit = edits.get_edit(db, principal.user_id, edit_id)
    extension = {"jpeg": "jpg"}.get(edit.output_format, edit.output_format)
    return stored_files.stream(context.storage, _result_key(edit), content_type=f"image/{edit.output_format}",
                               size=edit.result_bytes,
                               filename=f"edit-{edit.id[:12]}-{edit.width}x{edit.height}.{extension}",
                               disposition="inline" if inline else "attachment")


@router.get("/edits/{edit_id}/inputs/{position}", response_class=StreamingResponse, responses=IMAGE_FILE)
def get_input(edit_id: str, position: int, principal: CurrentPrincipal, db: DbSession,
              context: Context) -> StreamingResponse:
    """The n-th stored input (0-based), as validated: oriented and without metadata."""
    edit = edits.get_edit(db, principal.user_id, edit_id)
    item = _input(edit, position)
    extension = item.storage_key.rsplit(".", 1)[-1]
    return stored_files.stream(context.storage, item.storage_key, content_type=item.content_type, size=item.bytes,
                               filename=f"edit-{edit.id[:12]}-input-{position}.{extension}", disposition="inline")


@router.get("/edits/{edit_id}/result/preview", response_class=Response, responses=WEBP_FILE)
def get_result_preview(edit_id: str, principal: CurrentPrincipal, db: DbSession, context: Context) -> Response:
    """A small WebP of the result (at most 640 px), for lists."""
    return stored_files.preview(context.storage, _result_key(edits.get_edit(db, principal.user_id, edit_id)))


@router.get("/edits/{edit_id}/inputs/{position}/preview", response_class=Response, responses=WEBP_FILE)
def get_input_preview(edit_id: str, position: int, principal: CurrentPrincipal, db: DbSession,
                      context: Context) -> Response:
    """A small WebP of the n-th input (at most 640 px)."""
    edit = edits.get_edit(db, principal.user_id, edit_id)
    return stored_files.preview(context.storage, _input(edit, position).storage_key)


@router.delete("/edits/{edit_id}", status_code=204)
def delete_edit(edit_id: str, principal: CurrentPrincipal, db: DbSession, context: Context) -> Response:
    edits.delete_edit(context, db, principal.user_id, edit_id)
    return Response(status_code=204)
