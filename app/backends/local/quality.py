"""What the quality setting changes in the offline engine.

- low: masks at 512 px (long edge); a product's outline is unmixed at that size, feathered and, scaled
  up, steepened back to a soft edge about half a mask pixel wide and centred on the outline, with no
  refinement at output size (softer edges, never notched or spilling past the subject; the old
  background's colour is still cleaned from them); bilinear resampling (bicubic when enlarging more than
  1.5×, where bilinear shows the source's pixel grid); no output sharpening.
- medium: masks at 1024 px; edges refined (a guided filter aligns a person's outline with the picture and
  their edge colours are re-estimated by blur fusion; a product's edge is unmixed at output pixels from
  the plain backdrop); bicubic resampling; light output sharpening.
- high: masks at 1600 px; the same refinement over a wider band; Lanczos when reducing (bicubic when
  enlarging, where Lanczos rings); light, finer output sharpening.

Higher levels only add work, never remove a step, so a higher level is never worse than a lower one.
"""

from __future__ import annotations

from dataclasses import dataclass

from PIL import Image


@dataclass(frozen=True)
class Quality:
    """The knobs one quality level sets."""

    name: str
    mask_edge: int
    """Long edge, in pixels, at which masks are computed."""
    refine: bool
    """Refine mask edges against the image (guided filter and colour unmixing at output resolution)."""
    band: float
    """Half-width of the edge band refined at output resolution, in mask pixels."""
    resample: Image.Resampling
    sharpen: float
    """Unsharp-mask amount applied to the final picture (0 = none)."""
    sharpen_radius: float
    """Unsharp-mask radius, in output pixels per 1000 pixels of the long edge."""
    blur_steps: int
    """Layers of depth used by portrait blur (more = smoother falloff)."""


QUALITIES: dict[str, Quality] = {
    "low": Quality("low", 512, False, 1.5, Image.Resampling.BILINEAR, 0.0, 0.0, 1),
    "medium": Quality("medium", 1024, True, 1.5, Image.Resampling.BICUBIC, 0.25, 0.8, 2),
    "high": Quality("high", 1600, True, 2.0, Image.Resampling.LANCZOS, 0.3, 0.6, 3),
}


def quality_for(name: str) -> Quality:
    """The settings for "low", "medium" or "high" (anything else reads as medium)."""
    return QUALITIES.get(name, QUALITIES["medium"])
