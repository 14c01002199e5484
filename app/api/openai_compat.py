"""`POST /v1/images/edits` in the shape of OpenAI's Images API, so the official `openai` SDKs work unchanged
(`OpenAI(base_url="http://host:port/v1", api_key=KEY)`).

The edit goes through the same service as every other front door (validation, price, reservation, queue);
this module translates OpenAI's parameters in, waits for the edit, and answers OpenAI's ImagesResponse or
OpenAI's error envelope with OpenAI's status codes.

Charged once: the SDK retries 408/409/429/5xx and timeouts twice, with no idempotency key. So an error that a
retry cannot mend, or that a retry would pay for again, carries `x-should-retry: false`; and a retry (the
SDK marks it `x-stainless-retry-count: 1`, 2, …; other clients send no count) of an identical request by the
same person within COMPAT_REPLAY_SECONDS is recognised as the first request and answered with its edit. A
request the SDK marks as a first attempt (count 0) is a new logical request even if it repeats an earlier
one: asking twice on purpose makes two edits.
"""

from __future__ import annotations

import asyncio
import base64
import time
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from app import limits
from app.api.docs import COMPAT_REQUEST, COMPAT_RESPONSES
from app.api.multipart import ParsedForm
from app.api.openai_schemas import ImageDatum, ImagesResponse, ImageUsage
from app.api.uploads import Upload, streams_upload, upload_form
from app.context import AppContext
from app.deps import Context, bearer_token
from app.editor import service as edits
from app.editor import sizes
from app.error_handlers import register_error_renderer
from app.errors import AppError
from app.models import Edit

router = APIRouter(tags=["openai-compatible"], dependencies=[limits.ApiKeyLimited])

QUALITIES = {"low": "low", "medium": "medium", "high": "high", "auto": "medium"}
BACKGROUNDS = ("auto", "opaque", "transparent")
# Parameters of OpenAI's edit endpoint we accept without acting on them (nothing in our pipeline depends on
# them), with the values that keep their meaning true.
ACCEPTED_AS_IS = {"response_format": ("b64_json",), "stream": ("false",), "partial_images": ("0",),
                  "input_fidelity": ("low", "high"), "moderation": ("auto", "low"), "safety_identifier": None}
KNOWN_FIELDS = frozenset({"prompt", "model", "quality", "size", "output_format", "output_compression", "n",
                          "background", "user", *ACCEPTED_AS_IS})
# Failures of an edit that are ours or the provider's, not the request's: OpenAI answers these with 5xx.
SERVER_SIDE_FAILURES = {"backend_unavailable": 503, "backend_timeout": 503, "rate_limited": 503,
                        "internal_error": 500, "backend_misconfigured": 500, "backend_quota": 503,
                        "bad_output": 500, "input_missing": 500}
# What an engine that meters no tokens (the offline one) used, in the shape SDK users read.
ZERO_USAGE = {"input_tokens": 0, "input_tokens_details": {"text_tokens": 0, "image_tokens": 0},
              "output_tokens": 0, "output_tokens_details": {"text_tokens": 0, "image_tokens": 0},
              "total_tokens": 0}


class OpenAIError(AppError):
    """An error this front door words itself: OpenAI's `type`, and whether a retry may help."""

    def __init__(self, message: str, *, status: int, type: str, code: str | None, param: str | None = None,
                 should_retry: bool | None = None) -> None:
        super().__init__(message, field=param, code=code or "error", status=status)
        self.openai_type = type
        self.openai_code = code
        self.should_retry = should_retry


def require_bearer(request: Request) -> None:
    """A session cookie is not enough at this door (it has no CSRF token): say so in OpenAI's words."""
    if bearer_token(request) is None:
        raise OpenAIError("You didn't provide an API key. Send it as 'Authorization: Bearer <key>'; create "
                          "one on your account page or with 'python -m app apikeys create'.", status=401,
                          type="invalid_request_error", code=None)


ImageUpload = Annotated[Upload, Depends(upload_form(frozenset({"image", "image[]"}), api_key_only=True))]


@router.post("/v1/images/edits", openapi_extra=COMPAT_REQUEST, responses=COMPAT_RESPONSES,
             summary="Edit images (OpenAI-compatible)", dependencies=[Depends(require_bearer)])
@streams_upload
async def create_image_edit(request: Request, response: Response, upload: ImageUpload,
                            context: Context) -> ImagesResponse:
    """OpenAI's `images.edit`: multipart `image` or `image[]` (1–9), `prompt`, `model`, `quality`, `size`,
    `output_format`, `output_compression`, `n` (1), `background`, `user`. Waits for the edit (at most
    COMPAT_WAIT_SECONDS) and answers `{created, data: [{b64_json}], output_format, quality, size, usage}`."""
    user_id = upload.principal.user_id
    submission = _submission(request, context, upload.form)
    edit, replayed = await run_in_threadpool(edits.submit, context, user_id, submission)
    if replayed and edit.status == "failed" and submission.idempotency_key is None:
        # A failed edit cost nothing, so sending the request again is a fresh try, not a double charge.
        submission.replay_window = None
        edit, replayed = await run_in_threadpool(edits.submit, context, user_id, submission)
    edit = await _wait_for(request, context, user_id, edit)
    if edit.status == "failed":
        raise _failure(edit)
    assert edit.result_key is not None
    data = await run_in_threadpool(context.storage.get, edit.result_key)
    response.headers["X-Edit-Id"] = edit.id
    if replayed:
        response.headers["Idempotent-Replayed"] = "true"
    usage = edit.usage if isinstance(edit.usage, dict) and "input_tokens" in edit.usage else ZERO_USAGE
    return ImagesResponse(
        created=int(edit.created_at.timestamp()), data=[ImageDatum(b64_json=base64.b64encode(data).decode())],
        output_format=edit.output_format, quality=edit.quality, size=f"{edit.width}x{edit.height}",  # type: ignore[arg-type]
        usage=ImageUsage.model_validate(usage))


def _submission(request: Request, context: AppContext, form: ParsedForm) -> edits.Submission:
    """OpenAI's parameters as a Submission; anything OpenAI's endpoint would refuse is refused here."""
    for name in form.fields:
        if name not in KNOWN_FIELDS:
            raise _invalid(f"Unknown parameter: '{name}'.", name, code="unknown_parameter")
    for name, allowed in ACCEPTED_AS_IS.items():
        value = form.get(name)
        if value is not None and allowed is not None and value.lower() not in allowed:
            raise _invalid(f"Invalid value for '{name}': {value[:40]!r}; this endpoint supports "
                           f"{', '.join(allowed)}.", name)
    n = form.get("n")
    if n is not None and n.strip() != "1":
        raise _invalid(f"Invalid value for 'n': {n[:20]!r}; this endpoint makes one image per request (n=1).",
                       "n")
    quality = (form.get("quality") or "auto").lower()
    if quality not in QUALITIES:
        raise _invalid(f"Invalid value for 'quality': {quality[:40]!r}; supported values are low, medium, "
                       "high and auto.", "quality")
    size = _size(form.get("size"))
    output_format = (form.get("output_format") or "png").lower()
    compression = _compression(form.get("output_compression"))
    background = (form.get("background") or "auto").lower()
    if background not in BACKGROUNDS:
        raise _invalid(f"Invalid value for 'background': {background[:40]!r}; supported values are auto, "
                       "opaque and transparent.", "background")
    if background == "transparent":
        if not context.backend.capabilities.transparent_output:
            raise _invalid("Transparent backgrounds are not supported by this server's edit engine; use "
                           "background=auto or opaque.", "background", code="unsupported_value")
        if output_format not in ("png", "webp"):
            raise _invalid("A transparent background needs output_format png or webp.", "background")
    retry_count = request.headers.get("x-stainless-retry-count")
    replay = None if retry_count == "0" else timedelta(seconds=context.settings.compat_replay_seconds)
    model = form.get("model")
    return edits.Submission(
        prompt=form.get("prompt"), images=form.files, quality=QUALITIES[quality], output_format=output_format,
        idempotency_key=request.headers.get("idempotency-key") or None, source="openai", size=size,
        output_compression=compression, background=background, model=model[:100] if model else None,
        replay_window=replay, image_field="image",
        extra_hash_fields={"model": model, "user": form.get("user") or form.get("safety_identifier")})


def _size(value: str | None) -> tuple[int, int] | None:
    if value is None or value.strip().lower() == "auto":
        return None
    try:
        return sizes.parse_size(value.lower())
    except ValueError as exc:
        raise _invalid(f"Invalid value for 'size': {value[:40]!r}: {exc}.", "size") from exc


def _compression(value: str | None) -> int | None:
    if value is None or value == "":
        return None
    if not value.strip().isdigit() or int(value) > 100:
        raise _invalid(f"Invalid value for 'output_compression': {value[:20]!r}; use an integer from 0 to "
                       "100.", "output_compression")
    return int(value)


def _invalid(message: str, param: str, *, code: str = "invalid_value") -> OpenAIError:
    return OpenAIError(message, status=400, type="invalid_request_error", code=code, param=param)


async def _wait_for(request: Request, context: AppContext, user_id: str, edit: Edit) -> Edit:
    """The edit once it has finished, polling the database (workers may run in other processes)."""
    deadline = time.monotonic() + context.settings.compat_wait_seconds
    pause = 0.05
    while edit.status not in ("succeeded", "failed"):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            # Retrying is safe and useful here: the retry is recognised as this request and waits again.
            waited = context.settings.compat_wait_seconds
            raise OpenAIError(
                f"The edit {edit.id} is still {edit.status} after {waited:g} s. Send the same request again "
                f"to keep waiting (it is not charged twice), or poll GET /api/v1/edits/{edit.id}.",
                status=504, type="server_error", code="edit_timeout")
        if await request.is_disconnected():
            # Nobody is waiting; the edit carries on and a retry of this request will find it.
            raise OpenAIError("The client went away.", status=499, type="server_error", code="client_closed")
        await asyncio.sleep(min(pause, remaining))
        pause = min(pause * 1.5, 1.0)
        edit = await run_in_threadpool(_reload, context, user_id, edit.id)
    return edit


def _reload(context: AppContext, user_id: str, edit_id: str) -> Edit:
    with context.read_transaction() as db:
        return edits.get_edit(db, user_id, edit_id)


def _failure(edit: Edit) -> OpenAIError:
    """A failed edit in OpenAI's words. Its credits were returned; a retry would only meet the same edit
    again (it is recognised as the same request), so none is invited."""
    code = edit.error_code or "edit_failed"
    message = edit.error_message or "The edit failed; your credits were returned."
    if code == "moderation_blocked":
        return OpenAIError(message, status=400, type="image_generation_user_error", code=code, param=None,
                           should_retry=False)
    if code in SERVER_SIDE_FAILURES:
        return OpenAIError(message, status=SERVER_SIDE_FAILURES[code], type="server_error", code=code,
                           should_retry=False)
    return OpenAIError(message, status=400, type="invalid_request_error", code=code, param="prompt",
                       should_retry=False)


# --- errors in OpenAI's envelope ------------------------------------------------------------------------


def render_openai_error(request: Request, exc: AppError) -> JSONResponse:
    """Any error under /v1/ as OpenAI's `{"error": {message, type, param, code}}` with OpenAI's status."""
    if isinstance(exc, OpenAIError):
        status, kind, code, should_retry = exc.status, exc.openai_type, exc.openai_code, exc.should_retry
    else:
        status, kind, code, should_retry = _openai_status(exc)
    headers = {}
    if should_retry is not None:
        headers["x-should-retry"] = "true" if should_retry else "false"
    body = {"error": {"message": exc.message, "type": kind, "param": exc.field, "code": code}}
    return JSONResponse(body, status_code=status, headers=headers)


def _openai_status(exc: AppError) -> tuple[int, str, str | None, bool | None]:
    """(status, type, code, should_retry) for one of our errors, as OpenAI would answer it."""
    if exc.status == 401:
        return 401, "invalid_request_error", exc.code if exc.code == "invalid_api_key" else None, None
    if exc.status == 402:
        # OpenAI's answer to "no money left" is 429 insufficient_quota. The SDK retries 429, and a retry
        # cannot succeed until someone tops up: say so.
        code = "insufficient_quota" if exc.code == "insufficient_credits" else exc.code
        return 429, "insufficient_quota", code, False
    if exc.status == 409:
        return 409, "invalid_request_error", exc.code, False  # the SDK retries 409 unless told not to
    if exc.status in (400, 413, 415, 422):
        return 400, "invalid_request_error", exc.code, None
    if exc.status >= 500:
        return exc.status, "server_error", exc.code, None
    return exc.status, "invalid_request_error", exc.code, None


register_error_renderer("/v1/", render_openai_error)
