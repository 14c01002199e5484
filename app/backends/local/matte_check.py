"""Judging a subject matte before anything is cut out with it.

Whatever found the subject (a plain-backdrop analysis, the person model) can be fooled: on a white mug on
a white backdrop only the mug's dark sides stand out, and a cut-out with that matte is two grey lines on a
new background. So every matte is judged on its own shape and against the picture before it is used:

- tiny: the subject covers almost none of the frame;
- slivers: almost all of it is edge, with no body (the sides of a white object, a wire), or a part of
  it is (a black cap on a black backdrop found only by its two highlights);
- disagreeing with the picture: on a plain backdrop, what the matte calls backdrop should be smooth, so
  sharp edges there (a mug's rim and handle, the rest of a label, a highlight) are the subject that was
  missed; and its outline should be visible all round, so a stretch where the colours either side of it
  barely differ (a green bottle on a green backdrop) is a guess. A person's background is usually busy,
  so these two tests are for plain backdrops only.

The measures are taken at one fixed size, so the verdict is the same at every quality level and at
submit time as when the edit runs.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

CHECK_EDGE = 512
# The smallest share of the frame a subject may cover.
MIN_AREA = 0.003
# Matte pixels within this distance (check pixels) of its outline are "edge"; above MAX_EDGE_SHARE of
# them, the matte has no body. A pen 2% of the frame across measures about 0.4; a wire or the two dark
# sides of a white mug, 1.0.
EDGE_DEPTH = 2.0
MAX_EDGE_SHARE = 0.7
# A sliver part: what a disc SLIVER_WIDTH check pixels across cannot fit in; the largest such part may
# hold at most MAX_SLIVER pixels (the corners of a body hold a few; a cap's lone highlight, dozens).
SLIVER_WIDTH = 5
MAX_SLIVER = 12
# A sharp edge: a colour step of at least this many ΔE per check pixel. Soft shadows and vignettes stay
# well below it; a silhouette on a plain backdrop is far above.
SHARP_STEP = 6.0
# Sharp edges in the matte's backdrop, this far from its outline (check pixels), per pixel of outline.
STRAY_MARGIN = 6
MAX_STRAY_EDGES = 0.12
# Colour difference (ΔE) between the subject just inside its outline and the backdrop just outside, below
# which that stretch of outline is invisible; at most this share of the outline may be.
FAINT_CONTRAST = 8.0
MAX_FAINT_OUTLINE = 0.05


@dataclass(frozen=True)
class MatteVerdict:
    """The measures of one matte, and the reason it is refused ('' when it is fine)."""

    area: float
    edge_share: float
    sliver: int
    stray_edges: float
    faint_outline: float
    reason: str

    @property
    def ok(self) -> bool:
        return not self.reason


def _lab(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(rgb.astype(np.float32) / 255.0, cv2.COLOR_RGB2Lab)


def sharp_edges(rgb: np.ndarray) -> np.ndarray:
    """Pixels on a sharp colour step (H×W bool); rgb is uint8."""
    lab = cv2.GaussianBlur(_lab(rgb), (0, 0), 0.7)
    step = np.zeros(lab.shape[:2], np.float32)
    for channel in range(3):
        gx = cv2.Sobel(lab[..., channel], cv2.CV_32F, 1, 0, ksize=3) / 8
        gy = cv2.Sobel(lab[..., channel], cv2.CV_32F, 0, 1, ksize=3) / 8
        step += gx * gx + gy * gy
    return np.sqrt(step) > SHARP_STEP


def _largest_sliver(solid: np.ndarray) -> int:
    """Pixels in the largest part of the matte too thin for a disc SLIVER_WIDTH across (the frame's edge
    does not make a part thin)."""
    pad = SLIVER_WIDTH
    disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (SLIVER_WIDTH, SLIVER_WIDTH))
    padded = cv2.copyMakeBorder(solid, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
    opened = cv2.morphologyEx(padded, cv2.MORPH_OPEN, disc)[pad:-pad, pad:-pad]
    thin = ((solid > 0) & (opened == 0)).astype(np.uint8)
    count, _, stats, _ = cv2.connectedComponentsWithStats(thin, connectivity=8)
    return int(stats[1:, cv2.CC_STAT_AREA].max()) if count > 1 else 0


def _near_mean(lab: np.ndarray, region: np.ndarray, sigma: float) -> np.ndarray:
    """The average colour of `region` (bool) around each pixel."""
    weight = cv2.GaussianBlur(region.astype(np.float32), (0, 0), sigma)
    total = cv2.GaussianBlur(lab * region[..., None].astype(np.float32), (0, 0), sigma)
    return total / np.maximum(weight, 1e-6)[..., None]


def _faint_share(rgb: np.ndarray, solid: np.ndarray, outline: np.ndarray) -> float:
    """The share of the outline where the subject just inside looks like the backdrop just outside."""
    kernel = np.ones((3, 3), np.uint8)
    # Two to four pixels from the outline on either side: the outline's own pixels are mixtures.
    inner = cv2.erode(solid, kernel, iterations=2) > cv2.erode(solid, kernel, iterations=4)
    outer = cv2.dilate(solid, kernel, iterations=4) > cv2.dilate(solid, kernel, iterations=2)
    lab = _lab(rgb)
    # Each inner pixel against the backdrop's colour outside it, then averaged: a two-tone rim (a dark
    # outline beside a white body) averages to the backdrop's grey, while each of its pixels differs.
    apart = np.linalg.norm(lab - _near_mean(lab, outer, 2.5), axis=2)
    weight = cv2.GaussianBlur(inner.astype(np.float32), (0, 0), 2.5)
    contrast = cv2.GaussianBlur(apart * inner, (0, 0), 2.5) / np.maximum(weight, 1e-6)
    return float((contrast[outline] < FAINT_CONTRAST).mean()) if outline.any() else 0.0


def judge_matte(alpha: np.ndarray, rgb: np.ndarray, *, plain_backdrop: bool) -> MatteVerdict:
    """Measure a matte (H×W float 0..1) against its picture (H×W×3 uint8, same size)."""
    height, width = alpha.shape
    scale = min(1.0, CHECK_EDGE / max(height, width))
    if scale < 1.0:
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        alpha = cv2.resize(alpha.astype(np.float32), size, interpolation=cv2.INTER_AREA)
        rgb = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
    solid = (alpha > 0.5).astype(np.uint8)
    area = float(solid.mean())
    if area < MIN_AREA:
        return MatteVerdict(area, 1.0, 0, 0.0, 0.0, "the subject is too small in the frame to cut out")
    # Distance to the nearest non-subject pixel; the frame's border is not an outline (a subject cut by
    # the frame keeps its body there).
    padded = cv2.copyMakeBorder(solid, 1, 1, 1, 1, cv2.BORDER_REPLICATE)
    depth = cv2.distanceTransform(padded, cv2.DIST_L2, 3)[1:-1, 1:-1]
    edge_share = float((depth[solid > 0] <= EDGE_DEPTH).mean())
    sliver = _largest_sliver(solid)
    stray, faint = 0.0, 0.0
    if plain_backdrop:
        outline = cv2.morphologyEx(solid, cv2.MORPH_GRADIENT, np.ones((3, 3), np.uint8)) > 0
        outline[[0, -1], :] = False  # the frame's edge is no outline
        outline[:, [0, -1]] = False
        away = cv2.distanceTransform(1 - solid, cv2.DIST_L2, 3) > STRAY_MARGIN
        stray = float((sharp_edges(rgb) & away).sum() / max(1, int(outline.sum())))
        faint = _faint_share(rgb, solid, outline)
    reason = ""
    if edge_share > MAX_EDGE_SHARE:
        reason = "what stands out from the backdrop is only thin slivers, not a whole object"
    elif sliver > MAX_SLIVER:
        reason = "part of what stands out from the backdrop is only thin slivers, so that part would be lost"
    elif stray > MAX_STRAY_EDGES:
        reason = "part of the subject looks the same as the backdrop, so the outline found misses some of it"
    elif faint > MAX_FAINT_OUTLINE:
        reason = "part of the subject's outline is the same colour as the backdrop, so it cannot be traced"
    return MatteVerdict(area, edge_share, sliver, stray, faint, reason)
