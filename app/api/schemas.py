"""Request bodies and the JSON shape of our objects (shared/API.md)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from app.billing import ledger
from app.models import Edit, Transfer


def iso(moment: datetime | None) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment else None


class Credentials(BaseModel):
    email: str = Field(max_length=320)
    password: str = Field(max_length=1024)


class ApiKeyCreate(BaseModel):
    name: str | None = Field(default=None, max_length=100)


class EstimateRequest(BaseModel):
    quality: str = "medium"
    resolution: str = "1K"
    aspect_ratio: str = "auto"
    image_count: int = Field(default=1, ge=0, le=9)
    width: int | None = Field(default=None, ge=1, le=100_000, description="width of the first image")
    height: int | None = Field(default=None, ge=1, le=100_000, description="height of the first image")
    prompt: str | None = Field(default=None, max_length=100_000)


def edit_json(edit: Edit) -> dict[str, Any]:
    base = f"/api/v1/edits/{edit.id}"
    return {
        "id": edit.id,
        "status": edit.status,
        "prompt": edit.prompt,
        "quality": edit.quality,
        "resolution": edit.resolution,
        "aspect_ratio": edit.aspect_ratio,
        "output_format": edit.output_format,
        "width": edit.width,
        "height": edit.height,
        "credits": edit.credits,
        "image_count": edit.image_count,
        "parent_id": edit.parent_id,
        "error": {"code": edit.error_code, "message": edit.error_message} if edit.status == "failed" else None,
        "result_url": f"{base}/result" if edit.status == "succeeded" else None,
        "created_at": iso(edit.created_at),
        "started_at": iso(edit.started_at),
        "finished_at": iso(edit.finished_at),
        "backend": edit.backend,
        "model": edit.model,
        "plan": edit.plan,
        "usage": edit.usage,
        "inputs": [{"url": f"{base}/inputs/{item.position}", "width": item.width, "height": item.height,
                    "content_type": item.content_type} for item in edit.inputs],
    }


def transfer_json(record: Transfer) -> dict[str, Any]:
    return {
        "id": record.id,
        "kind": record.kind,
        "amount": ledger.signed_amount(record),
        "credits": record.amount,
        "balance_after": record.balance_after,
        "reason": record.reason,
        "edit_id": record.edit_id,
        "created_at": iso(record.created_at),
    }
