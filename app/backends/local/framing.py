"""Framing: which part of the source becomes the output, and rendering it at the exact output size.

A window is a rectangle in source pixels with the output's aspect ratio. Cropping keeps it inside the
source, centres it on the subject's visual centre and slides it so that it never cuts what must be kept
(a head, a product: the `Focus` that `focus.py` finds) when that fits; when it cannot fit, a subject whose
surroundings can be filled is extended around instead, and otherwise the cut is reported for the steps.
Extending lets the window reach past the source, and the part outside is filled (with the backdrop, a new
background, or a blurred copy of the photo). The window is resampled to
the output size once, with the quality level's filter, and the same mapping is used for the subject's matte
so the two line up exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image

# A subject cut by more than this share of its box makes fitting extend instead of crop, when the area
# outside the picture can be filled convincingly.
MAX_AUTO_CUT = 0.02
# Extending by less than this share of a side only rounds the output size: a sliver of filled canvas looks
# like a mistake, so the picture is cover-fitted instead (cutting at most this share).
SLIVER = 0.02
# Enlarging by more than this factor uses bicubic whatever the quality level: bilinear shows the grid of the
# source pixels as streaks when a small picture is blown up.
SMOOTH_UPSCALE = 1.5
# A matte enlarged by more than this factor is warped with cubic interpolation (the edge refinement at
# output pixels covers moderate factors; beyond this a bilinear outline shows the work pixels' steps).
MATTE_CUBIC = 4.0
# Margin around the subject, as a share of its size, when framing on it.
TIGHT_MARGIN = 0.08
CENTRE_MARGIN = 0.25
# Room left between what must be kept and the frame's edge, as a share of its size, when the frame has it.
KEEP_MARGIN = 0.08
# Margin around a subject that the canvas is extended to hold, as a share of its size.
GROW_MARGIN = 0.06
# A side of what must be kept counts as cut when more than this share of its extent is outside the frame.
CUT_TOLERANCE = 0.01

Box = tuple[float, float, float, float]
"""(x0, y0, x1, y1) in source pixels."""


@dataclass(frozen=True)
class Focus:
    """What framing centres on and must not cut (see `focus.py`), in source pixels."""

    centre: tuple[float, float]
    """The subject's visual centre: crops centre here."""
    box: Box
    """The whole subject: close and centred framing fit it."""
    keep: Box
    """What a crop must never cut: the head(s), or a product's box."""
    core: Box | None = None
    """What to keep when even `keep` cannot fit (the faces inside the heads); None: keep the top of `keep`."""
    label: str = "subject"
    """What `keep` is, for the steps: "head", "heads", "subject" or "main object"."""
    name: str = "subject"
    """What the whole is, for the steps: "person", "people", "subject" or "main object"."""
    parts: tuple[Box, ...] = ()
    """The separate things `keep` holds when there are several (each person's head, the main one first):
    a frame too small for all of them holds as many whole as fit with the main one."""

    def scaled(self, factor: float) -> Focus:
        """The same focus with every coordinate multiplied by `factor`."""

        def scale(box: Box) -> Box:
            return (box[0] * factor, box[1] * factor, box[2] * factor, box[3] * factor)

        return Focus(
            (self.centre[0] * factor, self.centre[1] * factor),
            scale(self.box),
            scale(self.keep),
            scale(self.core) if self.core is not None else None,
            self.label,
            self.name,
            tuple(scale(part) for part in self.parts),
        )


@dataclass(frozen=True)
class Window:
    """A rectangle in source pixels (it may reach outside the source when extending)."""

    x0: float
    y0: float
    x1: float
    y1: float

    @property
    def width(self) -> float:
        return self.x1 - self.x0

    @property
    def height(self) -> float:
        return self.y1 - self.y0

    def inside(self, width: int, height: int) -> bool:
        """Whether the window lies within a width×height source (to a fraction of a pixel)."""
        return self.x0 >= -0.5 and self.y0 >= -0.5 and self.x1 <= width + 0.5 and self.y1 <= height + 0.5

    def side_of(self, box: Box) -> str:
        """The side of the window towards which `box` lies from its centre, relative to its size."""
        dx = ((box[0] + box[2]) / 2 - (self.x0 + self.x1) / 2) / self.width
        dy = ((box[1] + box[3]) / 2 - (self.y0 + self.y1) / 2) / self.height
        if abs(dx) >= abs(dy):
            return "left" if dx < 0 else "right"
        return "top" if dy < 0 else "bottom"

    def cut_sides(self, box: Box) -> tuple[str, ...]:
        """The sides of `box` that lie outside the window ("top", "bottom", "left", "right")."""
        x0, y0, x1, y1 = box
        tol_x, tol_y = max(1.0, CUT_TOLERANCE * (x1 - x0)), max(1.0, CUT_TOLERANCE * (y1 - y0))
        sides = []
        if y0 < self.y0 - tol_y:
            sides.append("top")
        if y1 > self.y1 + tol_y:
            sides.append("bottom")
        if x0 < self.x0 - tol_x:
            sides.append("left")
        if x1 > self.x1 + tol_x:
            sides.append("right")
        return tuple(sides)


@dataclass(frozen=True)
class Framing:
    """The chosen window, and what it does to the focus."""

    window: Window
    cut: tuple[str, ...] = ()
    """The sides of the focus's `keep` box the window cuts (it could not fit): of the parts it holds, when
    it could not hold them all."""
    left_out: tuple[str, ...] = ()
    """Where each of the focus's parts that the window could not hold lies ("left", "right", "top" or
    "bottom" of the frame)."""
    extended: bool = False
    """The window reaches past the source so that the subject is not cut, although the instruction asked
    for a crop or named no frame."""


def _fit_size(width: float, height: float, ratio: float, *, cover: bool) -> tuple[float, float]:
    """The largest (cover=False: smallest containing) ratio-shaped size for a width×height area."""
    if (width / height > ratio) == cover:
        return height * ratio, height
    return width, width / ratio


def _centred(cx: float, cy: float, w: float, h: float) -> Window:
    return Window(cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)


def _clamp(window: Window, width: int, height: int) -> Window:
    """Slide a window that fits in the source back inside it."""
    dx = max(0.0, -window.x0) - max(0.0, window.x1 - width)
    dy = max(0.0, -window.y0) - max(0.0, window.y1 - height)
    return Window(window.x0 + dx, window.y0 + dy, window.x1 + dx, window.y1 + dy)


def _cut_share(window: Window, box: Box) -> float:
    x0, y0, x1, y1 = box
    area = max(1e-6, (x1 - x0) * (y1 - y0))
    inter = max(0.0, min(x1, window.x1) - max(x0, window.x0)) * max(0.0, min(y1, window.y1) - max(y0, window.y0))
    return 1.0 - inter / area


def _grow_to_include(window: Window, box: Box, ratio: float, width: int, height: int) -> Window | None:
    """The smallest ratio-shaped window holding `window` and `box` with a margin, reaching past the source
    only on sides where the subject stays clear of the photo's edge: a subject the photo itself cuts would
    show as sliced off on the extended canvas. None when no such window exists."""
    x0, y0, x1, y1 = box
    mx, my = (x1 - x0) * GROW_MARGIN, (y1 - y0) * GROW_MARGIN
    touches = (x0 <= 1, y0 <= 1, x1 >= width - 1, y1 >= height - 1)  # left, top, right, bottom
    left = max(0.0, min(window.x0, x0 - mx)) if touches[0] else min(window.x0, x0 - mx)
    top = max(0.0, min(window.y0, y0 - my)) if touches[1] else min(window.y0, y0 - my)
    right = min(float(width), max(window.x1, x1 + mx)) if touches[2] else max(window.x1, x1 + mx)
    bottom = min(float(height), max(window.y1, y1 + my)) if touches[3] else max(window.y1, y1 + my)
    w, h = _fit_size(right - left, bottom - top, ratio, cover=False)
    grown = _centred((left + right) / 2, (top + bottom) / 2, w, h)

    def shift(low: float, high: float, limit: float, touch_low: bool, touch_high: bool) -> float | None:
        if touch_low and touch_high and high - low > limit + 0.5:
            return None
        if touch_low and low < 0:
            return -low
        if touch_high and high > limit:
            return limit - high
        return 0.0

    dx = shift(grown.x0, grown.x1, width, touches[0], touches[2])
    dy = shift(grown.y0, grown.y1, height, touches[1], touches[3])
    if dx is None or dy is None:
        return None
    return Window(grown.x0 + dx, grown.y0 + dy, grown.x1 + dx, grown.y1 + dy)


def _place(start: float, size: float, limit: float, keep: tuple[float, float], core: tuple[float, float] | None,
           *, vertical: bool) -> float:
    """Where a window side of `size` starts along one axis of a source `limit` long, moved as little as
    possible from `start` so that `keep` lies inside it (with KEEP_MARGIN when there is room).

    When `keep` is longer than the window: the window holds `core` and as much of `keep`'s bottom as it
    can (a head too tall for the frame loses the top of the hair or hat, as a photographer crops, never the
    chin or mouth); with no core, it holds `keep`'s top on the vertical axis (a product's top carries its
    shape; it stands on its bottom) and its middle across.
    """
    k0, k1 = keep
    length = k1 - k0
    highest = max(0.0, limit - size)
    if length <= size:
        margin = min(KEEP_MARGIN * length, (size - length) / 2)
        start = min(max(start, k1 + margin - size), k0 - margin)
    elif core is not None and core[1] - core[0] <= size:
        start = min(core[0], k1 - size) if vertical else (core[0] + core[1] - size) / 2
    else:
        start = k0 - min(KEEP_MARGIN * size, k0) if vertical else (k0 + k1 - size) / 2
    return min(max(start, 0.0), highest)


def union(*boxes: Box) -> Box:
    """The smallest box holding all of `boxes`."""
    return (min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes), max(b[3] for b in boxes))


def _fill(box: Box, width: float, height: float) -> float:
    """How much of a width×height frame `box` spans, along its fuller axis (over 1: it cannot fit)."""
    return max((box[2] - box[0]) / width, (box[3] - box[1]) / height)


def _held(focus: Focus, width: float, height: float) -> Box:
    """What a width×height window holds of the focus: all of `keep` when it fits; else, when `keep` is
    made of parts, the main part and as many of the others as fit with it, nearest first (the neighbours
    of the person the photo is of); else `keep` itself (of which `_place` keeps the core)."""
    if len(focus.parts) < 2 or _fill(focus.keep, width, height) <= 1:
        return focus.keep
    held, rest = focus.parts[0], list(focus.parts[1:])
    while rest:
        nearest = min(rest, key=lambda part: _fill(union(held, part), width, height))
        if _fill(union(held, nearest), width, height) > 1:
            break
        held = union(held, nearest)
        rest.remove(nearest)
    return held


def _respect(window: Window, focus: Focus, width: int, height: int) -> Framing:
    """Slide a window that fits in the source so that it cuts nothing of the focus it can keep, and say
    what it cuts of what it holds and where the parts it cannot hold are."""
    core = focus.core
    held = _held(focus, window.width, window.height)
    x = _place(window.x0, window.width, width, (held[0], held[2]),
               (core[0], core[2]) if core is not None else None, vertical=False)
    y = _place(window.y0, window.height, height, (held[1], held[3]),
               (core[1], core[3]) if core is not None else None, vertical=True)
    placed = Window(x, y, x + window.width, y + window.height)
    left_out = tuple(
        placed.side_of(part)
        for part in focus.parts
        if union(held, part) != held and placed.cut_sides(part)  # (a part inside `held` is not left out)
    )
    return Framing(placed, placed.cut_sides(held), left_out=left_out)


def choose_window(
    source_size: tuple[int, int],
    output_size: tuple[int, int],
    *,
    mode: str,
    focus: Focus | None = None,
    subject_frame: str | None = None,
    extendable: bool = False,
) -> Framing:
    """Pick the source window for the output.

    mode: "crop" (fill the output, centred on the focus), "extend" (keep the whole source) or "auto" (crop,
    unless that would cut the subject and the surroundings can be extended). subject_frame: "tight" or
    "centre" to frame on the focus's box. extendable: whether the area outside the source can be filled
    convincingly (a plain backdrop or a new background).

    A crop never cuts the focus's `keep` box (a head, a product) when it fits in the frame; when it cannot
    fit, an extendable subject is extended around instead; otherwise the crop holds as many of its parts
    (several people's heads) as fit with the main one, and reports the parts left out and the cut sides.
    """
    width, height = source_size
    ratio = output_size[0] / output_size[1]
    cover_w, cover_h = _fit_size(width, height, ratio, cover=True)

    if subject_frame and focus is not None:
        x0, y0, x1, y1 = focus.box
        margin = TIGHT_MARGIN if subject_frame == "tight" else CENTRE_MARGIN
        w, h = _fit_size((x1 - x0) * (1 + 2 * margin), (y1 - y0) * (1 + 2 * margin), ratio, cover=False)
        if subject_frame == "centre":
            # Centring keeps at least the crop of the whole frame; it only moves, and extends if it must.
            w, h = max(w, cover_w), max(h, cover_h)
            cx, cy = focus.centre
        else:
            cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        window = _centred(cx, cy, w, h)
        if extendable:
            return Framing(window)
        if window.width > width or window.height > height:
            window = _centred(cx, cy, cover_w, cover_h)
        return _respect(window, focus, width, height)

    if mode == "extend":
        w, h = _fit_size(width, height, ratio, cover=False)
        if max(w / width, h / height) > 1 + SLIVER:
            return Framing(_centred(width / 2, height / 2, w, h))

    if focus is None:
        return Framing(_clamp(_centred(width / 2, height / 2, cover_w, cover_h), width, height))
    framing = _respect(_centred(*focus.centre, cover_w, cover_h), focus, width, height)
    if extendable and _cut_share(framing.window, focus.keep) > MAX_AUTO_CUT:
        grown = _grow_to_include(framing.window, focus.keep, ratio, width, height)
        if grown is not None and max(grown.width / width, grown.height / height) > 1 + SLIVER:
            return Framing(grown, extended=True)
    return framing


@dataclass
class Rendered:
    """The window resampled to the output size."""

    pixels: np.ndarray
    """H×W×3 uint8, or H×W for a one-channel source (areas outside the source are 0 until filled)."""
    covered: np.ndarray | None
    """H×W bool: where the source is (None when it covers everything)."""
    source_to_output: np.ndarray
    """2×3 affine from source pixel coordinates to output pixel coordinates."""


def upscale_filter(resample: Image.Resampling, scale: float) -> Image.Resampling:
    """The filter for resampling by `scale` (output pixels per source pixel) at a quality's `resample`.

    Lanczos rings around edges when enlarging, and bilinear shows the source's pixel grid as streaks when
    enlarging a lot; bicubic is the better enlarger for both.
    """
    if resample == Image.Resampling.LANCZOS and scale > 1.01:
        return Image.Resampling.BICUBIC
    if resample == Image.Resampling.BILINEAR and scale > SMOOTH_UPSCALE:
        return Image.Resampling.BICUBIC
    return resample


def render(source: Image.Image, window: Window, output_size: tuple[int, int], resample: Image.Resampling) -> Rendered:
    """Resample the window of `source` (RGB, or L for a matte) to exactly `output_size`."""
    out_w, out_h = output_size
    scale_x, scale_y = out_w / window.width, out_h / window.height
    src_w, src_h = source.size
    # The part of the window that the source covers, snapped to whole output pixels.
    ox0 = max(0, round((0 - window.x0) * scale_x))
    oy0 = max(0, round((0 - window.y0) * scale_y))
    ox1 = min(out_w, round((src_w - window.x0) * scale_x))
    oy1 = min(out_h, round((src_h - window.y0) * scale_y))
    box = (window.x0 + ox0 / scale_x, window.y0 + oy0 / scale_y, window.x0 + ox1 / scale_x, window.y0 + oy1 / scale_y)
    box = (max(0.0, box[0]), max(0.0, box[1]), min(float(src_w), box[2]), min(float(src_h), box[3]))
    resample = upscale_filter(resample, (ox1 - ox0) / max(1e-6, box[2] - box[0]))
    part = source.resize((ox1 - ox0, oy1 - oy0), resample, box=box, reducing_gap=3.0)
    full = (ox0, oy0, ox1, oy1) == (0, 0, out_w, out_h)
    if full:
        pixels = np.asarray(part).copy()
        covered = None
    else:
        inner = np.asarray(part)
        pixels = np.zeros((out_h, out_w, *inner.shape[2:]), np.uint8)
        pixels[oy0:oy1, ox0:ox1] = inner
        covered = np.zeros((out_h, out_w), bool)
        covered[oy0:oy1, ox0:ox1] = True
    # Source pixel centres map linearly onto output pixel centres through the box.
    sx = (ox1 - ox0) / (box[2] - box[0])
    sy = (oy1 - oy0) / (box[3] - box[1])
    matrix = np.array(
        [[sx, 0.0, ox0 - box[0] * sx + 0.5 * sx - 0.5], [0.0, sy, oy0 - box[1] * sy + 0.5 * sy - 0.5]], np.float64
    )
    return Rendered(pixels, covered, matrix)


def warp(
    array: np.ndarray, work_to_output: np.ndarray, output_size: tuple[int, int], *, nearest: bool = False
) -> np.ndarray:
    """Resample a work-resolution array (matte, band) onto the output grid."""
    flags = cv2.INTER_NEAREST if nearest else cv2.INTER_LINEAR
    if not nearest and abs(float(np.linalg.det(work_to_output[:, :2]))) > MATTE_CUBIC**2:
        # A matte blown up a lot: cubic, so its outline follows curves instead of the work pixels' grid.
        warped = cv2.warpAffine(
            array,
            work_to_output.astype(np.float64),
            output_size,
            flags=cv2.INTER_CUBIC,
            borderMode=cv2.BORDER_CONSTANT,
            borderValue=0,
        )
        return np.clip(warped, 0, 1) if array.dtype == np.float32 else warped
    return cv2.warpAffine(
        array,
        work_to_output.astype(np.float64),
        output_size,
        flags=flags,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=0,
    )


def compose_affine(outer: np.ndarray, inner: np.ndarray) -> np.ndarray:
    """outer ∘ inner for 2×3 affines."""
    a = np.vstack([outer, [0, 0, 1]])
    b = np.vstack([inner, [0, 0, 1]])
    return (a @ b)[:2]


def invert_affine(matrix: np.ndarray) -> np.ndarray:
    """The inverse of a 2×3 affine."""
    return cv2.invertAffineTransform(matrix.astype(np.float64))


def blurred_fill(pixels: np.ndarray, covered: np.ndarray) -> np.ndarray:
    """Fill the uncovered part of an extended canvas with a darkened, heavily blurred cover of the photo."""
    out_h, out_w = covered.shape
    ys, xs = np.nonzero(covered)
    region = pixels[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
    # Blur small (fast and smooth), then scale up to cover the whole canvas.
    small_w = 64
    small_h = max(1, round(small_w * out_h / out_w))
    rh, rw = region.shape[:2]
    scale = max(small_w / rw, small_h / rh)
    cw, ch = max(1, round(rw * scale)), max(1, round(rh * scale))
    small = cv2.resize(region, (cw, ch), interpolation=cv2.INTER_AREA)
    left, top = (cw - small_w) // 2, (ch - small_h) // 2
    small = small[top : top + small_h, left : left + small_w]
    small = cv2.GaussianBlur(small, (0, 0), 3.0)
    fill = cv2.resize(small, (out_w, out_h), interpolation=cv2.INTER_CUBIC)
    fill = cv2.convertScaleAbs(fill, alpha=0.85)
    result = pixels.copy()
    result[~covered] = fill[~covered]
    return result
