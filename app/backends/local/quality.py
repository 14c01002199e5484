"""What the quality setting changes in the offline engine.

| level  | mask resolution (long edge) | edges                                                      | resampling | output sharpening |
| ------ | --------------------------- | ---------------------------------------------------------- | ---------- | ----------------- |
| low    | 512 px                      | mask upsampled and feathered, no refinement               | bilinear   | none              |
| medium | 1024 px                     | guided-filter refinement, colour unmixing at output pixels | bicubic    | light             |
| high   | 1600 px                     | as medium from a finer mask, wider refinement band         | Lanczos    | light, finer      |

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
