"""Prices: the default table, extra reference credits and an operator's PRICING_FILE."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from app.billing.pricing import DEFAULT_PRICING, Pricing, load_pricing

pytestmark = pytest.mark.nodb


def test_default_table_of_api_md() -> None:
    expected = {"low": (1, 2, 4), "medium": (2, 4, 8), "high": (4, 8, 16)}
    for quality, prices in expected.items():
        assert tuple(DEFAULT_PRICING.credits_for(quality, res) for res in ("1K", "2K", "4K")) == prices
    assert DEFAULT_PRICING.credits_for("high", "4K", image_count=9) == 16  # extra defaults to 0
    assert [(p.credits, p.amount) for p in DEFAULT_PRICING.packs] == [(100, 500), (250, 1000), (700, 2500)]


def test_pricing_file(tmp_path) -> None:
    path = tmp_path / "pricing.toml"
    path.write_text("""
extra_reference_credits = 1
[table]
low = { 1K = 3, 2K = 5, 4K = 9 }
medium = { 1K = 4, 2K = 6, 4K = 10 }
high = { 1K = 5, 2K = 7, 4K = 11 }
[[packs]]
id = "big"
credits = 1000
amount = 3000
currency = "eur"
""")
    pricing = load_pricing(path)
    assert pricing.credits_for("medium", "2K", image_count=3) == 8
    assert pricing.pack("big").currency == "eur"
    assert load_pricing(None) is DEFAULT_PRICING


def test_incomplete_pricing_is_refused() -> None:
    with pytest.raises(ValidationError, match="positive price"):
        Pricing.model_validate({"table": {"low": {"1K": 1}}, "packs": []})
