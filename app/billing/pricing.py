"""Prices: (quality, resolution, image count) -> credits, and the credit packs. Pure; no I/O but loading
the operator's PRICING_FILE once at start-up."""

from __future__ import annotations

import tomllib
from pathlib import Path

from pydantic import BaseModel, Field, model_validator

QUALITIES = ("low", "medium", "high")
RESOLUTIONS = ("1K", "2K", "4K")


class Pack(BaseModel):
    id: str = Field(pattern=r"^[a-z0-9_-]{1,40}$")
    credits: int = Field(gt=0)
    amount: int = Field(gt=0, description="price in the currency's minor unit (cents)")
    currency: str = "usd"


class Pricing(BaseModel):
    table: dict[str, dict[str, int]]
    extra_reference_credits: int = Field(default=0, ge=0)
    packs: list[Pack]

    @model_validator(mode="after")
    def _complete(self) -> Pricing:
        for quality in QUALITIES:
            row = self.table.get(quality)
            if row is None or any(row.get(res, 0) <= 0 for res in RESOLUTIONS):
                raise ValueError(f"pricing table needs a positive price for every resolution of {quality!r}")
        if len({pack.id for pack in self.packs}) != len(self.packs):
            raise ValueError("pack ids must be unique")
        return self

    def credits_for(self, quality: str, resolution: str, image_count: int = 1) -> int:
        """What an edit costs: the table's price plus the extra for each reference after the first."""
        return self.table[quality][resolution] + self.extra_reference_credits * max(0, image_count - 1)

    def pack(self, pack_id: str) -> Pack | None:
        return next((pack for pack in self.packs if pack.id == pack_id), None)


DEFAULT_PRICING = Pricing(
    table={
        "low": {"1K": 1, "2K": 2, "4K": 4},
        "medium": {"1K": 2, "2K": 4, "4K": 8},
        "high": {"1K": 4, "2K": 8, "4K": 16},
    },
    extra_reference_credits=0,
    packs=[
        Pack(id="pack_100", credits=100, amount=500),
        Pack(id="pack_250", credits=250, amount=1000),
        Pack(id="pack_700", credits=700, amount=2500),
    ],
)


def load_pricing(path: Path | None) -> Pricing:
    """The built-in table, or the operator's TOML file (same shape: `table`, `extra_reference_credits`,
    `[[packs]]`). A broken file stops the start-up with the reason."""
    if path is None:
        return DEFAULT_PRICING
    with path.open("rb") as handle:
        return Pricing.model_validate(tomllib.load(handle))
