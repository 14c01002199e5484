"""The before/after slider compares like with like: for a crop, "before" is the whole original with what was
cut away dimmed and the kept frame outlined, and the result lies exactly over the part it came from; for an
extend, the original sits where it lies in the new canvas. Run with the offline engine, which records the
kept frame, on the editor's result panel and on the edit's page, at desktop and phone widths."""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import pytest
from PIL import Image

from tests.browser import screenshot
from tests.conftest import FIXTURES, create_user
from tests.web.test_editor_browser import log_in, wait_until

pytestmark = pytest.mark.browser

COFFEE = (600, 400)
LOADED = ("[...document.querySelectorAll('.compare img')].every(i => i.complete && i.naturalWidth > 0)")


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"edit_backend": "local"}


def boxes(page: Any) -> dict[str, dict[str, float]]:
    """Where the slider draws the original, the result, the kept outline and itself, in CSS pixels."""
    return page.evaluate(
        """() => Object.fromEntries(Object.entries({
            root: '.compare', before: '.compare .before img', after: '.compare img.after', kept: '.compare .kept',
        }).map(([name, selector]) => {
            const r = document.querySelector(selector).getBoundingClientRect();
            return [name, { x: r.x, y: r.y, width: r.width, height: r.height }];
        }))"""
    )


def close(a: float, b: float, tolerance: float = 1.5) -> bool:
    return abs(a - b) <= tolerance


def assert_crop_drawn_honestly(page: Any, frame: dict[str, float]) -> None:
    drawn = boxes(page)
    before, after, kept, root = drawn["before"], drawn["after"], drawn["kept"], drawn["root"]
    # The whole original, in its own shape, fully visible in the slider: nothing of it is cropped.
    assert close(before["width"] / before["height"], COFFEE[0] / COFFEE[1], 0.02)
    assert before["x"] >= root["x"] - 1 and before["y"] >= root["y"] - 1
    assert before["x"] + before["width"] <= root["x"] + root["width"] + 1
    assert before["y"] + before["height"] <= root["y"] + root["height"] + 1
    # The result lies over the part of the original it came from, and that part is outlined.
    assert close(after["width"] / after["height"], 16 / 9, 0.02)
    assert close(after["x"], before["x"] + frame["x"] * before["width"])
    assert close(after["y"], before["y"] + frame["y"] * before["height"])
    assert close(after["width"], frame["width"] * before["width"])
    for key in ("x", "y", "width", "height"):
        assert close(kept[key], after[key]), (key, kept, after)
    # What the crop cut away is shown, dimmed: the strip of the original below the kept frame.
    shot = np.asarray(Image.open(io.BytesIO(page.locator(".compare").screenshot())).convert("L"), np.float32)
    scale = shot.shape[1] / root["width"]
    strip_top = round((kept["y"] + kept["height"] - root["y"]) * scale) + 3
    strip = shot[strip_top : round((before["y"] + before["height"] - root["y"]) * scale) - 1, 5:-5]
    assert strip.size > 0, "nothing of the original is shown below the kept frame"
    original = np.asarray(Image.open(FIXTURES / "coffee.png").convert("L"), np.float32)
    cut_away = original[round((frame["y"] + frame["height"]) * COFFEE[1]) :]
    assert 0.15 * cut_away.mean() < strip.mean() < 0.6 * cut_away.mean()


def test_the_before_of_a_crop_is_the_whole_original_with_the_kept_frame_marked(live_server, page_for, context):
    create_user(context, email="framer@example.com", password="a good password", credits=20)
    page = page_for(1280, 900)
    log_in(page, live_server.url, "framer@example.com")
    page.set_input_files("#file-input", str(FIXTURES / "coffee.png"))
    page.fill("#prompt", "Make it a YouTube thumbnail")
    wait_until(page, "document.querySelector('#size-line').textContent.includes('1024 × 576')")
    wait_until(page, "document.querySelector('#generate').getAttribute('aria-disabled') !== 'true'"
                     " && !document.querySelector('#generate').disabled")
    page.locator("#generate").click()
    page.wait_for_selector(".compare[data-layout=crop]", timeout=60_000)
    wait_until(page, LOADED)
    edit_url = page.locator("#details").get_attribute("href")
    edit = page.evaluate(f"fetch('/api/v1{edit_url}').then(r => r.json())")
    frame = edit["usage"]["frame"]
    assert frame["x"] == 0 and frame["width"] == 1 and 0 <= frame["y"] < frame["y"] + frame["height"] < 1
    assert_crop_drawn_honestly(page, frame)
    screenshot(page, "compare-crop-editor-desktop")
    page.set_viewport_size({"width": 375, "height": 812})
    wait_until(page, "document.documentElement.scrollWidth <= 375")
    page.locator(".compare").scroll_into_view_if_needed()
    assert_crop_drawn_honestly(page, frame)
    screenshot(page, "compare-crop-editor-phone", full_page=False)
    page.set_viewport_size({"width": 1280, "height": 900})

    page.goto(live_server.url + edit_url)
    page.wait_for_selector(".compare[data-layout=crop]")
    wait_until(page, LOADED)
    assert_crop_drawn_honestly(page, frame)
    screenshot(page, "compare-crop-detail-desktop")
    page.set_viewport_size({"width": 375, "height": 812})
    wait_until(page, "document.documentElement.scrollWidth <= 375")
    page.locator(".compare").scroll_into_view_if_needed()
    assert_crop_drawn_honestly(page, frame)
    screenshot(page, "compare-crop-detail-phone", full_page=False)

    # An extend: the result fills the canvas and the original sits where it lies in it, outlined.
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(live_server.url + "/edit")
    page.set_input_files("#file-input", str(FIXTURES / "coffee.png"))
    page.fill("#prompt", "YouTube thumbnail without cropping")
    wait_until(page, "document.querySelector('#size-line').textContent.includes('1024 × 576')")
    page.locator("#generate").click()
    page.wait_for_selector(".compare[data-layout=extend]", timeout=60_000)
    wait_until(page, LOADED)
    drawn = boxes(page)
    before, after, kept = drawn["before"], drawn["after"], drawn["kept"]
    assert close(after["width"], drawn["root"]["width"]) and close(after["height"], drawn["root"]["height"])
    assert close(before["height"], after["height"]) and before["width"] < after["width"] - 20
    assert close(before["x"] - after["x"], after["x"] + after["width"] - before["x"] - before["width"])
    for key in ("x", "y", "width", "height"):
        assert close(kept[key], before[key]), (key, kept, before)
    screenshot(page, "compare-extend-editor-desktop")
