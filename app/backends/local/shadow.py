"""A soft shadow for a cut-out subject on a new background.

A free-standing subject gets a contact shadow: a wide, faint ellipse under its footprint (ambient
occlusion from the floor) plus a narrow, darker one where it touches the ground. A subject that runs off the
bottom of the frame (a portrait) has no floor in view, so it gets a soft shadow cast on the backdrop behind
it instead. Shadows are smooth, so they are drawn at a reduced size and scaled up.
"""

from __future__ import annotations

import cv2
import numpy as np

SHADOW_EDGE = 800


def _ellipse(size: tuple[int, int], centre: tuple[float, float], axes: tuple[float, float], sigma: float) -> np.ndarray:
    width, height = size
    canvas = np.zeros((height, width), np.float32)
    shift = 4  # draw with sub-pixel precision
    cv2.ellipse(
        canvas,
        (round(centre[0] * 16), round(centre[1] * 16)),
        (max(1, round(axes[0] * 16)), max(1, round(axes[1] * 16))),
        0,
        0,
        360,
        1.0,
        -1,
        cv2.LINE_AA,
        shift,
    )
    return cv2.GaussianBlur(canvas, (0, 0), max(0.5, sigma))


def shadow_mask(alpha: np.ndarray, strength: float, *, grounded: bool) -> np.ndarray:
    """How much to darken each background pixel (H×W float32 0..1) for a subject with matte `alpha`.

    grounded: the subject stands inside the frame (contact shadow); otherwise a backdrop shadow.
    """
    height, width = alpha.shape
    factor = min(1.0, SHADOW_EDGE / max(height, width))
    size = (max(8, round(width * factor)), max(8, round(height * factor)))
    small = cv2.resize(alpha, size, interpolation=cv2.INTER_AREA)
    solid = small > 0.5
    rows = np.nonzero(solid.any(axis=1))[0]
    if rows.size == 0:
        return np.zeros_like(alpha)
    top, bottom = int(rows[0]), int(rows[-1])
    subject_height = bottom - top + 1
    if grounded:
        base = solid[max(top, bottom - max(1, round(0.04 * subject_height))) : bottom + 1]
        cols = np.nonzero(base.any(axis=0))[0]
        x0, x1 = float(cols[0]), float(cols[-1] + 1)
        centre_x, half_width = (x0 + x1) / 2, max(2.0, (x1 - x0) / 2)
        floor_y = bottom + 0.5
        ambient = _ellipse(
            size,
            (centre_x, floor_y),
            (half_width * 1.15, max(2.0, 0.035 * subject_height + 0.04 * half_width)),
            0.03 * subject_height,
        )
        contact = _ellipse(
            size,
            (centre_x, floor_y),
            (half_width * 0.97, max(1.0, 0.01 * subject_height)),
            0.006 * subject_height + 0.5,
        )
        shade: np.ndarray = 1.0 - (1.0 - 0.75 * ambient) * (1.0 - 0.9 * contact)
    else:
        # Light from the front-left: the shadow falls a little right and down onto the backdrop.
        offset = np.array([[1, 0, 0.015 * subject_height], [0, 1, 0.02 * subject_height]], np.float64)
        moved = cv2.warpAffine(small, offset, size, borderMode=cv2.BORDER_REPLICATE)
        shade = 0.6 * cv2.GaussianBlur(moved, (0, 0), 0.035 * subject_height)
    shade = np.clip(shade * strength * 1.4, 0.0, 0.95).astype(np.float32)
    return cv2.resize(shade, (width, height), interpolation=cv2.INTER_LINEAR)
