"""Finding the subject of a plain-backdrop shot (products, studio photos) without any model.

The backdrop is modelled from the image border as a smooth quadratic colour surface (so gradients and
vignettes are part of it). Every pixel is compared with that surface in Lab; darker pixels of the
backdrop's own hue count as shadow, not subject. Confident subject and confident backdrop pixels seed a
watershed that settles the uncertain ones along the image's strongest edges (the silhouette, not the soft
edge of a shadow). A confidence is measured and the result refused when it is low: the border is not plain,
the subject barely differs from the backdrop (white on white, glass), or it runs off the frame on several
sides.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

# Distances are Lab ΔE (roughly: 2 is barely visible, 10 is obvious).
MIN_NOISE = 0.8
MAX_BORDER_NOISE = 5.0
MIN_INLIER_SHARE = 0.55
SHADOW_WEIGHT = 0.3
SHADOW_MIN_RATIO = 0.35
# Steepest lightness change (Lab L per pixel, at a long edge of SHADOW_SLOPE_EDGE pixels) that still
# reads as a soft shadow rather than an edge. A smaller picture makes the same shadow steeper per pixel, so
# the limit grows with the reduction (a contact shadow at 512 px is not taken for the subject's base).
SHADOW_MAX_SLOPE = 2.5
SHADOW_SLOPE_EDGE = 1024
# How far (pixels) a dark rim of the subject's own may lie from what was found of it: the step between the
# two is too steep to count as shadow, so it separates them.
RIM_STEP = 2


@dataclass
class BackdropModel:
    """A quadratic colour surface per RGB channel over normalised coordinates (-1..1)."""

    coefficients: np.ndarray
    """6×3: constant, x, y, x², xy, y²."""

    def evaluate(
        self, width: int, height: int, window: tuple[float, float, float, float] | None = None, *, clamp: bool = True
    ) -> np.ndarray:
        """The backdrop colour (H×W×3 float32, 0..1) over a grid of `width`×`height` samples.

        window (x0, y0, x1, y1) is the region of the original frame, in normalised coordinates, that the
        grid covers (default the whole frame). With clamp, points outside the frame take the colour of the
        nearest frame edge, so an extended canvas continues the backdrop instead of extrapolating it.
        """
        x0, y0, x1, y1 = window or (-1.0, -1.0, 1.0, 1.0)
        xs = np.linspace(x0, x1, width, dtype=np.float32)
        ys = np.linspace(y0, y1, height, dtype=np.float32)
        if clamp:
            xs = np.clip(xs, -1, 1)
            ys = np.clip(ys, -1, 1)
        gx, gy = np.meshgrid(xs, ys)
        c = self.coefficients.astype(np.float32)
        out = (
            c[0]
            + gx[..., None] * c[1]
            + gy[..., None] * c[2]
            + (gx * gx)[..., None] * c[3]
            + (gx * gy)[..., None] * c[4]
            + (gy * gy)[..., None] * c[5]
        )
        return np.clip(out, 0.0, 1.0)


@dataclass
class BackdropResult:
    """What the plain-backdrop analysis found, at work resolution."""

    alpha: np.ndarray | None
    """H×W float32 0..1 (soft at the edges), or None when refused."""
    model: BackdropModel | None
    confidence: float
    reason: str
    """Why the confidence is low, for the refusal message ('' when fine)."""


def _design(xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    return np.stack([np.ones_like(xs), xs, ys, xs * xs, xs * ys, ys * ys], axis=1)


def _lab(rgb01: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(rgb01.astype(np.float32), cv2.COLOR_RGB2Lab)


def fit_backdrop(image: np.ndarray) -> tuple[BackdropModel, float, float, list[float]]:
    """Fit the backdrop surface to the border ring, robustly (the subject may touch the frame).

    image: H×W×3 float32 0..1. Returns the model, the share of ring pixels that fit it, the noise level
    (ΔE) of those that do, and the share that fits on each side (top, bottom, left, right).
    """
    height, width = image.shape[:2]
    ring_width = max(2, round(0.015 * max(height, width)))
    ring = np.zeros((height, width), bool)
    ring[:ring_width] = ring[-ring_width:] = True
    ring[:, :ring_width] = ring[:, -ring_width:] = True
    ys, xs = np.nonzero(ring)
    # Subsample the ring: a few thousand points fix six coefficients well.
    step = max(1, ys.size // 6000)
    ys, xs = ys[::step], xs[::step]
    nx = xs.astype(np.float32) / max(1, width - 1) * 2 - 1
    ny = ys.astype(np.float32) / max(1, height - 1) * 2 - 1
    design = _design(nx, ny)
    colours = image[ys, xs]
    lab = _lab(colours[None])[0]
    # Start from the commonest colour of the border, not from all of it: a subject that covers much of
    # the border would otherwise drag a plain least-squares fit toward itself.
    bins = np.floor(lab / 8.0).astype(np.int32)
    _keys, inverse, counts = np.unique(bins, axis=0, return_inverse=True, return_counts=True)
    centre = np.median(lab[inverse.ravel() == int(np.argmax(counts))], axis=0)
    keep = np.linalg.norm(lab - centre, axis=1) < 15.0
    coefficients = np.zeros((6, 3), np.float32)
    noise = MIN_NOISE
    for _ in range(4):
        coefficients, *_ = np.linalg.lstsq(design[keep], colours[keep], rcond=None)
        predicted = np.clip(design @ coefficients, 0, 1)
        distance = np.linalg.norm(lab - _lab(predicted[None].astype(np.float32))[0], axis=1)
        noise = max(MIN_NOISE, 1.4826 * float(np.median(distance[keep])))
        keep = distance < max(3.0, 3.5 * noise)
    side = np.argmin(np.stack([ys, height - 1 - ys, xs, width - 1 - xs]), axis=0)
    sides = [float(keep[side == k].mean()) if (side == k).any() else 1.0 for k in range(4)]
    return BackdropModel(coefficients.astype(np.float32)), float(keep.mean()), noise, sides


def backdrop_distance(image: np.ndarray, backdrop: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """ΔE between image and backdrop, with darker pixels of the backdrop's hue discounted as shadow.

    Returns the distance and a shadow map: smooth, darker pixels of the backdrop's hue (H×W bool).
    """
    lab = _lab(image)
    lab_b = _lab(backdrop)
    d_l = lab[..., 0] - lab_b[..., 0]
    d_c = np.hypot(lab[..., 1] - lab_b[..., 1], lab[..., 2] - lab_b[..., 2])
    ratio = lab[..., 0] / np.maximum(lab_b[..., 0], 1.0)
    # A shadow darkens but keeps the hue; very dark pixels are the subject whatever their hue.
    shadowish = np.clip((ratio - SHADOW_MIN_RATIO) / 0.15, 0.0, 1.0) * np.clip(1.0 - (d_c - 3.0) / 6.0, 0.0, 1.0)
    weight = np.where(d_l < 0, 1.0 - (1.0 - SHADOW_WEIGHT) * shadowish, 1.0)
    distance = np.sqrt((d_l * weight) ** 2 + d_c**2).astype(np.float32)
    # Shadows are soft: a gentle slope of lightness, where a silhouette is a sharp step.
    slope, limit = _lightness_slope(lab)
    shadow = (d_l < 0) & (shadowish > 0.9) & (slope < limit)
    return distance, shadow


def _lightness_slope(lab: np.ndarray) -> tuple[np.ndarray, float]:
    """Lab lightness change per pixel, and the steepest that still reads as a soft shadow at this size."""
    lightness = cv2.GaussianBlur(lab[..., 0], (0, 0), 0.8)
    slope = (
        np.hypot(cv2.Sobel(lightness, cv2.CV_32F, 1, 0, ksize=3), cv2.Sobel(lightness, cv2.CV_32F, 0, 1, ksize=3)) / 8
    )
    return slope, SHADOW_MAX_SLOPE * max(1.0, SHADOW_SLOPE_EDGE / max(lab.shape[:2]))


def _outline_taken_for_shadow(solid: np.ndarray, darker: np.ndarray, image: np.ndarray) -> np.ndarray:
    """The parts of the subject's own outline that look like shadow: darker than the backdrop and of its
    hue (the grey sides of a white mug on a grey backdrop, where its glaze mirrors the room). They touch
    the subject, lie inside its convex hull (its top and base span them), and meet the backdrop in a sharp
    step, as a silhouette does; a shadow, even one inside the hull (beside a bottle's neck), fades out.

    solid: the subject found so far; darker: shadow-like pixels clearly darker than the backdrop (bool);
    image: H×W×3 float32 0..1."""
    count, labels, stats, _ = cv2.connectedComponentsWithStats(solid.astype(np.uint8), connectivity=8)
    found = np.zeros_like(solid)
    if count < 2:
        return found
    largest = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    ys, xs = np.nonzero(labels == largest)
    hull = np.zeros(solid.shape, np.uint8)
    cv2.fillConvexPoly(hull, cv2.convexHull(np.stack([xs, ys], axis=1).astype(np.int32)), 1)
    inside = darker & hull.astype(bool) & ~solid
    count, labels = cv2.connectedComponents(inside.astype(np.uint8), connectivity=8)
    if count < 2:
        return found
    # The step between a dark rim and the subject is a step too, so "touching" allows for it.
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * RIM_STEP + 1,) * 2)
    near_subject = cv2.dilate(solid.astype(np.uint8), kernel).astype(bool)
    touching = np.zeros(count, bool)
    touching[labels[near_subject]] = True
    # Each region's border with the backdrop (around it, away from the subject), labelled by the region
    # next to it; a region whose border is mostly a sharp step is a silhouette.
    grown = cv2.dilate(labels.astype(np.float32), kernel).astype(np.int32)
    border = (grown > 0) & (labels == 0) & ~near_subject
    slope, soft = _lightness_slope(_lab(image))
    lengths = np.bincount(grown[border], minlength=count)
    steep = np.bincount(grown[border], weights=(slope[border] > soft).astype(np.float64), minlength=count)
    outline = touching & (steep > 0.5 * np.maximum(lengths, 1))
    outline[0] = False
    if not outline.any():
        return found
    region = outline[labels]
    # With the step between each and the subject, which joins the two.
    return region | (cv2.dilate(region.astype(np.uint8), kernel).astype(bool) & near_subject & ~solid)


# Said when what differs from the backdrop reaches three sides: most often the backdrop is not one surface.
OFF_THE_FRAME = ("what stands out from the backdrop runs off the frame on several sides, so either the backdrop is "
                 "not one plain surface (a table in front of a wall, a room) or the subject is cut off by the frame")


def segment_backdrop(image_u8: np.ndarray) -> BackdropResult:
    """Find the subject of a plain-backdrop shot at the resolution given (the work resolution)."""
    image = image_u8.astype(np.float32) / 255.0
    height, width = image.shape[:2]
    model, inlier_share, noise, side_shares = fit_backdrop(image)
    if noise > MAX_BORDER_NOISE:
        return BackdropResult(None, model, 0.0, "the backdrop is not plain")
    if inlier_share < MIN_INLIER_SHARE:
        if sum(share < 0.9 for share in side_shares) >= 3 and max(side_shares) > 0.9:
            return BackdropResult(None, model, 0.2, OFF_THE_FRAME)
        return BackdropResult(None, model, 0.0, "the backdrop is not plain")
    backdrop = model.evaluate(width, height)
    distance, shadow = backdrop_distance(image, backdrop)

    low = max(2.5, 3.0 * noise)
    high = max(12.0, 7.0 * noise)
    area = height * width
    kernel = np.ones((3, 3), np.uint8)

    # Confident backdrop: close to the model, or soft shadow on it, and connected to the border.
    close = ((distance < low) | shadow).astype(np.uint8)
    count, labels = cv2.connectedComponents(close, connectivity=4)
    touching = np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]]))
    touching = touching[touching > 0]
    sure_back = np.isin(labels, touching)
    # Enclosed backdrop (a mug's handle, the gap between two items) when clearly backdrop and not tiny.
    if count > 1:
        sizes = np.bincount(labels.ravel(), minlength=count)
        enclosed = np.setdiff1d(np.nonzero(sizes > 0.002 * area)[0], np.concatenate([touching, [0]]))
        strict = distance < 0.6 * low
        for label in enclosed:
            region = labels == label
            if strict[region].mean() > 0.8:
                sure_back |= region
    sure_back = cv2.erode(sure_back.astype(np.uint8), kernel, iterations=1).astype(bool)

    sure_fore = cv2.morphologyEx((distance > high).astype(np.uint8), cv2.MORPH_OPEN, kernel).astype(bool)
    if sure_fore.sum() < 0.002 * area:
        return BackdropResult(None, model, 0.0, "no subject stands out from the backdrop")

    markers = np.zeros((height, width), np.int32)
    markers[sure_back] = 1
    markers[sure_fore] = 2
    cv2.watershed(np.ascontiguousarray(image_u8[..., ::-1]), markers)
    solid = markers == 2
    # Watershed lines (-1) sit between the regions: give them to the side they resemble.
    lines = markers == -1
    solid[lines] = distance[lines] > (low + high) / 2

    # The flood settles ties along edges coarsely; peel off rim pixels that plainly match the backdrop.
    for _ in range(3):
        rim = solid & cv2.dilate((~solid).astype(np.uint8), kernel).astype(bool)
        peel = rim & ((distance < low) | shadow)
        if not peel.any():
            break
        solid &= ~peel

    solid |= _outline_taken_for_shadow(solid, shadow & (distance >= low), image)

    # Drop specks; fill small holes that the subject encloses (text on a label, reflections).
    count, labels, stats, _ = cv2.connectedComponentsWithStats(solid.astype(np.uint8), connectivity=8)
    if count > 1:
        largest = stats[1:, cv2.CC_STAT_AREA].max()
        keep = np.zeros(count, bool)
        keep[1:] = stats[1:, cv2.CC_STAT_AREA] >= max(0.0005 * area, 0.02 * largest)
        solid = keep[labels]
    # Thin intrusions (a highlight stripe that reaches the silhouette) belong to the subject: a sliver of
    # backdrop narrower than about 1% of the frame is far more often a reflection than a real gap.
    radius = max(2, round(0.005 * max(height, width)))
    disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    closed = cv2.morphologyEx(solid.astype(np.uint8), cv2.MORPH_CLOSE, disc).astype(bool)
    open_back = cv2.erode(sure_back.astype(np.uint8), disc).astype(bool)
    solid |= closed & ~open_back
    count, labels, stats, _ = cv2.connectedComponentsWithStats((~solid).astype(np.uint8), connectivity=4)
    for label in range(1, count):
        if stats[label, cv2.CC_STAT_AREA] < 0.002 * area:
            x, y, w, h = stats[label, :4]
            if x > 0 and y > 0 and x + w < width and y + h < height:
                solid[labels == label] = True

    fraction = solid.mean()
    if fraction < 0.003:
        return BackdropResult(None, model, 0.0, "no subject stands out from the backdrop")
    if fraction > 0.85:
        return BackdropResult(None, model, 0.0, "the subject fills almost the whole frame")

    # Confidence 1: how many sides the subject runs off (one, usually the bottom, is normal).
    edge_share = [solid[0].mean(), solid[-1].mean(), solid[:, 0].mean(), solid[:, -1].mean()]
    sides = sum(share > 0.05 for share in edge_share)
    # Confidence 2: contrast along the silhouette, compared with the decision threshold.
    # Measured just inside the silhouette: the outermost pixels are mixtures with the backdrop.
    inner_edge = cv2.erode(solid.astype(np.uint8), kernel, iterations=2).astype(bool) & ~cv2.erode(
        solid.astype(np.uint8), kernel, iterations=4
    ).astype(bool)
    contrast = float(np.median(distance[inner_edge])) if inner_edge.any() else 0.0
    contrast_score = np.clip((contrast - low) / (high - low), 0.0, 1.0)
    # Confidence 3: how much of the subject is only weakly different from the backdrop.
    weak = float(((distance < high) & solid).sum() / max(1, solid.sum()))
    confidence = float(contrast_score * (1.0 - 0.5 * weak) * (1.0 if sides <= 2 else 0.3))
    if sides >= 3:
        return BackdropResult(None, model, confidence, OFF_THE_FRAME)
    if contrast_score < 0.35 or weak > 0.6:
        return BackdropResult(
            None,
            model,
            confidence,
            "the subject is too close in colour to the backdrop (for example white on white or glass)",
        )

    alpha = solid.astype(np.float32)
    return BackdropResult(alpha, model, confidence, "")
