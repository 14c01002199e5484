"""Portrait mode, measured: the face keeps its sharpness, the background loses most of its detail."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from app.backends.local.person import PersonFinder
from tests.backends.local.conftest import photo

pytestmark = pytest.mark.nodb


def detail(image: np.ndarray, box: tuple[int, int, int, int]) -> float:
    """Variance of the Laplacian (a standard focus measure) inside a box."""
    x0, y0, x1, y1 = box
    grey = cv2.cvtColor(np.ascontiguousarray(image[y0:y1, x0:x1]), cv2.COLOR_RGB2GRAY).astype(np.float32)
    return float(cv2.Laplacian(grey, cv2.CV_32F).var())


@pytest.mark.parametrize("name", ["astronaut.png", "grace_hopper.jpg"])
def test_portrait_blur_keeps_the_face_and_blurs_the_background(edit, model_dir, name):
    source = photo(name)
    original = np.asarray(source)
    result = edit("blur the background", [source], quality="medium")
    blurred = np.asarray(result.image)
    assert blurred.shape == original.shape

    face = PersonFinder(model_dir).faces(original)[0]
    x0, y0, x1, y1 = face.box
    inset = (x0 + (x1 - x0) // 5, y0 + (y1 - y0) // 5, x1 - (x1 - x0) // 5, y1 - (y1 - y0) // 5)
    # Background: the top corners beside the head, outside the person by a margin.
    width = original.shape[1]
    left = (0, 0, max(8, x0 - (x1 - x0)), y0)
    right = (min(width - 8, x1 + (x1 - x0)), 0, width, y0)

    assert detail(blurred, inset) >= 0.85 * detail(original, inset)
    for box in (left, right):
        assert detail(blurred, box) <= 0.3 * detail(original, box)


def test_stronger_portrait_blur_removes_more_detail(edit):
    source = photo("astronaut.png")
    box = (0, 0, 90, 250)  # the flag
    light = np.asarray(edit("blur the background slightly", [source]).image)
    strong = np.asarray(edit("blur the background a lot", [source]).image)
    assert detail(strong, box) < detail(light, box) < detail(np.asarray(source), box)
