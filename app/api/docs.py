"""What /docs shows that FastAPI cannot infer: the error envelopes, the image answers, and the multipart
bodies of the upload doors (they stream their body with hard limits, so FastAPI sees no parameters).
Answers are typed by each route's own return model; nothing here repeats them."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from app.billing.pricing import QUALITIES, RESOLUTIONS
from app.editor.sizes import ASPECT_RATIOS
from app.editor.validation import MAX_IMAGES, MAX_PROMPT_CHARS, OUTPUT_FORMATS

# --- the JSON API's error envelope -----------------------------------------------------------------------


class ErrorDetail(BaseModel):
    code: str = Field(description="stable, for programs: e.g. insufficient_credits, invalid_option")
    message: str = Field(description="for people: what went wrong and what would work")
    field: str | None = Field(description="the request field at fault, when there is one")


class ErrorEnvelope(BaseModel):
    """Every error of the JSON API."""

    error: ErrorDetail


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


COMPAT_RESPONSES: dict[int | str, dict[str, Any]] = {
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
