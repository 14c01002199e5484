"""What an edit cost at the provider: its token usage priced by the provider's price table. Pure; no I/O but
loading the operator's PROVIDER_PRICES_FILE once.

PROVIDER_PRICES_FILE is TOML, prices in USD per million tokens, one table per model (a dated snapshot such
as `gpt-image-2-2026-04-21` uses its family's prices when it has none of its own):

    [models."gpt-image-2"]
    text_input = 5.00     # the instruction's text tokens
    image_input = 8.00    # the reference images' tokens
    image_output = 30.00  # the made image's tokens

The built-in table (DEFAULT_PROVIDER_PRICES) holds OpenAI's public prices as read on 2026-11-30
(openai.com/api/pricing); check them against your own bill before setting credit prices on them.
"""

from __future__ import annotations

import tomllib
from decimal import Decimal
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

MILLION = Decimal(1_000_000)


class ModelPrices(BaseModel):
    """USD per million tokens."""

    text_input: Decimal = Field(ge=0)
    image_input: Decimal = Field(ge=0)
    image_output: Decimal = Field(ge=0)


class ProviderPrices(BaseModel):
    models: dict[str, ModelPrices]

    def for_model(self, model: str | None) -> ModelPrices | None:
        """The prices of a model, of its family for a dated snapshot, or None when the table has neither."""
        if not model:
            return None
        if model in self.models:
            return self.models[model]
        family = max((name for name in self.models if model.startswith(name + "-")), key=len, default=None)
        return self.models[family] if family else None

    def cost_of(self, model: str | None, usage: dict[str, Any] | None) -> Decimal | None:
        """What an edit made by `model` with this `usage` cost at the provider (`provider_cost`), or None
        when either is unknown."""
        return provider_cost(usage, self.for_model(model))


DEFAULT_PROVIDER_PRICES = ProviderPrices(models={
    "gpt-image-2": ModelPrices(text_input=Decimal("5.00"), image_input=Decimal("8.00"),
                               image_output=Decimal("30.00")),
    "gpt-image-1.5": ModelPrices(text_input=Decimal("5.00"), image_input=Decimal("8.00"),
                                 image_output=Decimal("32.00")),
    "chatgpt-image-latest": ModelPrices(text_input=Decimal("5.00"), image_input=Decimal("8.00"),
                                        image_output=Decimal("32.00")),
    "gpt-image-1": ModelPrices(text_input=Decimal("5.00"), image_input=Decimal("10.00"),
                               image_output=Decimal("40.00")),
    "gpt-image-1-mini": ModelPrices(text_input=Decimal("2.00"), image_input=Decimal("2.50"),
                                    image_output=Decimal("8.00")),
})


def load_provider_prices(path: Path | None) -> ProviderPrices:
    """The built-in table, or the operator's TOML file (`[models."name"]` with the three prices). A broken
    file stops the start-up (app.context.build_context loads it) with the reason."""
    if path is None:
        return DEFAULT_PROVIDER_PRICES
    with path.open("rb") as handle:
        return ProviderPrices.model_validate(tomllib.load(handle))


def _count(value: Any) -> int:
    return value if isinstance(value, int) and value > 0 else 0


def provider_cost(usage: dict[str, Any] | None, prices: ModelPrices | None) -> Decimal | None:
    """The USD an edit cost at the provider, from the usage it reported (`input_tokens_details.text_tokens`,
    `.image_tokens`, `output_tokens`), or None when there is no usage or no price to go by. Input tokens
    without a breakdown are priced as image tokens, the dearer kind: the cost is never understated."""
    if not usage or prices is None:
        return None
    details = usage.get("input_tokens_details")
    if isinstance(details, dict):
        text, image = _count(details.get("text_tokens")), _count(details.get("image_tokens"))
    else:
        text, image = 0, _count(usage.get("input_tokens"))
    output = _count(usage.get("output_tokens"))
    return (text * prices.text_input + image * prices.image_input + output * prices.image_output) / MILLION
