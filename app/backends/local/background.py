"""New backgrounds: flat colours, gradients, another image, and portrait-mode blur, plus compositing.

All canvases are made at the output size. Gradients are computed in floating point and dithered before
rounding, so wide smooth ramps show no banding. Portrait blur excludes the subject from the blur
(normalised convolution), so no halo of the subject's colours bleeds into the blurred background.
"""

from __future__ import annotations

import cv2
import numpy as np
from PIL import Image

# Blur radius (Gaussian sigma) at strength 1.0, as a share of the image diagonal.
PORTRAIT_SIGMA = 0.02
# Defocus of an image backdrop, as a share of the diagonal.
BACKDROP_SIGMA = 0.0025


def solid(size: tuple[int, int], colour: tuple[int, int, int]) -> np.ndarray:
    """A flat H×W×3 canvas of one colour."""
    width, height = size
    canvas = np.empty((height, width, 3), np.uint8)
    canvas[:] = colour
    return canvas


def _srgb_to_linear(values: np.ndarray) -> np.ndarray:
    return np.where(values <= 0.04045, values / 12.92, ((values + 0.055) / 1.055) ** 2.4)


def _linear_to_srgb(values: np.ndarray) -> np.ndarray:
    values = np.clip(values, 0.0, 1.0)
    return np.where(values <= 0.0031308, values * 12.92, 1.055 * values ** (1 / 2.4) - 0.055)


def gradient(
    size: tuple[int, int], start: tuple[int, int, int], end: tuple[int, int, int], direction: str = "vertical"
) -> np.ndarray:
    """A two-colour gradient (vertical: top to bottom; horizontal: left to right; diagonal; radial: centre out)."""
    width, height = size
    ys = np.linspace(0.0, 1.0, height, dtype=np.float32)[:, None]
    xs = np.linspace(0.0, 1.0, width, dtype=np.float32)[None, :]
    t: np.ndarray
    if direction == "horizontal":
        t = np.broadcast_to(xs, (height, width))
    elif direction == "diagonal":
        t = (xs + ys) / 2
    elif direction == "radial":
        aspect = width / max(1, height)
        t = np.sqrt(((xs - 0.5) * aspect) ** 2 + (ys - 0.5) ** 2)
        t = t / t.max()
    else:
        t = np.broadcast_to(ys, (height, width))
    # Blend in linear light (no muddy middle), back to sRGB, then dither by half a level before rounding.
    a = _srgb_to_linear(np.array(start, np.float32) / 255.0)
    b = _srgb_to_linear(np.array(end, np.float32) / 255.0)
    t = np.ascontiguousarray(t, dtype=np.float32)
    canvas = np.empty((height, width, 3), np.uint8)
    rng = np.random.default_rng(0)
    rows = max(1, 4_000_000 // max(1, width))
    for top in range(0, height, rows):
        band = t[top : top + rows, :, None]
        srgb = _linear_to_srgb(a + (b - a) * band) * 255.0
        noise = rng.random(srgb.shape[:2], dtype=np.float32)[..., None] - 0.5
        canvas[top : top + rows] = np.clip(np.round(srgb + noise), 0, 255).astype(np.uint8)
    return canvas


def image_backdrop(image: Image.Image, size: tuple[int, int], resample: Image.Resampling) -> np.ndarray:
    """Another picture cover-fitted to the output size and lightly defocused, so the subject stands out."""
    width, height = size
    source = image.convert("RGB")
    scale = max(width / source.width, height / source.height)
    crop_w, crop_h = width / scale, height / scale
    left, top = (source.width - crop_w) / 2, (source.height - crop_h) / 2
    fitted = np.asarray(source.resize(size, resample, box=(left, top, left + crop_w, top + crop_h), reducing_gap=3.0))
    sigma = BACKDROP_SIGMA * float(np.hypot(width, height))
    return cv2.GaussianBlur(fitted, (0, 0), sigma) if sigma >= 0.5 else fitted.copy()


def portrait_blur(photo: np.ndarray, alpha: np.ndarray, strength: float) -> np.ndarray:
    """The photo's background blurred as by a wide aperture, with the subject's colours kept out of it."""
    height, width = alpha.shape
    sigma = max(1.0, strength * PORTRAIT_SIGMA * float(np.hypot(width, height)))
    # Blur at a reduced scale where the kernel is a few pixels wide: same look, a fraction of the work.
    scale = min(1.0, 6.0 / sigma)
    small_size = (max(8, round(width * scale)), max(8, round(height * scale)))
    small = cv2.resize(photo, small_size, interpolation=cv2.INTER_AREA).astype(np.float32)
    small_alpha = cv2.resize(alpha, small_size, interpolation=cv2.INTER_AREA)
    # Weigh out the subject and a little around it (its soft edge still carries its colour).
    weight = np.clip(1.0 - small_alpha * 1.5, 0.0, 1.0) ** 2
    small_sigma = sigma * small_size[0] / width
    numerator = cv2.GaussianBlur(small * weight[..., None], (0, 0), small_sigma)
    denominator = cv2.GaussianBlur(weight, (0, 0), small_sigma)
    # Where the subject covers everything nearby, borrow from a wider neighbourhood.
    wide_numerator = cv2.GaussianBlur(small * weight[..., None], (0, 0), small_sigma * 4)
    wide_denominator = cv2.GaussianBlur(weight, (0, 0), small_sigma * 4)
    trust = np.clip(denominator / 0.2, 0.0, 1.0)[..., None]
    blurred = (
        trust * numerator / np.maximum(denominator, 1e-4)[..., None]
        + (1 - trust) * wide_numerator / np.maximum(wide_denominator, 1e-4)[..., None]
    )
    blurred = np.clip(blurred, 0, 255).astype(np.uint8)
    return cv2.resize(blurred, (width, height), interpolation=cv2.INTER_CUBIC)


def composite(foreground: np.ndarray, background: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """alpha·foreground + (1 − alpha)·background, uint8 in, uint8 out."""
    alpha = np.ascontiguousarray(alpha, dtype=np.float32)
    return cv2.blendLinear(foreground, background, alpha, 1.0 - alpha)


def darken(canvas: np.ndarray, shade: np.ndarray) -> np.ndarray:
    """The canvas darkened by `shade` (0..1 per pixel: 0 leaves it, 1 makes it black)."""
    black = np.zeros_like(canvas)
    shade = np.ascontiguousarray(shade, dtype=np.float32)
    return cv2.blendLinear(black, canvas, shade, 1.0 - shade)
