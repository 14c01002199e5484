"""Soft edges: turning a rough subject mask into an alpha matte, and recovering clean subject colours.

The masks are found at a reduced "work" resolution. Their edges are then made soft and accurate in two
steps: a guided filter aligns the mask to the image's own edges at work resolution, and in a narrow band
along the boundary the alpha is recomputed at output resolution by colour unmixing: a pixel there is
`alpha * F + (1 - alpha) * B`, with F and B the nearby subject and background colours, so
alpha = (I - B)·(F - B) / |F - B|². Before compositing on a new background, the same F and B give the
subject's own colour at the edge (decontamination), which is what keeps a grey halo off a white backdrop.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

# Below this colour difference (in 0..1 RGB units) between subject and background, unmixing is unreliable
# and the smooth mask is kept instead.
MIN_SEPARATION = 0.06
SNAP_LOW, SNAP_HIGH = 0.15, 0.9


def guided_filter(guide: np.ndarray, source: np.ndarray, radius: int, eps: float) -> np.ndarray:
    """He et al.'s guided filter with a colour guide: `source` smoothed while following `guide`'s edges.

    guide: H×W×3 float32 in 0..1; source: H×W float32. Returns H×W float32.
    """
    size = (2 * radius + 1, 2 * radius + 1)

    def box(array: np.ndarray) -> np.ndarray:
        return cv2.boxFilter(array, -1, size, borderType=cv2.BORDER_REFLECT)

    mean_i = [box(guide[..., c]) for c in range(3)]
    mean_p = box(source)
    cov_ip = [box(guide[..., c] * source) - mean_i[c] * mean_p for c in range(3)]

    def var(i: int, j: int) -> np.ndarray:
        return box(guide[..., i] * guide[..., j]) - mean_i[i] * mean_i[j]

    # The 3×3 covariance (plus eps on the diagonal) inverted in closed form, element by element: much
    # faster than a batched solve.
    rr, rg, rb = var(0, 0) + eps, var(0, 1), var(0, 2)
    gg, gb, bb = var(1, 1) + eps, var(1, 2), var(2, 2) + eps
    inv_rr = gg * bb - gb * gb
    inv_rg = gb * rb - rg * bb
    inv_rb = rg * gb - gg * rb
    inv_gg = rr * bb - rb * rb
    inv_gb = rb * rg - rr * gb
    inv_bb = rr * gg - rg * rg
    det = rr * inv_rr + rg * inv_rg + rb * inv_rb
    a_r = (inv_rr * cov_ip[0] + inv_rg * cov_ip[1] + inv_rb * cov_ip[2]) / det
    a_g = (inv_rg * cov_ip[0] + inv_gg * cov_ip[1] + inv_gb * cov_ip[2]) / det
    a_b = (inv_rb * cov_ip[0] + inv_gb * cov_ip[1] + inv_bb * cov_ip[2]) / det
    b = mean_p - a_r * mean_i[0] - a_g * mean_i[1] - a_b * mean_i[2]
    return (box(a_r) * guide[..., 0] + box(a_g) * guide[..., 1] + box(a_b) * guide[..., 2] + box(b)).astype(np.float32)


def local_colours(image: np.ndarray, weight: np.ndarray, sigma: float) -> np.ndarray:
    """The weighted average colour around each pixel (normalised convolution), gaps filled by push-pull.

    image: H×W×3 float32; weight: H×W float32 in 0..1 (1 where a pixel belongs to the region whose colour
    is wanted). Pixels with none of the region nearby take the colour of the nearest part of it, found on
    a pyramid (averaged down until every cell has some weight, then pulled back up).

    Run on a whole 4K picture, so the full-size arrays are reused in place: one colour array for the
    weighted sum, its blur and the answer, instead of one each.
    """
    total = float(weight.sum())
    result = np.multiply(image, weight[..., None], dtype=np.float32)
    region_mean = result.reshape(-1, 3).sum(0) / total if total > 0 else None
    cv2.GaussianBlur(result, (0, 0), sigma, dst=result)  # the numerator
    denominator = cv2.GaussianBlur(weight, (0, 0), sigma)
    missing = denominator <= 1e-3
    pyramid: list[tuple[np.ndarray, np.ndarray]] = []
    if region_mean is not None and missing.any():
        # Built from the numerator before it is divided in place; level 0 is the answer itself.
        numerator, level_denominator = result, denominator
        while min(numerator.shape[:2]) > 2 and (level_denominator <= 1e-3).any():
            numerator, level_denominator = cv2.pyrDown(numerator), cv2.pyrDown(level_denominator)
            pyramid.append((numerator, level_denominator))
    result /= np.maximum(denominator, 1e-6)[..., None]
    if not missing.any():
        return result
    if region_mean is None:
        result[:] = image.reshape(-1, 3).mean(0)
        return result
    del denominator
    coarse: np.ndarray = np.empty(pyramid[-1][0].shape, np.float32)
    coarse[:] = region_mean
    usable = pyramid[-1][1] > 1e-3
    coarse[usable] = pyramid[-1][0][usable] / pyramid[-1][1][usable][:, None]
    for numerator, level_denominator in reversed(pyramid[:-1]):
        height, width = numerator.shape[:2]
        up = cv2.resize(coarse, (width, height), interpolation=cv2.INTER_LINEAR)
        usable = level_denominator > 1e-3
        up[usable] = numerator[usable] / level_denominator[usable][:, None]
        coarse = up
    height, width = result.shape[:2]
    result[missing] = cv2.resize(coarse, (width, height), interpolation=cv2.INTER_LINEAR)[missing]
    return result


def unmix(pixels: np.ndarray, fore: np.ndarray, back: np.ndarray, fallback: np.ndarray) -> np.ndarray:
    """Alpha of each pixel as a mix of its foreground and background colour (all N×3 float32 in 0..1)."""
    direction = fore - back
    length2 = np.einsum("nc,nc->n", direction, direction)
    alpha = np.einsum("nc,nc->n", pixels - back, direction) / np.maximum(length2, 1e-6)
    # The estimates of F and B drift a little (a shadow deepening toward the subject, a shaded rim), which
    # leaves a faint haze of alpha around the edge: values near 0 or 1 are snapped to it.
    alpha = np.clip((alpha - SNAP_LOW) / (SNAP_HIGH - SNAP_LOW), 0.0, 1.0)
    # Where subject and background colours are close the ratio is noise, and a colour far from the line
    # between them (a highlight, a third colour) is no mix of the two: lean on the smooth mask there.
    trust = np.clip((np.sqrt(length2) - MIN_SEPARATION) / MIN_SEPARATION, 0.0, 1.0)
    residual = np.linalg.norm(pixels - (back + alpha[:, None] * direction), axis=1)
    trust *= np.clip(1.0 - (residual - 0.04) / 0.06, 0.0, 1.0)
    return (trust * alpha + (1 - trust) * fallback).astype(np.float32)


@dataclass
class EdgeColours:
    """Subject (fore) and background (back) colour estimates at work resolution, 0..1 RGB float32."""

    fore: np.ndarray
    back: np.ndarray


def edge_colours(image: np.ndarray, alpha: np.ndarray, *, sigma: float = 1.5) -> EdgeColours:
    """Estimate subject and background colours near every pixel from the confident parts of a matte.

    Only pixels a little inside each side count (edge pixels are mixtures), and the neighbourhood is
    small, so a shaded rim of the subject is estimated from the rim, not from the subject's middle.
    """
    kernel = np.ones((3, 3), np.uint8)
    sure_fore = cv2.erode((alpha > 0.95).astype(np.uint8), kernel, iterations=2).astype(np.float32)
    sure_back = cv2.erode((alpha < 0.05).astype(np.uint8), kernel, iterations=2).astype(np.float32)
    return EdgeColours(local_colours(image, sure_fore, sigma), local_colours(image, sure_back, sigma))


def estimate_foreground(image: np.ndarray, alpha: np.ndarray) -> EdgeColours:
    """The subject's own colour (and the background's) at every pixel of a soft matte, by blur fusion
    (Forte and Pitié, "Approximate fast foreground colour estimation", 2021).

    Where alpha is soft the observed colour is a mix, I = a·F + (1 − a)·B. F and B are first guessed as the
    alpha-weighted local averages of each side, then the part of I that the guess leaves unexplained is given
    back to each side in proportion to its share; a wide pass and then a narrow one. Unlike unmixing against
    one nearby background colour, it copes with busy backgrounds (a flag, a room), because no pixel's
    colour is ever taken as mostly background unless alpha says so.

    image: H×W×3 float32 0..1; alpha: H×W float32 0..1.
    """
    height, width = alpha.shape
    a = np.ascontiguousarray(alpha, dtype=np.float32)[..., None]
    fore = image.copy()
    back = image.copy()
    for share in (0.09, 0.006):
        radius = max(1, round(share * max(height, width)))
        size = (2 * radius + 1, 2 * radius + 1)

        def blur(array: np.ndarray, size: tuple[int, int] = size) -> np.ndarray:
            return cv2.blur(array, size, borderType=cv2.BORDER_REFLECT)

        weight_f = blur(a[..., 0])[..., None]
        weight_b = blur(1.0 - a[..., 0])[..., None]
        f_hat = blur(fore * a) / np.maximum(weight_f, 1e-5)
        b_hat = blur(back * (1.0 - a)) / np.maximum(weight_b, 1e-5)
        residual = image - a * f_hat - (1.0 - a) * b_hat
        fore = np.clip(f_hat + a * residual, 0.0, 1.0).astype(np.float32)
        back = np.clip(b_hat + (1.0 - a) * residual, 0.0, 1.0).astype(np.float32)
    return EdgeColours(fore, back)


def boundary_band(alpha: np.ndarray, half_width: float) -> np.ndarray:
    """Pixels within `half_width` of the matte's 0.5 contour or in its soft part (bool, work resolution)."""
    solid = (alpha > 0.5).astype(np.uint8)
    radius = max(1, round(half_width))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    edge = cv2.dilate(solid, kernel) != cv2.erode(solid, kernel)
    return edge | ((alpha > 0.02) & (alpha < 0.98))


def steepen(alpha: np.ndarray, ramp: float, target: float) -> np.ndarray:
    """A soft matte whose 10–90% ramp is `ramp` pixels wide, made `target` pixels wide around its 0.5
    contour. A feathered work-resolution matte blown up to output size has a wide ramp: half of it lies
    outside the subject, where the subject's colour at partial alpha reads as a dark, blurred fringe."""
    gain = max(1.0, ramp / max(target, 1e-3))
    if gain <= 1.0:
        return alpha
    steep = alpha - 0.5
    steep *= gain
    steep += 0.5
    return np.clip(steep, 0.0, 1.0, out=steep)


def sample(array: np.ndarray, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """Bilinear samples of an H×W×C float32 array at N points (x, y); returns N×C."""
    count = xs.size
    # remap wants maps narrower than 32767 pixels: lay the points out in rows of 1024.
    columns = 1024
    rows = max(1, -(-count // columns))
    map_x = np.zeros(rows * columns, np.float32)
    map_y = np.zeros(rows * columns, np.float32)
    map_x[:count], map_y[:count] = xs, ys
    sampled = cv2.remap(
        array,
        map_x.reshape(rows, columns),
        map_y.reshape(rows, columns),
        cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_REPLICATE,
    )
    return sampled.reshape(rows * columns, -1)[:count]


@dataclass
class RefinedEdge:
    """Alpha at output size, plus the decontaminated subject colours of the edge-band pixels."""

    alpha: np.ndarray
    ys: np.ndarray
    xs: np.ndarray
    fore: np.ndarray
    """N×3 uint8: the subject's own colour at each band pixel (old background unmixed out)."""


def refine_at_output(
    output_rgb: np.ndarray,
    coarse_alpha: np.ndarray,
    band: np.ndarray,
    colours: EdgeColours,
    to_work: np.ndarray,
    *,
    unmix_alpha: bool = True,
) -> RefinedEdge:
    """Recompute alpha by colour unmixing at the output pixels in the edge band, and decontaminate them.

    output_rgb: H×W×3 uint8 at output size; coarse_alpha: H×W float32 (the work matte warped to output);
    band: H×W bool at output size; to_work: 2×3 affine mapping output pixel centres to work coordinates.
    With `unmix_alpha` False only the colours are cleaned (the alpha stays the coarse one).
    """
    ys, xs = np.nonzero(band)
    alpha = coarse_alpha
    if ys.size == 0:
        return RefinedEdge(alpha, ys, xs, np.zeros((0, 3), np.uint8))
    points = np.stack([xs, ys, np.ones_like(xs)], axis=1).astype(np.float32)
    work_xy = points @ to_work.T.astype(np.float32)
    fore = sample(colours.fore, work_xy[:, 0], work_xy[:, 1])
    back = sample(colours.back, work_xy[:, 0], work_xy[:, 1])
    pixels = output_rgb[ys, xs].astype(np.float32) / 255.0
    band_alpha = coarse_alpha[ys, xs]
    if unmix_alpha:
        band_alpha = unmix(pixels, fore, back, band_alpha)
        alpha = coarse_alpha.copy()
        alpha[ys, xs] = band_alpha
    # F = B + (I - B) / alpha recovers the subject's colour; for faint alpha it is noise, so lean on the
    # nearby subject colour instead.
    a = np.maximum(band_alpha, 0.05)[:, None]
    recovered = np.clip(back + (pixels - back) / a, 0.0, 1.0)
    weight = np.clip((band_alpha[:, None] - 0.1) / 0.4, 0.0, 1.0)
    if not unmix_alpha:
        # A coarse matte reaches into the old background, where unmixing would bring that colour back:
        # take the subject's nearby colour instead, which reads as a soft edge rather than a halo.
        weight = np.clip((band_alpha[:, None] - 0.9) / 0.1, 0.0, 1.0)
    clean = weight * recovered + (1 - weight) * fore
    return RefinedEdge(alpha, ys, xs, np.round(clean * 255).astype(np.uint8))
