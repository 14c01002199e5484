"""Quality levels make a visible, measured difference, and a higher level is never worse."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from PIL import Image

from app.backends.local.quality import QUALITIES
from tests.backends.local.conftest import photo, pixels, studio_product_with_coverage

pytestmark = pytest.mark.nodb


@pytest.fixture(scope="module")
def cutouts(backend):
    """The synthetic product cut out at each level, upscaled 2× (edges matter most when enlarged)."""
    from app.backends.base import EditRequest

    image, coverage = studio_product_with_coverage((900, 700))
    truth = cv2.resize(coverage.astype(np.float32), (1800, 1400), interpolation=cv2.INTER_LINEAR)
    out = {}
    for level in QUALITIES:
        result = backend.edit(
            EditRequest(images=[image], prompt="remove the background", quality=level, width=1800, height=1400)
        )
        out[level] = (pixels(result.image)[..., 3] / 255.0, result.plan, pixels(result.image)[..., :3])
    return out, truth


def edge_error(alpha: np.ndarray, truth: np.ndarray) -> float:
    """Mean alpha error within 6 px of the true edge."""
    solid = (truth > 0.5).astype(np.uint8)
    band = cv2.dilate(solid, np.ones((13, 13), np.uint8)) != cv2.erode(solid, np.ones((13, 13), np.uint8))
    return float(np.abs(alpha - truth)[band].mean())


def test_edges_improve_with_quality(cutouts):
    results, truth = cutouts
    errors = {level: edge_error(results[level][0], truth) for level in QUALITIES}
    assert errors["medium"] < errors["low"] * 0.9
    assert errors["high"] <= errors["medium"] * 1.02


def test_levels_report_their_resampling(edit):
    reduced = {level: edit("just resize it", [photo("astronaut.png")], width=256, height=256, quality=level).plan
               for level in QUALITIES}
    assert reduced["low"][-1] == "Output at 256×256 (bilinear resampling)"
    assert reduced["medium"][-1] == "Output at 256×256 (bicubic resampling)"
    assert reduced["high"][-1] == "Output at 256×256 (Lanczos resampling)"


def test_enlarging_a_lot_is_smooth_at_every_level_and_says_so(cutouts, edit):
    # 900×700 → 1800×1400 is 2× enlargement: bilinear would show the source pixel grid, Lanczos would ring.
    results, _ = cutouts
    for level in QUALITIES:
        assert results[level][1][-1] == "Output at 1800×1400 (bicubic resampling)"


def test_higher_levels_keep_more_detail_when_resizing(edit):
    source = photo("astronaut.png")
    detail = {}
    for level in QUALITIES:
        array = pixels(edit("just resize it", [source], width=768, height=768, quality=level).image)
        grey = cv2.cvtColor(array.astype(np.uint8), cv2.COLOR_RGB2GRAY).astype(np.float32)
        detail[level] = float(cv2.Laplacian(grey, cv2.CV_32F).var())
    assert detail["low"] < detail["medium"] <= detail["high"] * 1.05


def test_levels_differ_visibly(cutouts):
    results, _ = cutouts
    low, medium = results["low"][0], results["medium"][0]
    assert np.abs(low - medium).max() > 0.5  # the edge itself
    colour = {level: results[level][2] for level in QUALITIES}
    assert np.abs(colour["medium"] - colour["high"]).max() > 2  # sharpening differs
    Image.fromarray((low * 255).astype(np.uint8))  # decodable as an image


def grid_streaks(array: np.ndarray, step: int) -> float:
    """How much sharper the tone curve bends at the source pixels' centres than between them (1.0: no grid).

    Bilinear enlargement is piecewise linear, so all of its bending sits on a grid at the source pixels,
    which shows as streaks; a smooth filter bends evenly.
    """
    grey = array.astype(np.float32).mean(-1)
    bend = np.abs(np.diff(grey, n=2, axis=1)).mean(0)
    near = np.zeros(bend.size, bool)
    for k in range(1, array.shape[1] // step - 1):
        centre = round((k + 0.5) * step - 0.5) - 1
        near[centre - 1 : centre + 2] = True
    return float(bend[near].mean() / bend[~near].mean())


@pytest.mark.parametrize("level", list(QUALITIES))
def test_a_tiny_picture_enlarged_a_lot_shows_no_pixel_grid(edit, level):
    tiny = Image.fromarray(np.random.default_rng(0).integers(0, 255, (16, 16, 3)).astype(np.uint8))
    result = edit("just resize it", [tiny], width=960, height=960, quality=level)
    assert grid_streaks(pixels(result.image), 60) < 1.2
    assert result.plan[-1] == "Output at 960×960 (bicubic resampling)"
    # The measure does see a grid where there is one.
    assert grid_streaks(np.asarray(tiny.resize((960, 960), Image.Resampling.BILINEAR)), 60) > 1.4
