"""What /docs shows for the routes FastAPI cannot describe by itself.

The upload endpoints read their multipart body as a stream (hard limits while it arrives), so FastAPI sees a
bare Request and infers no body; their handlers return JSONResponse, so it infers no answer either. The
request bodies here are written out by hand and the answers are pydantic models that mirror
`app.api.schemas.edit_json` and OpenAI's ImagesResponse; tests/api/test_openapi.py checks they stay true.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from app.billing.pricing import QUALITIES, RESOLUTIONS
from app.editor.sizes import ASPECT_RATIOS
from app.editor.validation import MAX_IMAGES, MAX_PROMPT_CHARS, OUTPUT_FORMATS

# --- the JSON API's shapes ------------------------------------------------------------------------------


class ErrorDetail(BaseModel):
    code: str = Field(description="stable, for programs: e.g. insufficient_credits, invalid_option")
    message: str = Field(description="for people: what went wrong and what would work")
    field: str | None = Field(description="the request field at fault, when there is one")


class ErrorEnvelope(BaseModel):
    """Every error of the JSON API."""

    error: ErrorDetail


class EditFailure(BaseModel):
    code: str
    message: str


class EditInputOut(BaseModel):
    url: str = Field(description="GET it for the stored input (oriented, metadata removed)")
    width: int
    height: int
    content_type: str


class EditOut(BaseModel):
    """The edit object."""

    id: str
    status: Literal["queued", "running", "succeeded", "failed"]
    prompt: str
    quality: Literal["low", "medium", "high"]
    resolution: Literal["1K", "2K", "4K"]
    aspect_ratio: str
    output_format: Literal["png", "jpeg", "webp"]
    width: int = Field(description="exact width of the result in pixels")
    height: int = Field(description="exact height of the result in pixels")
    credits: int = Field(description="reserved now, charged on success, returned on failure")
    image_count: int
    parent_id: str | None
    error: EditFailure | None
    result_url: str | None = Field(description="/api/v1/edits/{id}/result once succeeded")
    created_at: str
    started_at: str | None
    finished_at: str | None
    backend: str
    model: str | None
    plan: list[str] | None = Field(description="the steps the backend planned or ran, in words")
    usage: dict[str, Any] | None = Field(description="token counts the provider reported, if any")
    inputs: list[EditInputOut]


class SignedUp(BaseModel):
    id: str
    email: str
    balance: int


class Me(SignedUp):
    reserved: int = Field(description="credits held for edits that have not finished")
    outstanding: int = Field(description="credits owed after a refund or dispute")
    on_hold: bool


class ApiKeyCreated(BaseModel):
    id: str
    name: str
    key: str = Field(description="the key itself: shown in this answer only")
    last4: str
    created_at: str


class ApiKeyOut(BaseModel):
    id: str
    name: str
    last4: str
    created_at: str
    last_used_at: str | None


class ApiKeyList(BaseModel):
    items: list[ApiKeyOut]


class PackOut(BaseModel):
    id: str
    credits: int
    amount: int = Field(description="price in the currency's minor unit (cents)")
    currency: str


class BackendOut(BaseModel):
    name: str
    plans: bool = Field(description="it can plan (and refuse) an instruction before anything is charged")
    transparent_output: bool


class PricingOut(BaseModel):
    table: dict[str, dict[str, int]] = Field(description="credits by quality, then resolution")
    extra_reference_credits: int
    packs: list[PackOut]
    resolutions: list[str]
    long_edges: dict[str, int]
    qualities: list[str]
    aspect_ratios: list[str]
    output_formats: list[str]
    max_images: int
    max_prompt_chars: int
    max_upload_bytes: int
    max_image_pixels: int
    backend: BackendOut


class Refusal(BaseModel):
    clause: str | None = Field(description="the part of the instruction that cannot be done")
    message: str
    code: str
    field: str | None


class EstimateOut(BaseModel):
    credits: int
    width: int
    height: int
    balance: int | None = Field(description="your available credits; null when not signed in")
    affordable: bool | None
    plan: list[str] | None
    refusal: Refusal | None


class TransferOut(BaseModel):
    id: str
    kind: str = Field(description="grant, reserve, post, void, purchase, refund, …")
    amount: int = Field(description="signed change of the available balance")
    credits: int
    balance_after: int
    reason: str
    edit_id: str | None
    created_at: str


class Page(BaseModel):
    next_cursor: str | None = Field(description="pass as ?cursor= for the next page; null on the last")


class EditPage(Page):
    items: list[EditOut]


class LedgerPage(Page):
    items: list[TransferOut]


def answer(model: type[BaseModel], status: int = 200) -> dict[int | str, dict[str, Any]]:
    """`responses=` for a route whose handler returns a plain dict: what that dict holds."""
    return {status: {"model": model}}


_IMAGE = {"schema": {"type": "string", "format": "binary"}}
IMAGE_FILE: dict[int | str, dict[str, Any]] = {200: {
    "description": "The image bytes, with its Content-Type",
    "content": {"image/png": _IMAGE, "image/jpeg": _IMAGE, "image/webp": _IMAGE}}}
WEBP_FILE: dict[int | str, dict[str, Any]] = {
    200: {"description": "A small WebP", "content": {"image/webp": _IMAGE}}}
API_ERRORS: dict[int | str, dict[str, Any]] = {
    "4XX": {"model": ErrorEnvelope, "description": "Refused; `error.field` names the field at fault"},
    "5XX": {"model": ErrorEnvelope, "description": "Our failure, or a service we need is unavailable"},
}


def _errors(envelope: type[BaseModel], statuses: dict[int, str]) -> dict[int | str, dict[str, Any]]:
    return {status: {"model": envelope, "description": text} for status, text in statuses.items()}


EDIT_RESPONSES: dict[int | str, dict[str, Any]] = {
    202: {"model": EditOut, "description": "Accepted: validated, priced and reserved; it runs in the queue. "
                                           "A replay of an Idempotency-Key answers the first edit with "
                                           "header `Idempotent-Replayed: true`."},
    **_errors(ErrorEnvelope, {
        400: "Bad input (the field is named)",
        401: "No session and no valid API key",
        402: "insufficient_credits, or account_on_hold",
        403: "Cookie-authenticated request without the CSRF token",
        404: "parent_id names no edit of yours",
        409: "Idempotency-Key reused with another body",
        413: "An image or the upload is too large",
        415: "An image is not PNG, JPEG or WebP",
        422: "Bad option, prompt, image count, or a refused instruction (the field is named)",
    }),
}

_BINARY = {"type": "string", "format": "binary"}


def multipart_body(properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    """An `openapi_extra` that documents a multipart/form-data request body."""
    return {"requestBody": {"required": True, "content": {"multipart/form-data": {
        "schema": {"type": "object", "properties": properties, "required": required},
        "encoding": {name: {"contentType": "image/png, image/jpeg, image/webp"}
                     for name, spec in properties.items() if spec.get("items") == _BINARY or spec == _BINARY},
    }}}}


EDIT_REQUEST = multipart_body({
    "image": {"type": "array", "items": _BINARY, "minItems": 1, "maxItems": MAX_IMAGES,
              "description": f"1–{MAX_IMAGES} reference images (PNG, JPEG, WebP); repeat the field. The "
                             "first is the image being edited."},
    "prompt": {"type": "string", "minLength": 1, "maxLength": MAX_PROMPT_CHARS,
               "description": "what to change and what to keep"},
    "quality": {"type": "string", "enum": list(QUALITIES), "default": "medium"},
    "resolution": {"type": "string", "enum": list(RESOLUTIONS), "default": "1K",
                   "description": "long edge: 1K = 1024, 2K = 2048, 4K = 3840 pixels"},
    "aspect_ratio": {"type": "string", "enum": list(ASPECT_RATIOS), "default": "auto",
                     "description": "auto: the first image's ratio, clamped to 3:1"},
    "output_format": {"type": "string", "enum": list(OUTPUT_FORMATS), "default": "png"},
    "parent_id": {"type": "string",
                  "description": "continue from this edit: its result becomes the first image"},
}, ["image", "prompt"]) | {"parameters": [{
    "name": "Idempotency-Key", "in": "header", "required": False,
    "schema": {"type": "string", "maxLength": 255},
    "description": "Same key and body: the first edit again, charged once. Same key, other body: 409.",
}]}


# --- the OpenAI-compatible endpoint's shapes ------------------------------------------------------------


class OpenAIErrorDetail(BaseModel):
    message: str
    type: str = Field(description="invalid_request_error, insufficient_quota, image_generation_user_error, "
                                  "server_error")
    param: str | None
    code: str | None = Field(description="e.g. invalid_api_key, insufficient_quota, moderation_blocked")


class OpenAIErrorEnvelope(BaseModel):
    """OpenAI's error envelope."""

    error: OpenAIErrorDetail


class ImageDatum(BaseModel):
    b64_json: str = Field(description="the edited image, base64-encoded")


class TokenDetails(BaseModel):
    text_tokens: int
    image_tokens: int


class ImageUsage(BaseModel):
    input_tokens: int
    input_tokens_details: TokenDetails
    output_tokens: int
    output_tokens_details: TokenDetails | None = None
    total_tokens: int


class ImagesResponse(BaseModel):
    """OpenAI's ImagesResponse."""

    created: int = Field(description="Unix time the edit was created")
    data: list[ImageDatum] = Field(min_length=1, max_length=1)
    output_format: Literal["png", "jpeg", "webp"]
    quality: Literal["low", "medium", "high"]
    size: str = Field(description="WIDTHxHEIGHT of the image", examples=["1536x1024"])
    usage: ImageUsage = Field(description="the provider's token counts; zeros when the engine uses no tokens")


COMPAT_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"model": ImagesResponse, "description": "The edited image (the request waited for it)"},
    **_errors(OpenAIErrorEnvelope, {
        400: "invalid_request_error naming `param`; image_generation_user_error for moderation_blocked",
        401: "invalid_api_key",
        404: "An unknown /v1 path",
        409: "Idempotency-Key reused with another body (x-should-retry: false)",
        429: "insufficient_quota: not enough credits (x-should-retry: false)",
        500: "server_error",
        503: "server_error: the edit engine was unavailable; credits returned (x-should-retry: false)",
        504: "The edit is still running; send the same request again to keep waiting (charged once)",
    }),
}

COMPAT_REQUEST = multipart_body({
    "image": {**_BINARY, "description": "one image (or use image[])"},
    "image[]": {"type": "array", "items": _BINARY, "minItems": 1, "maxItems": MAX_IMAGES,
                "description": f"1–{MAX_IMAGES} images, repeated; the first is the one being edited"},
    "prompt": {"type": "string", "minLength": 1, "maxLength": MAX_PROMPT_CHARS},
    "model": {"type": "string", "description": "any name; recorded with the edit", "example": "gpt-image-2"},
    "quality": {"type": "string", "enum": ["low", "medium", "high", "auto"], "default": "auto",
                "description": "auto = medium"},
    "size": {"type": "string", "default": "auto", "example": "1536x1024",
             "description": "auto (1K at the first image's ratio) or WIDTHxHEIGHT: edges multiples of 16, "
                            "long edge ≤ 3840, ratio ≤ 3:1. Priced by the long edge: ≤ 1024 → 1K, ≤ 2048 → "
                            "2K, else 4K"},
    "output_format": {"type": "string", "enum": list(OUTPUT_FORMATS), "default": "png"},
    "output_compression": {"type": "integer", "minimum": 0, "maximum": 100,
                           "description": "JPEG/WebP quality, 0–100"},
    "n": {"type": "integer", "enum": [1], "default": 1},
    "background": {"type": "string", "enum": ["auto", "opaque", "transparent"], "default": "auto",
                   "description": "transparent only where the edit engine supports it, with png or webp"},
    "user": {"type": "string", "description": "your end user's id; part of what makes two requests the same"},
}, ["prompt"])
