"""Colour and tone operations on RGB uint8 pixels.

Each operation is prepared once from the picture (some need its statistics) and returns a transform, a
function from pixels to pixels that works on any uint8 array of shape (..., 3). The engine applies the same
transform to the photo and to the cleaned-up colours of the subject's edge, so both stay consistent.
Most transforms are per-channel lookup tables: fast at 4K and free of banding. Definitions, so that the
percentages in a plan mean something:

- brightness +N%: mid-grey becomes N% brighter (a gamma curve, black and white points stay);
- contrast +N%: the tone curve's slope at mid-grey grows by N% (an S-curve, no clipping); -N%: it shrinks;
- saturation ±N%: colour distance from grey scales by 1 ± N;
- warmth ±N%: red lifted and blue lowered (or the reverse) by gamma curves, whites stay white;
- tint ±N%: green lowered (toward magenta) or raised (toward green) the same way;
- white balance: the colour of the light is measured ("shades of grey") and neutralised by per-channel
  gains, all of the cast or only its part toward a named colour ("remove the yellow tint");
- matching image N: mean and spread of each Lab channel moved toward image N's (Reinhard's transfer).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import cv2
import numpy as np

Transform = Callable[[np.ndarray], np.ndarray]

LUMA = np.array([0.2126, 0.7152, 0.0722], np.float32)
_X = np.arange(256, dtype=np.float32) / 255.0


def _lut(values: np.ndarray) -> np.ndarray:
    return np.clip(np.round(values * 255.0), 0, 255).astype(np.uint8)


def _apply_luts(pixels: np.ndarray, red: np.ndarray, green: np.ndarray, blue: np.ndarray) -> np.ndarray:
    table = np.stack([red, green, blue], axis=1)[None]  # 1×256×3: one table per channel
    flat = pixels.reshape(-1, 1, 3) if pixels.ndim != 3 else pixels
    result = cv2.LUT(np.ascontiguousarray(flat), table)
    return result.reshape(pixels.shape)


def _per_channel(lut: np.ndarray) -> Transform:
    return lambda pixels: _apply_luts(pixels, lut, lut, lut)


def brightness(amount: float) -> Transform:
    """Raise (amount > 0) or lower mid-tones: mid-grey moves by `amount` (0.2 = 20%)."""
    target = min(0.97, max(0.03, 0.5 * (1.0 + amount)))
    gamma = math.log(target) / math.log(0.5)
    return _per_channel(_lut(_X**gamma))


def _sigmoid_curve(slope: float) -> np.ndarray:
    # Find the steepness k whose normalised logistic curve has `slope` at mid-grey.
    def curve(k: float, x: np.ndarray) -> np.ndarray:
        low, high = 1 / (1 + math.exp(k / 2)), 1 / (1 + math.exp(-k / 2))
        return (1 / (1 + np.exp(-k * (x - 0.5))) - low) / (high - low)

    def mid_slope(k: float) -> float:
        low, high = 1 / (1 + math.exp(k / 2)), 1 / (1 + math.exp(-k / 2))
        return (k / 4) / (high - low)

    lo_k, hi_k = 1e-3, 40.0
    for _ in range(60):
        mid = (lo_k + hi_k) / 2
        if mid_slope(mid) < slope:
            lo_k = mid
        else:
            hi_k = mid
    return curve((lo_k + hi_k) / 2, _X)


def contrast(amount: float) -> Transform:
    """More (S-curve) or less (toward mid-grey) contrast; amount 0.2 = 20% steeper at mid-grey."""
    values = _sigmoid_curve(1.0 + amount) if amount >= 0 else 0.5 + (_X - 0.5) * (1.0 + amount)
    return _per_channel(_lut(values))


def saturation(amount: float) -> Transform:
    """Scale each pixel's distance from its grey by 1 + amount."""
    factor = 1.0 + amount

    def apply(pixels: np.ndarray) -> np.ndarray:
        grey = luminance(pixels)
        grey3 = np.repeat(grey[..., None], 3, axis=-1)
        return cv2.addWeighted(pixels, factor, grey3, 1.0 - factor, 0.0)

    return apply


def warmth(amount: float) -> Transform:
    """Warmer (amount > 0: more red and yellow) or cooler; whites and blacks stay where they are."""
    red = _lut(_X ** (1.0 - 0.35 * amount))
    green = _lut(_X ** (1.0 - 0.08 * amount))
    blue = _lut(_X ** (1.0 + 0.45 * amount))
    return lambda pixels: _apply_luts(pixels, red, green, blue)


def tint(amount: float) -> Transform:
    """Toward magenta (amount > 0: less green) or toward green; whites and blacks stay where they are."""
    red = _lut(_X ** (1.0 - 0.1 * amount))
    green = _lut(_X ** (1.0 + 0.4 * amount))
    blue = _lut(_X ** (1.0 - 0.1 * amount))
    return lambda pixels: _apply_luts(pixels, red, green, blue)


def _to_linear(values: np.ndarray) -> np.ndarray:
    return np.where(values <= 0.04045, values / 12.92, ((values + 0.055) / 1.055) ** 2.4)


def _to_srgb(values: np.ndarray) -> np.ndarray:
    values = np.clip(values, 0.0, 1.0)
    return np.where(values <= 0.0031308, values * 12.92, 1.055 * values ** (1 / 2.4) - 0.055)


def illuminant(photo: np.ndarray) -> np.ndarray:
    """The colour of the light in a photo (linear RGB, 3 floats), by "shades of grey" (Finlayson and
    Trezzi): a high-order mean of the brighter, unclipped pixels, which neutral surfaces dominate."""
    sample = _sample(photo).astype(np.float32) / 255.0
    linear = _to_linear(sample)
    lum = linear @ LUMA
    usable = (sample.max(axis=1) < 0.98) & (lum > np.percentile(lum, 30))
    if usable.sum() < 64:
        usable = np.ones(len(sample), bool)
    return np.asarray((linear[usable] ** 6).mean(axis=0) ** (1 / 6), np.float32) + 1e-6


def white_balance(
    photo: np.ndarray, direction: tuple[float, float] | None = None, strength: float = 1.0
) -> Transform:
    """Neutralise the colour cast of the light: all of it, or only its part toward `direction` (a unit
    (a, b) vector in Lab, e.g. yellow's), by `strength`. Per-channel gains in linear light, with a
    shoulder that keeps pure white white; the light's brightness is kept."""
    light = illuminant(photo)
    level = float(light @ LUMA)
    if direction is None:
        target = np.full(3, level, np.float32)
    else:
        shown = _to_srgb(light / max(float(light.max()), 1e-6)).astype(np.float32)
        lab = cv2.cvtColor(shown[None, None, :], cv2.COLOR_RGB2Lab)[0, 0]
        along = float(lab[1] * direction[0] + lab[2] * direction[1])
        if along <= 0:
            return lambda pixels: pixels  # no cast that way: nothing to neutralise
        lab[1] -= along * direction[0]
        lab[2] -= along * direction[1]
        rgb = _to_linear(cv2.cvtColor(lab[None, None, :].astype(np.float32), cv2.COLOR_Lab2RGB)[0, 0])
        target = np.asarray(rgb * level / max(float(rgb @ LUMA), 1e-6), np.float32)
    gains = np.clip(target / light, 0.5, 2.0) ** float(strength)
    linear_x = _to_linear(_X)
    tables = [
        _lut(_to_srgb(gain * linear_x + (1.0 - gain) * linear_x**8)) for gain in (float(g) for g in gains)
    ]
    return lambda pixels: _apply_luts(pixels, tables[0], tables[1], tables[2])


def luminance(pixels: np.ndarray) -> np.ndarray:
    """Rec. 709 luma of RGB uint8 pixels, as uint8 with the pixels' shape minus the channel axis."""
    flat = pixels.reshape(-1, 1, 3)
    grey = cv2.transform(flat, LUMA[None, :])
    return grey.reshape(pixels.shape[:-1])


def black_and_white() -> Transform:
    """Luminance only."""

    def apply(pixels: np.ndarray) -> np.ndarray:
        return np.repeat(luminance(pixels)[..., None], 3, axis=-1)

    return apply


# Sepia: luminance mapped onto a warm brown ramp (shadows, mid-tones, highlights).
_SEPIA_STOPS = np.array([[0.0, 22, 14, 8], [0.5, 160, 122, 84], [1.0, 255, 246, 226]], np.float32)


def sepia(strength: float) -> Transform:
    """A warm brown monochrome, mixed with the original by `strength`."""
    ramp = np.stack([np.interp(_X, _SEPIA_STOPS[:, 0], _SEPIA_STOPS[:, c]) for c in (1, 2, 3)], axis=1)
    ramp_u8 = np.clip(np.round(ramp), 0, 255).astype(np.uint8)

    def apply(pixels: np.ndarray) -> np.ndarray:
        toned = ramp_u8[luminance(pixels)]
        if strength >= 1.0:
            return toned
        return cv2.addWeighted(pixels, 1.0 - strength, toned, strength, 0.0)

    return apply


def _sample(pixels: np.ndarray, limit: int = 400_000) -> np.ndarray:
    flat = pixels.reshape(-1, 3)
    step = max(1, flat.shape[0] // limit)
    return flat[::step]


def auto_levels(photo: np.ndarray) -> Transform:
    """Stretch so that the darkest 0.5% and brightest 0.5% of luminance reach black and white."""
    grey = luminance(_sample(photo)[:, None, :]).ravel()
    low, high = np.percentile(grey, [0.5, 99.5])
    if high - low < 10:
        return lambda pixels: pixels
    values = np.clip((_X * 255.0 - low) / (high - low), 0.0, 1.0)
    return _per_channel(_lut(values))


def _lab_stats(pixels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    lab = cv2.cvtColor(_sample(pixels)[:, None, :], cv2.COLOR_RGB2Lab).reshape(-1, 3).astype(np.float32)
    return lab.mean(0), lab.std(0) + 1e-3


def _lab_transform(luts: list[np.ndarray]) -> Transform:
    table = np.stack(luts, axis=1)[None]

    def apply(pixels: np.ndarray) -> np.ndarray:
        shape = pixels.shape
        flat = np.ascontiguousarray(pixels.reshape(-1, 1, 3)) if pixels.ndim != 3 else pixels
        lab = cv2.cvtColor(flat, cv2.COLOR_RGB2Lab)
        mapped = cv2.LUT(lab, table)
        return cv2.cvtColor(mapped, cv2.COLOR_Lab2RGB).reshape(shape)

    return apply


def match_colours(photo: np.ndarray, reference: np.ndarray, strength: float) -> Transform:
    """Move the photo's Lab mean and spread toward the reference's (Reinhard), by `strength`."""
    source_mean, source_std = _lab_stats(photo)
    target_mean, target_std = _lab_stats(reference)
    levels = np.arange(256, dtype=np.float32)
    luts = []
    for channel in range(3):
        # The spread ratio is bounded: matching a flat reference must not blow up the photo's contrast.
        ratio = float(np.clip(target_std[channel] / source_std[channel], 0.5, 2.0))
        mapped = (levels - source_mean[channel]) * ratio + target_mean[channel]
        luts.append(np.clip(np.round(levels + strength * (mapped - levels)), 0, 255).astype(np.uint8))
    return _lab_transform(luts)


def nudge_toward(subject: np.ndarray, backdrop: np.ndarray, strength: float = 0.15) -> Transform:
    """Shift the subject's average colour (not its contrast) a little toward a backdrop's.

    The shift is small and capped (a few Lab units): enough for the subject to share the scene's light,
    never enough to recolour it (a cream label must not turn pink in front of a red scene).
    """
    source_mean, _ = _lab_stats(subject)
    target_mean, _ = _lab_stats(backdrop)
    levels = np.arange(256, dtype=np.float32)
    caps = (5.0, 3.0, 3.0)
    luts = []
    for channel in range(3):
        shift = float(np.clip(strength * (target_mean[channel] - source_mean[channel]), -caps[channel], caps[channel]))
        luts.append(np.clip(np.round(levels + shift), 0, 255).astype(np.uint8))
    return _lab_transform(luts)


def denoise(photo: np.ndarray) -> np.ndarray:
    """A light, edge-preserving noise reduction (a bilateral filter scaled to the picture's size)."""
    long_edge = max(photo.shape[:2])
    sigma_space = max(2.0, long_edge / 900)
    return cv2.bilateralFilter(photo, d=0, sigmaColor=24, sigmaSpace=sigma_space)


def sharpen(pixels: np.ndarray, amount: float, radius: float) -> np.ndarray:
    """Unsharp masking: add back `amount` times the detail finer than `radius` pixels."""
    if amount <= 0:
        return pixels
    blurred = cv2.GaussianBlur(pixels, (0, 0), max(0.3, radius))
    return cv2.addWeighted(pixels, 1.0 + amount, blurred, -amount, 0.0)
