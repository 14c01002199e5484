"""What each OpenAI image model accepts, and the output size to ask it for. Pure; no I/O.

OpenAI answers 400 to a parameter a model does not take (gpt-image-2 has no `input_fidelity`, and its
transparent background is a preview, offered only with OPENAI_PREVIEW_BACKGROUNDS), so the backend sends only
what this table allows, and the editor hides what the configured model cannot do
(`Capabilities.transparent_output`). tests/backends/test_openai_spec.py checks the table against the facts
kept about OpenAI's published spec.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace


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
    """The request parameters one model accepts (OpenAI's OpenAPI document, `CreateImageEditRequest`; the
    tests keep those facts as data and check this table against them)."""

    name: str
    sizes: FlexibleSizes | tuple[tuple[int, int], ...]
    """Rules for any size, or the fixed list of sizes the model offers."""
    backgrounds: frozenset[str] = frozenset({"auto", "opaque"})
    preview_backgrounds: frozenset[str] = frozenset()
    """Backgrounds the spec calls a preview for this model: offered only with OPENAI_PREVIEW_BACKGROUNDS."""
    input_fidelity: str | None = None
    """The value to send for `input_fidelity`, or None where the model refuses the parameter."""
    output_compression: bool = True
    max_images: int = 16
    gpt_image: bool = True
    """A GPT image model. dall-e-2 (in the spec's enum) takes one square PNG and none of the parameters
    this service relies on; the backend refuses to start with it."""
    experimental_above: tuple[int, int] | None = None
    """Sizes with more pixels than this one are "experimental" for the model (results may vary)."""

    def allowed_backgrounds(self, preview: bool = False) -> frozenset[str]:
        """The backgrounds to offer: the generally available ones, plus the preview ones when allowed."""
        return self.backgrounds | self.preview_backgrounds if preview else self.backgrounds

    @property
    def transparent_background(self) -> bool:
        return "transparent" in self.backgrounds

    def is_experimental(self, width: int, height: int) -> bool:
        """Whether OpenAI calls this size experimental for the model (gpt-image-2 above 2560x1440)."""
        limit = self.experimental_above
        return limit is not None and width * height > limit[0] * limit[1]


FIXED_SIZES = ((1024, 1024), (1536, 1024), (1024, 1536))
ALL_BACKGROUNDS = frozenset({"auto", "opaque", "transparent"})
TRANSPARENT = frozenset({"transparent"})
_GPT_IMAGE_2 = ModelSpec("gpt-image-2", FlexibleSizes(), preview_backgrounds=TRANSPARENT,
                         experimental_above=(2560, 1440))

# Every model of `CreateImageEditRequest.model` (openai/openai-openapi, 2026-08-21). `input_fidelity`:
# "supported for gpt-image-1 and gpt-image-1.5 and later models, unsupported for gpt-image-1-mini";
# gpt-image-2 works at high fidelity always and refuses the parameter (image-generation guide).
MODELS: dict[str, ModelSpec] = {
    "gpt-image-2": _GPT_IMAGE_2,
    "gpt-image-2-2026-04-21": replace(_GPT_IMAGE_2, name="gpt-image-2-2026-04-21"),
    "gpt-image-1.5": ModelSpec("gpt-image-1.5", FIXED_SIZES, ALL_BACKGROUNDS, input_fidelity="high"),
    "gpt-image-1": ModelSpec("gpt-image-1", FIXED_SIZES, ALL_BACKGROUNDS, input_fidelity="high"),
    # `low` is the default anyway; the spec marks the parameter unsupported for mini.
    "gpt-image-1-mini": ModelSpec("gpt-image-1-mini", FIXED_SIZES, ALL_BACKGROUNDS),
    # "follows the same input constraints as GPT image models"; not listed with transparent backgrounds.
    "chatgpt-image-latest": ModelSpec("chatgpt-image-latest", FIXED_SIZES),
    "dall-e-2": ModelSpec("dall-e-2", ((256, 256), (512, 512), (1024, 1024)), frozenset(),
                          output_compression=False, max_images=1, gpt_image=False),
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
