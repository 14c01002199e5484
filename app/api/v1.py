"""The JSON API under /api/v1 (shared/API.md). Handlers parse, call one service, shape the answer."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse
from starlette.concurrency import run_in_threadpool

from app.accounts import cookies
from app.accounts import service as accounts
from app.api.multipart import Limits, parse_multipart
from app.api.openapi import (
    API_ERRORS,
    EDIT_REQUEST,
    EDIT_RESPONSES,
    IMAGE_FILE,
    WEBP_FILE,
    ApiKeyCreated,
    ApiKeyList,
    EditOut,
    EditPage,
    EstimateOut,
    LedgerPage,
    Me,
    PricingOut,
    SignedUp,
    answer,
)
from app.api.schemas import ApiKeyCreate, Credentials, EstimateRequest, edit_json, iso, transfer_json
from app.billing import ledger
from app.billing.pricing import QUALITIES, RESOLUTIONS
from app.deps import Context, CurrentPrincipal, DbSession, OptionalPrincipal, identify
from app.editor import previews, sizes
from app.editor import service as edits
from app.editor.validation import MAX_IMAGES, MAX_PROMPT_CHARS, OUTPUT_FORMATS
from app.errors import Forbidden, NotAuthenticated, NotFound, ValidationFailed
from app.models import Edit, EditInput
from app.storage import StoredObjectMissing

router = APIRouter(prefix="/api/v1", tags=["api"], responses=API_ERRORS)

Limit = Annotated[int, Query(ge=1, le=100)]


def _me(db: DbSession, user_id: str, email: str) -> dict[str, Any]:
    balance = ledger.balance(db, user_id)
    return {"id": user_id, "email": email, "balance": balance.available, "reserved": balance.reserved,
            "outstanding": balance.outstanding, "on_hold": balance.on_hold}


# --- accounts -------------------------------------------------------------------------------------------


@router.post("/auth/signup", status_code=201, responses=answer(SignedUp, 201))
def signup(body: Credentials, request: Request, response: Response, db: DbSession, context: Context) -> dict[str, Any]:
    """Create an account (with the sign-up credits) and sign in."""
    user = accounts.create_user(db, email=body.email, password=body.password,
                                signup_credits=context.settings.signup_credits)
    token = accounts.start_session(db, user, days=context.settings.session_days)
    cookies.set_session_cookie(response, request, token, secret_key=context.settings.resolved_secret_key,
                               days=context.settings.session_days)
    return {"id": user.id, "email": user.email, "balance": ledger.balance(db, user.id).available}


@router.post("/auth/login", responses=answer(Me))
def login(body: Credentials, request: Request, response: Response, db: DbSession, context: Context) -> dict[str, Any]:
    user = accounts.authenticate(db, email=body.email, password=body.password)
    token = accounts.start_session(db, user, days=context.settings.session_days)
    cookies.set_session_cookie(response, request, token, secret_key=context.settings.resolved_secret_key,
                               days=context.settings.session_days)
    return _me(db, user.id, user.email)


@router.post("/auth/logout", status_code=204)
def logout(request: Request, db: DbSession, context: Context) -> Response:
    token = cookies.read_session_token(request, context.settings.resolved_secret_key)
    if token is not None:
        if not cookies.csrf_matches(request, request.headers.get(cookies.CSRF_HEADER)):
            raise Forbidden("Missing or wrong CSRF token.", code="csrf_failed")
        accounts.end_session(db, token)
    response = Response(status_code=204)
    cookies.clear_session_cookie(response)
    return response


@router.get("/me", responses=answer(Me))
def me(principal: CurrentPrincipal, db: DbSession) -> dict[str, Any]:
    return _me(db, principal.user_id, principal.email)


@router.post("/api-keys", status_code=201, responses=answer(ApiKeyCreated, 201))
def create_api_key(body: ApiKeyCreate, principal: CurrentPrincipal, db: DbSession) -> dict[str, Any]:
    """A new API key; the key is in this answer only."""
    row, key = accounts.create_api_key(db, principal.user_id, body.name)
    return {"id": row.id, "name": row.name, "key": key, "last4": row.last4, "created_at": iso(row.created_at)}


@router.get("/api-keys", responses=answer(ApiKeyList))
def list_api_keys(principal: CurrentPrincipal, db: DbSession) -> dict[str, Any]:
    return {"items": [{"id": row.id, "name": row.name, "last4": row.last4, "created_at": iso(row.created_at),
                       "last_used_at": iso(row.last_used_at)} for row in accounts.list_api_keys(db, principal.user_id)]}


@router.delete("/api-keys/{key_id}", status_code=204)
def revoke_api_key(key_id: str, principal: CurrentPrincipal, db: DbSession) -> Response:
    accounts.revoke_api_key(db, principal.user_id, key_id)
    return Response(status_code=204)


# --- prices ---------------------------------------------------------------------------------------------


@router.get("/pricing", responses=answer(PricingOut))
def pricing(context: Context) -> dict[str, Any]:
    table = context.pricing
    return {
        "table": table.table,
        "extra_reference_credits": table.extra_reference_credits,
        "packs": [pack.model_dump() for pack in table.packs],
        "resolutions": list(RESOLUTIONS),
        "long_edges": sizes.LONG_EDGE,
        "qualities": list(QUALITIES),
        "aspect_ratios": list(sizes.ASPECT_RATIOS),
        "output_formats": list(OUTPUT_FORMATS),
        "max_images": MAX_IMAGES,
        "max_prompt_chars": MAX_PROMPT_CHARS,
        "max_upload_bytes": context.settings.max_upload_bytes,
        "max_image_pixels": context.settings.max_image_pixels,
        "backend": {"name": context.backend.name,
                    "plans": context.backend.capabilities.plans,
                    "transparent_output": context.backend.capabilities.transparent_output},
    }


@router.post("/estimate", responses=answer(EstimateOut))
def estimate(body: EstimateRequest, request: Request, principal: OptionalPrincipal, context: Context,
             db: DbSession) -> dict[str, Any]:
    """Price, exact size and (when the backend can plan) the plan or refusal for an edit not yet sent."""
    if principal is not None and principal.via == "session" and not cookies.csrf_matches(
            request, request.headers.get(cookies.CSRF_HEADER)):
        raise Forbidden("Missing or wrong CSRF token.", code="csrf_failed")
    main_size = (body.width, body.height) if body.width and body.height else None
    result = edits.estimate(context, quality=body.quality, resolution=body.resolution,
                            aspect_ratio=body.aspect_ratio, image_count=body.image_count, main_size=main_size,
                            prompt=body.prompt)
    balance = ledger.balance(db, principal.user_id).available if principal else None
    refusal = None
    if result.refusal is not None:
        refusal = {"clause": result.refusal.clause, "message": result.refusal.message,
                   "code": result.refusal.code, "field": result.refusal.field}
    return {
        "credits": result.credits, "width": result.width, "height": result.height,
        "balance": balance, "affordable": None if balance is None else balance >= result.credits,
        "plan": result.plan.steps if result.plan else None, "refusal": refusal,
    }


# --- edits ----------------------------------------------------------------------------------------------


@router.post("/edits", status_code=202, openapi_extra=EDIT_REQUEST, responses=EDIT_RESPONSES)
async def create_edit(request: Request, context: Context) -> JSONResponse:
    """Submit an edit (multipart). Validated, priced and reserved before this answers; runs in the queue."""
    principal = await run_in_threadpool(identify, request, context)
    if principal is None:
        raise NotAuthenticated("Sign in or send an API key (Authorization: Bearer …).")
    limits = Limits(file_fields=frozenset({"image", "image[]"}), max_files=MAX_IMAGES,
                    max_file_bytes=context.settings.max_upload_bytes)
    form = await parse_multipart(request, limits)
    try:
        if principal.via == "session" and not cookies.csrf_matches(
                request, request.headers.get(cookies.CSRF_HEADER) or form.get(cookies.CSRF_FIELD)):
            raise Forbidden("Missing or wrong CSRF token; reload the page and try again.", code="csrf_failed")
        submission = edits.Submission(
            prompt=form.get("prompt"), images=form.files, quality=form.get("quality"),
            resolution=form.get("resolution"), aspect_ratio=form.get("aspect_ratio"),
            output_format=form.get("output_format"), parent_id=form.get("parent_id") or None,
            idempotency_key=request.headers.get("idempotency-key") or None,
            source="web" if principal.via == "session" else "api")
        edit, replayed = await run_in_threadpool(edits.submit, context, principal.user_id, submission)
    finally:
        form.close()
    headers = {"Location": f"/api/v1/edits/{edit.id}"}
    if replayed:
        headers["Idempotent-Replayed"] = "true"
    return JSONResponse(edit_json(edit), status_code=202, headers=headers)


@router.get("/edits", responses=answer(EditPage))
def list_edits(principal: CurrentPrincipal, db: DbSession, limit: Limit = 20,
               cursor: str | None = None) -> dict[str, Any]:
    rows, next_cursor = edits.list_edits(db, principal.user_id, limit=limit, cursor=cursor)
    return {"items": [edit_json(edit) for edit in rows], "next_cursor": next_cursor}


@router.get("/edits/{edit_id}", responses=answer(EditOut))
def get_edit(edit_id: str, principal: CurrentPrincipal, db: DbSession) -> dict[str, Any]:
    return edit_json(edits.get_edit(db, principal.user_id, edit_id))


def _stream(context: Context, key: str, content_type: str, size: int | None, filename: str,
            disposition: str) -> StreamingResponse:
    try:
        chunks = context.storage.iter_chunks(key)
        first = next(chunks, b"")
    except StoredObjectMissing as exc:
        raise NotFound("The file of this edit is gone.") from exc

    def body() -> Iterator[bytes]:
        yield first
        yield from chunks

    headers = {"Content-Disposition": f'{disposition}; filename="{filename}"',
               "Cache-Control": "private, max-age=31536000, immutable", "X-Content-Type-Options": "nosniff"}
    if size is not None:
        headers["Content-Length"] = str(size)
    return StreamingResponse(body(), media_type=content_type, headers=headers)


@router.get("/edits/{edit_id}/result", response_class=StreamingResponse, responses=IMAGE_FILE)
def get_result(edit_id: str, principal: CurrentPrincipal, db: DbSession, context: Context,
               inline: bool = False) -> StreamingResponse:
    """The result image at its exact size, as a download (or `?inline=1` to show it)."""
    edit = edits.get_edit(db, principal.user_id, edit_id)
    if edit.status != "succeeded" or edit.result_key is None:
        raise NotFound("This edit has no result (yet).", code="no_result")
    extension = {"jpeg": "jpg"}.get(edit.output_format, edit.output_format)
    return _stream(context, edit.result_key, f"image/{edit.output_format}", edit.result_bytes,
                   f"edit-{edit.id[:12]}-{edit.width}x{edit.height}.{extension}",
                   "inline" if inline else "attachment")


@router.get("/edits/{edit_id}/inputs/{position}", response_class=StreamingResponse, responses=IMAGE_FILE)
def get_input(edit_id: str, position: int, principal: CurrentPrincipal, db: DbSession,
              context: Context) -> StreamingResponse:
    """The n-th stored input (0-based), as validated: oriented and without metadata."""
    edit = edits.get_edit(db, principal.user_id, edit_id)
    item = _input(edit, position)
    extension = item.storage_key.rsplit(".", 1)[-1]
    return _stream(context, item.storage_key, item.content_type, item.bytes,
                   f"edit-{edit.id[:12]}-input-{position}.{extension}", "inline")


def _input(edit: Edit, position: int) -> EditInput:
    item = next((entry for entry in edit.inputs if entry.position == position), None)
    if item is None:
        raise NotFound("This edit has no such input.")
    return item


def _preview_response(context: Context, key: str) -> Response:
    try:
        data = previews.preview(context.storage, key)
    except StoredObjectMissing as exc:
        raise NotFound("The file of this edit is gone.") from exc
    return Response(data, media_type="image/webp",
                    headers={"Cache-Control": "private, max-age=31536000, immutable"})


@router.get("/edits/{edit_id}/result/preview", response_class=Response, responses=WEBP_FILE)
def get_result_preview(edit_id: str, principal: CurrentPrincipal, db: DbSession, context: Context) -> Response:
    """A small WebP of the result (at most 640 px), for lists."""
    edit = edits.get_edit(db, principal.user_id, edit_id)
    if edit.status != "succeeded" or edit.result_key is None:
        raise NotFound("This edit has no result (yet).", code="no_result")
    return _preview_response(context, edit.result_key)


@router.get("/edits/{edit_id}/inputs/{position}/preview", response_class=Response, responses=WEBP_FILE)
def get_input_preview(edit_id: str, position: int, principal: CurrentPrincipal, db: DbSession,
                      context: Context) -> Response:
    """A small WebP of the n-th input (at most 640 px)."""
    edit = edits.get_edit(db, principal.user_id, edit_id)
    item = _input(edit, position)
    return _preview_response(context, item.storage_key)


@router.delete("/edits/{edit_id}", status_code=204)
def delete_edit(edit_id: str, principal: CurrentPrincipal, db: DbSession, context: Context) -> Response:
    edits.delete_edit(context, db, principal.user_id, edit_id)
    return Response(status_code=204)


# --- ledger ---------------------------------------------------------------------------------------------


@router.get("/ledger", responses=answer(LedgerPage))
def get_ledger(principal: CurrentPrincipal, db: DbSession, limit: Limit = 50,
               cursor: str | None = None) -> dict[str, Any]:
    """A person's credit movements, newest first."""
    before = None
    if cursor:
        if not cursor.isdigit():
            raise ValidationFailed("That cursor is not valid; start again without it.", field="cursor")
        before = int(cursor)
    rows = ledger.history(db, principal.user_id, limit=limit + 1, before_seq=before)
    next_cursor = str(rows[limit - 1].seq) if len(rows) > limit else None
    return {"items": [transfer_json(row) for row in rows[:limit]], "next_cursor": next_cursor}
