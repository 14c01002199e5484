"""Tier + aspect -> exact size (API.md's table and rules)."""

from __future__ import annotations

import pytest

from app.editor import sizes

pytestmark = pytest.mark.nodb

EXPECTED = {
    "1:1": {"1K": (1024, 1024), "2K": (2048, 2048), "4K": (3840, 3840)},
    "3:2": {"1K": (1024, 688), "2K": (2048, 1360), "4K": (3840, 2560)},
    "2:3": {"1K": (688, 1024), "2K": (1360, 2048), "4K": (2560, 3840)},
    "4:3": {"1K": (1024, 768), "2K": (2048, 1536), "4K": (3840, 2880)},
    "3:4": {"1K": (768, 1024), "2K": (1536, 2048), "4K": (2880, 3840)},
    "16:9": {"1K": (1024, 576), "2K": (2048, 1152), "4K": (3840, 2160)},
    "9:16": {"1K": (576, 1024), "2K": (1152, 2048), "4K": (2160, 3840)},
    "21:9": {"1K": (1024, 432), "2K": (2048, 880), "4K": (3840, 1648)},
    "9:21": {"1K": (432, 1024), "2K": (880, 2048), "4K": (1648, 3840)},
}


@pytest.mark.parametrize("aspect", list(EXPECTED))
@pytest.mark.parametrize("resolution", ["1K", "2K", "4K"])
def test_every_tier_and_aspect(aspect: str, resolution: str) -> None:
    width, height = sizes.target_size(resolution, aspect)
    assert (width, height) == EXPECTED[aspect][resolution]
    assert width % 16 == 0 and height % 16 == 0
    assert max(width, height) == sizes.LONG_EDGE[resolution]


def test_api_examples() -> None:
    assert sizes.target_size("4K", "16:9") == (3840, 2160)
    assert sizes.target_size("2K", "1:1") == (2048, 2048)
    assert sizes.target_size("1K", "3:2") == (1024, 688)


def test_auto_follows_the_first_image_and_clamps_to_three_to_one() -> None:
    assert sizes.target_size("1K", "auto", (600, 400)) == (1024, 688)
    assert sizes.target_size("2K", "auto", (512, 600)) == (1744, 2048)
    assert sizes.target_size("1K", "auto", (5000, 500)) == (1024, 336)  # 10:1 clamped to 3:1
    assert sizes.target_size("1K", "auto", (500, 5000)) == (336, 1024)
    assert sizes.target_size("1K", "auto", None) == (1024, 1024)


def test_auto_takes_the_instruction_frame_first() -> None:
    assert sizes.target_size("1K", "auto", (600, 400), plan_aspect=(9, 16)) == (576, 1024)


@pytest.mark.parametrize("text, message", [
    ("1000x1000", "multiples of 16"),
    ("4096x2048", "at most 3840"),
    ("3200x1024", "at most 3:1"),
    ("big", "WIDTHxHEIGHT"),
    ("0x16", "at least 16"),
])
def test_explicit_size_rules(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        sizes.parse_size(text)


def test_explicit_size_tiers() -> None:
    assert sizes.parse_size("1536x1024") == (1536, 1024)
    assert sizes.tier_for_size(1024, 1024) == "1K"
    assert sizes.tier_for_size(1040, 512) == "2K"
    assert sizes.tier_for_size(2048, 2048) == "2K"
    assert sizes.tier_for_size(2064, 1024) == "4K"
