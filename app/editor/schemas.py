"""The editor API's request and answer shapes (shared/API.md); the handlers return these models."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from app.api.fields import Timestamp
from app.models import Edit


class EstimateRequest(BaseModel):
    quality: str = "medium"
    resolution: str = "1K"
    aspect_ratio: str = "auto"
    image_count: int = Field(default=1, ge=0, le=9)
    width: int | None = Field(default=None, ge=1, le=100_000, description="width of the first image")
    height: int | None = Field(default=None, ge=1, le=100_000, description="height of the first image")
    prompt: str | None = Field(default=None, max_length=100_000)


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
    native_width: int | None = Field(description="the width the backend made the picture at before it was fitted "
                                                 "to `width` (a model cannot make every size); null until it succeeds")
    native_height: int | None = Field(description="the height the backend made the picture at")
    credits: int = Field(description="reserved now, charged on success, returned on failure")
    image_count: int
    parent_id: str | None
    error: EditFailure | None
    result_url: str | None = Field(description="/api/v1/edits/{id}/result once succeeded")
    created_at: Timestamp
    started_at: Timestamp | None
    finished_at: Timestamp | None
    backend: str
    model: str | None
    plan: list[str] | None = Field(description="the steps the backend planned or ran, in words")
    usage: dict[str, Any] | None = Field(description=(
        "what the engine reported about the run, if anything: a provider's token counts; from the local "
        "engine, optional `frame` {x, y, width, height}: the part of the first input the result shows, in "
        "fractions of that input's width and height (below 0 or beyond 1 where the canvas was extended; absent "
        "when the picture was turned or mirrored)"))
    inputs: list[EditInputOut]

    @classmethod
    def of(cls, edit: Edit) -> EditOut:
        base = f"/api/v1/edits/{edit.id}"
        failed = edit.status == "failed"
        return cls(
            id=edit.id, status=edit.status, prompt=edit.prompt, quality=edit.quality,  # type: ignore[arg-type]
            resolution=edit.resolution, aspect_ratio=edit.aspect_ratio,  # type: ignore[arg-type]
            output_format=edit.output_format, width=edit.width, height=edit.height,  # type: ignore[arg-type]
            native_width=edit.native_width, native_height=edit.native_height,
            credits=edit.credits, image_count=edit.image_count, parent_id=edit.parent_id,
            error=EditFailure(code=edit.error_code or "edit_failed", message=edit.error_message or "")
            if failed else None,
            result_url=f"{base}/result" if edit.status == "succeeded" else None,
            created_at=edit.created_at, started_at=edit.started_at, finished_at=edit.finished_at,
            backend=edit.backend, model=edit.model, plan=edit.plan, usage=edit.usage,
            inputs=[EditInputOut(url=f"{base}/inputs/{item.position}", width=item.width, height=item.height,
                                 content_type=item.content_type) for item in edit.inputs])


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
    native_width: int = Field(description="the width the backend makes the picture at; it is fitted to `width`")
    native_height: int = Field(description="the height the backend makes the picture at")
    size_notes: list[str] = Field(description="what to know about the size before paying (enlarged, experimental)")
