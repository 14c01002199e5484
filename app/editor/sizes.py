"""Resolution tier + aspect ratio -> the exact output size. Pure; shared by the page, the API and the runner.

The long edge is 1024, 2048 or 3840 pixels; the short edge follows the ratio, rounded to the nearest
multiple of 16. `auto` takes the first image's ratio, clamped to 3:1.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction

from app.backends.base import EditBackend, MadeSize

LONG_EDGE = {"1K": 1024, "2K": 2048, "4K": 3840}
ASPECT_RATIOS = ("auto", "1:1", "3:2", "2:3", "4:3", "3:4", "16:9", "9:16", "21:9", "9:21")
MAX_RATIO = 3.0
MAX_EDGE = 3840
_SIZE = re.compile(r"^(\d{1,5})x(\d{1,5})$")


def parse_ratio(aspect_ratio: str) -> tuple[int, int]:
    """'16:9' -> (16, 9)."""
    width, _, height = aspect_ratio.partition(":")
    return int(width), int(height)


def _round16(value: float) -> int:
    return max(16, round(value / 16) * 16)


def size_for_ratio(resolution: str, ratio_w: float, ratio_h: float) -> tuple[int, int]:
    """The exact (width, height) of a tier for any ratio, clamped to 3:1."""
    long_edge = LONG_EDGE[resolution]
    ratio = min(max(ratio_w / ratio_h, 1 / MAX_RATIO), MAX_RATIO)
    if ratio >= 1:
        return long_edge, _round16(long_edge / ratio)
    return _round16(long_edge * ratio), long_edge


def target_size(resolution: str, aspect_ratio: str, main_size: tuple[int, int] | None = None,
                plan_aspect: tuple[int, int] | None = None) -> tuple[int, int]:
    """The promised output size. With `auto`, the instruction's own framing (`plan_aspect`) wins over the
    first image's ratio; without either, auto means square."""
    if aspect_ratio != "auto":
        return size_for_ratio(resolution, *parse_ratio(aspect_ratio))
    if plan_aspect is not None:
        return size_for_ratio(resolution, *plan_aspect)
    if main_size is not None:
        return size_for_ratio(resolution, *main_size)
    return size_for_ratio(resolution, 1, 1)


@dataclass(frozen=True)
class NotedSize:
    """A resolution and aspect ratio whose picture a backend makes at another size, or says something about."""

    resolution: str
    aspect_ratio: str
    width: int
    height: int
    made: MadeSize


def noted_sizes(backend: EditBackend) -> list[NotedSize]:
    """The settings (resolution, fixed aspect ratio) for which `backend` makes another size than promised
    or has something to say before the charge, in the editor's order; [] for a backend that makes any size."""
    found = []
    for resolution in LONG_EDGE:
        for aspect_ratio in ASPECT_RATIOS[1:]:
            width, height = size_for_ratio(resolution, *parse_ratio(aspect_ratio))
            made = backend.made_size(width, height)
            if made.notes or (made.width, made.height) != (width, height):
                found.append(NotedSize(resolution, aspect_ratio, width, height, made))
    return found


def same_ratio(a: tuple[int, int], b: tuple[int, int]) -> bool:
    """Whether two ratios are the same, e.g. (16, 9) and (1920, 1080)."""
    return Fraction(a[0], a[1]) == Fraction(b[0], b[1])


def parse_size(size: str) -> tuple[int, int]:
    """'1536x1024' -> (1536, 1024), checked against the rules of sizes an edit may ask for.

    Raises ValueError with a message that says which rule was broken.
    """
    match = _SIZE.match(size.strip())
    if not match:
        raise ValueError("size must be 'auto' or WIDTHxHEIGHT, e.g. 1536x1024")
    width, height = int(match.group(1)), int(match.group(2))
    if width % 16 or height % 16:
        raise ValueError(f"both edges must be multiples of 16 (got {width}x{height})")
    if min(width, height) < 16:
        raise ValueError("both edges must be at least 16 pixels")
    if max(width, height) > MAX_EDGE:
        raise ValueError(f"the long edge must be at most {MAX_EDGE} pixels (got {max(width, height)})")
    if max(width, height) / min(width, height) > MAX_RATIO:
        raise ValueError(f"the ratio of the edges must be at most 3:1 (got {width}x{height})")
    return width, height


def tier_for_size(width: int, height: int) -> str:
    """The price tier of an explicit size: by its long edge, <= 1024 -> 1K, <= 2048 -> 2K, else 4K."""
    long_edge = max(width, height)
    if long_edge <= LONG_EDGE["1K"]:
        return "1K"
    if long_edge <= LONG_EDGE["2K"]:
        return "2K"
    return "4K"
