"""What each OpenAI image model accepts, and the output size to ask it for. Pure; no I/O.

OpenAI answers 400 to a parameter a model does not take (gpt-image-2 has no `input_fidelity` and no
transparent background), so the backend sends only what this table allows, and the editor hides what the
configured model cannot do (`Capabilities.transparent_output`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class FlexibleSizes:
    """Any WxH within these rules (gpt-image-2)."""

    multiple: int = 16
    max_edge: int = 3840
    max_ratio: float = 3.0
    min_pixels: int = 655_360
    max_pixels: int = 8_294_400

    def accepts(self, width: int, height: int) -> bool:
        """Whether OpenAI takes `WIDTHxHEIGHT` for this model."""
        return (width % self.multiple == 0 and height % self.multiple == 0 and width > 0 and height > 0
                and max(width, height) <= self.max_edge
                and max(width, height) / min(width, height) <= self.max_ratio
                and self.min_pixels <= width * height <= self.max_pixels)


@dataclass(frozen=True)
class ModelSpec:
    """The request parameters one model accepts."""

    name: str
    sizes: FlexibleSizes | tuple[tuple[int, int], ...]
    """Rules for any size, or the fixed list of sizes the model offers."""
    backgrounds: frozenset[str] = frozenset({"auto", "opaque"})
    input_fidelity: str | None = None
    """The value to send for `input_fidelity`, or None where the model refuses the parameter."""
    output_compression: bool = True
    max_images: int = 16

    @property
    def transparent_background(self) -> bool:
        return "transparent" in self.backgrounds


FIXED_SIZES = ((1024, 1024), (1536, 1024), (1024, 1536))
ALL_BACKGROUNDS = frozenset({"auto", "opaque", "transparent"})

MODELS: dict[str, ModelSpec] = {
    "gpt-image-2": ModelSpec("gpt-image-2", FlexibleSizes()),
    "gpt-image-1.5": ModelSpec("gpt-image-1.5", FIXED_SIZES, ALL_BACKGROUNDS, input_fidelity="high"),
    "gpt-image-1-mini": ModelSpec("gpt-image-1-mini", FIXED_SIZES, ALL_BACKGROUNDS, input_fidelity="low"),
}
# An unknown name (a newer model, or another provider's behind an OpenAI-compatible URL) gets the
# parameters every GPT image model takes and the three sizes they all offer: nothing it could refuse.
CONSERVATIVE = ModelSpec("unknown", FIXED_SIZES, frozenset({"auto"}), output_compression=False)


def spec_for(model: str) -> ModelSpec:
    """The table entry for a model name; dated snapshots (`gpt-image-2-2026-04-21`) share their family's."""
    if model in MODELS:
        return MODELS[model]
    family = max((name for name in MODELS if model.startswith(name + "-")), key=len, default=None)
    return MODELS[family] if family else CONSERVATIVE


def request_size(spec: ModelSpec, width: int, height: int) -> tuple[int, int]:
    """The size to ask the model for when the customer was promised width x height: that size when the model
    accepts it, otherwise the nearest size it accepts with (as near as possible) the same aspect. The runner
    cover-fits the answer to the promised size, so a small aspect difference costs a thin crop, never a
    stretch."""
    if not isinstance(spec.sizes, FlexibleSizes):
        target = math.log(width / height)
        return min(spec.sizes, key=lambda size: abs(math.log(size[0] / size[1]) - target))
    rules = spec.sizes
    if rules.accepts(width, height):
        return width, height
    ratio = min(max(width / height, 1 / rules.max_ratio), rules.max_ratio)
    pixels = min(max(width * height, rules.min_pixels), rules.max_pixels)
    ideal_height = math.sqrt(pixels / ratio)
    step = rules.multiple
    # Candidates: heights a few steps either side of the ideal, each with the widths on both sides of the
    # ratio; the best keeps the aspect closest, then the pixel count closest to what was asked.
    base = round(ideal_height / step)
    candidates = []
    for k in range(base - 4, base + 5):
        h = k * step
        if h <= 0:
            continue
        for w in (math.floor(h * ratio / step) * step, math.ceil(h * ratio / step) * step):
            if rules.accepts(w, h):
                candidates.append((w, h))
    if not candidates:  # cannot happen with OpenAI's rules; kept so a table typo fails loudly
        raise ValueError(f"no size within the model's rules near {width}x{height}")
    return min(candidates, key=lambda size: (round(abs(math.log(size[0] / size[1] / ratio)), 3),
                                             abs(math.log(size[0] * size[1] / pixels))))
