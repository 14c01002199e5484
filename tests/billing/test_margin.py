"""The provider cost of an edit and the margin report, checked against figures computed by hand for edits
run on the OpenAI backend (the fake reports a known usage: one text token per word of the instruction, 323
tokens per reference image, width x height / 1024 output tokens)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from pydantic import ValidationError

from app.billing.margin import credit_value, format_report, margin_report
from app.billing.pricing import DEFAULT_PRICING
from app.billing.provider_costs import DEFAULT_PROVIDER_PRICES, ModelPrices, load_provider_prices, provider_cost
from app.models.base import utcnow
from tests.conftest import api_key_for, create_user, image_bytes, wait_for_edit
from tests.fake_openai import (  # noqa: F401  (fixtures)
    fake_openai_fixture,
    fake_openai_server_fixture,
    moderation_blocked,
    openai_settings,
)

PRICES = """
[models."gpt-image-2"]
text_input = 5
image_input = 10
image_output = 40
"""


@pytest.mark.nodb
def test_usage_to_cost():
    prices = ModelPrices(text_input=Decimal(5), image_input=Decimal(10), image_output=Decimal(40))
    usage = {"input_tokens": 327, "input_tokens_details": {"text_tokens": 4, "image_tokens": 323},
             "output_tokens": 1024, "total_tokens": 1351}
    # 4 x $5 + 323 x $10 + 1024 x $40, per million tokens.
    assert provider_cost(usage, prices) == Decimal("0.04421")
    # Without a breakdown the input is priced as image tokens (never understated).
    assert provider_cost({"input_tokens": 327, "output_tokens": 1024}, prices) == Decimal("0.04423")
    assert provider_cost(None, prices) is None and provider_cost(usage, None) is None
    assert DEFAULT_PROVIDER_PRICES.for_model("gpt-image-2-2026-04-21") == DEFAULT_PROVIDER_PRICES.models["gpt-image-2"]
    assert DEFAULT_PROVIDER_PRICES.for_model("someone-elses-model") is None


@pytest.mark.nodb
def test_prices_file(tmp_path):
    path = tmp_path / "prices.toml"
    path.write_text(PRICES)
    prices = load_provider_prices(path)
    assert prices.for_model("gpt-image-2") == ModelPrices(text_input=Decimal(5), image_input=Decimal(10),
                                                          image_output=Decimal(40))
    assert load_provider_prices(None) is DEFAULT_PROVIDER_PRICES


@pytest.mark.nodb
def test_a_broken_prices_file_is_refused_with_the_reason(tmp_path):
    path = tmp_path / "prices.toml"
    path.write_text('[models."gpt-image-2"]\ntext_input = 5\nimage_input = -1\n')
    with pytest.raises(ValidationError) as refused:  # the start-up (app.context.build_context) stops here
        load_provider_prices(path)
    assert "image_input" in str(refused.value) and "image_output" in str(refused.value)


@pytest.fixture
def settings_overrides(fake_openai):
    return openai_settings(fake_openai)


def run_edit(client, headers, prompt: str, quality: str, resolution: str) -> dict:
    response = client.post("/api/v1/edits", headers=headers,
                           data={"prompt": prompt, "quality": quality, "resolution": resolution,
                                 "aspect_ratio": "1:1"},
                           files=[("image", ("coffee.png", image_bytes("coffee.png"), "image/png"))])
    assert response.status_code == 202, response.text
    return wait_for_edit(client, response.json()["id"], headers=headers)


def test_margin_report_matches_hand_computed_figures(client, context, fake_openai, tmp_path):
    user = create_user(context, credits=40)
    headers = {"Authorization": f"Bearer {api_key_for(context, user.id)}"}
    assert run_edit(client, headers, "Make the cup blue", "medium", "1K")["status"] == "succeeded"
    assert run_edit(client, headers, "Make the cup red please", "medium", "1K")["status"] == "succeeded"
    assert run_edit(client, headers, "Make the cup green", "high", "2K")["status"] == "succeeded"
    fake_openai.then(moderation_blocked())  # a failed edit costs the customer nothing and is not counted
    assert run_edit(client, headers, "Make the cup grey", "high", "4K")["status"] == "failed"
    path = tmp_path / "prices.toml"
    path.write_text(PRICES)

    with context.read_transaction() as db:
        rows = margin_report(db, DEFAULT_PRICING, load_provider_prices(path), days=2, now=utcnow())

    # A credit is worth $25 / 700 (pack_700, the cheapest per credit).
    value = Decimal(25) / 700
    assert credit_value(DEFAULT_PRICING) == value
    medium, high = rows
    assert (medium.quality, medium.resolution, medium.edits, medium.credits) == ("medium", "1K", 2, 4)
    # 1024x1024 with one reference: (4 or 5 words x $5 + 323 x $10 + 1024 x $40) / 1e6 each.
    assert medium.provider_cost == Decimal("0.04421") + Decimal("0.044215")
    assert medium.revenue.quantize(Decimal("0.01")) == Decimal("0.14")
    assert medium.margin.quantize(Decimal("0.0001")) == Decimal("0.0544")
    assert (high.quality, high.resolution, high.edits, high.credits) == ("high", "2K", 1, 8)
    # 2048x2048: (4 x $5 + 323 x $10 + 4096 x $40) / 1e6.
    assert high.provider_cost == Decimal("0.16709")
    assert high.margin.quantize(Decimal("0.0001")) == Decimal("0.1186")
    assert medium.unpriced == high.unpriced == 0

    text = format_report(rows, value)
    assert "A credit is worth $0.0357" in text
    total = text.splitlines()[-1].split()
    # total: 3 edits, 12 credits, $0.43 brought, $0.26 provider cost (0.255515), $0.17 margin.
    assert total == ["total", "3", "12", "0.43", "0.26", "0.17", "0"]
