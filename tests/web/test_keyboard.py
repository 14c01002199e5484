"""The editor by keyboard alone, from the skip link to the download, at 100% and at 200% zoom: after every
step the test says which element has focus, that its focus ring shows and that nothing covers it."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser import screenshot
from tests.conftest import FIXTURES, create_user
from tests.web.test_editor_browser import log_in, wait_until

pytestmark = pytest.mark.browser

FOCUSED = """() => {
    const el = document.activeElement;
    return { id: el.id, tag: el.tagName.toLowerCase(), name: el.getAttribute('name'), type: el.getAttribute('type'),
             label: el.getAttribute('aria-label') || el.textContent.trim().slice(0, 60), value: el.value ?? null,
             cls: el.className || '' };
}"""

# Focus is visible: an outline or a ring on the element itself or on the control that draws it for it
# (the drop zone for its hidden file input, the slider's frame, a radio's segment).
RING_SHOWN = """() => {
    const el = document.activeElement;
    const drawn = el.closest('.dropzone') || el.closest('.compare')
        || (el.matches('.segmented input') ? el.nextElementSibling : el);
    const style = getComputedStyle(drawn);
    return (style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) >= 2) || style.boxShadow.includes('px');
}"""

# Not hidden under the sticky header (WCAG 2.4.11): what is at the element's centre is the element or its part.
NOT_COVERED = """() => {
    const el = document.activeElement;
    const target = el.closest('.dropzone') || el.closest('.compare')
        || (el.matches('.segmented input') ? el.parentElement : el);
    const r = target.getBoundingClientRect();
    const x = Math.min(Math.max(r.left + r.width / 2, 0), innerWidth - 1);
    const y = Math.min(Math.max(r.top + Math.min(r.height / 2, 12), 0), innerHeight - 1);
    const hit = document.elementFromPoint(x, y);
    return Boolean(hit) && (target.contains(hit) || hit.contains(target) || hit === target);
}"""


def focused(page: Any) -> dict[str, Any]:
    return page.evaluate(FOCUSED)


def tab(page: Any, shot: str | None = None, *, back: bool = False) -> dict[str, Any]:
    page.keyboard.press("Shift+Tab" if back else "Tab")
    return settled(page, shot)


def settled(page: Any, shot: str | None = None) -> dict[str, Any]:
    assert page.evaluate(RING_SHOWN), f"no visible focus ring on {focused(page)}"
    assert page.evaluate(NOT_COVERED), f"focused element is covered: {focused(page)}"
    if shot:
        screenshot(page, shot, full_page=False)
    return focused(page)


@pytest.mark.parametrize("zoom", [1, 2], ids=["100pct", "200pct"])
def test_editor_by_keyboard_alone(live_server, chromium, context, tmp_path, zoom):
    create_user(context, email=f"keys{zoom}@example.com", password="a good password", credits=20)
    # 200% zoom = half the CSS pixels at twice the density, as a browser's zoom does on a 1280×900 window.
    browser_context = chromium.new_context(viewport={"width": 1280 // zoom, "height": 900 // zoom},
                                           device_scale_factor=zoom, accept_downloads=True)
    try:
        page = browser_context.new_page()
        page.set_default_timeout(20_000)
        walk(page, live_server.url, zoom, tmp_path)
    finally:
        browser_context.close()


def walk(page: Any, base: str, zoom: int, tmp_path: Any) -> None:
    z = f"{zoom * 100}pct"
    log_in(page, base, f"keys{zoom}@example.com")
    page.evaluate("document.activeElement.blur()")

    # The skip link is the first stop and shows above the header.
    step = tab(page, f"focus-skip-{z}")
    assert step["cls"] == "skip" and step["label"] == "Skip to content"
    page.keyboard.press("Enter")
    step = tab(page)
    assert step["tag"] == "a" and step["label"] == "What can I ask for?"

    # The drop zone: its file input takes focus and the zone shows the ring.
    step = tab(page, f"focus-dropzone-{z}")
    assert step["id"] == "file-input"
    # Space or Enter here opens the system's file dialog, which is the browser's and not ours (and does not
    # open reliably under automation): the files are handed to the focused input as that dialog would.
    page.locator("#file-input").set_input_files([str(FIXTURES / "coffee.png"), str(FIXTURES / "grace_hopper.jpg")])
    wait_until(page, "document.querySelectorAll('#thumbs li').length === 2")
    assert focused(page)["id"] == "file-input"

    # The first image cannot move earlier: that button is skipped; "later" moves it and focus stays with it.
    step = tab(page, f"focus-thumb-{z}")
    assert step["label"] == "Move coffee.png later"
    page.keyboard.press("Enter")
    wait_until(page, "document.querySelector('#thumbs li img').alt === 'grace_hopper.jpg'")
    assert focused(page)["label"] == "Move coffee.png earlier"  # "later" is disabled at the end
    wait_until(page, "document.querySelector('#editor-announce').textContent"
                     ".includes('coffee.png is now image 2 of 2')")

    # Remove it: focus goes to the image before it (the only one left).
    step = tab(page)
    assert step["label"] == "Remove coffee.png"
    page.keyboard.press("Enter")
    wait_until(page, "document.querySelectorAll('#thumbs li').length === 1")
    assert settled(page)["label"] == "Remove grace_hopper.jpg"

    # Generate cannot be used yet, but it keeps its place in the Tab order and says why.
    step = tab(page)
    assert step["id"] == "prompt"
    page.keyboard.type("Make it brighter")

    step = tab(page, f"focus-radio-{z}")
    assert (step["name"], step["value"]) == ("quality", "medium")
    page.keyboard.press("ArrowLeft")
    assert (focused(page)["name"], focused(page)["value"]) == ("quality", "low")
    assert page.locator("input[name=quality][value=low]").is_checked()
    assert tab(page)["name"] == "resolution"
    assert tab(page)["id"] == "aspect-ratio"
    assert tab(page)["name"] == "output_format"
    step = tab(page, f"focus-generate-{z}")
    assert step["id"] == "generate"
    wait_until(page, "document.querySelector('#generate').getAttribute('aria-disabled') === 'false'")
    assert page.locator("#generate").get_attribute("aria-describedby") == "why"

    # Generate: focus moves to the new edit's status, then to the Result heading when it is done.
    page.keyboard.press("Enter")
    wait_until(page, "['progress-title', 'result-title'].includes(document.activeElement.id)", timeout=30)
    page.wait_for_selector("#result-actions:not([hidden])", timeout=60_000)
    wait_until(page, "document.activeElement.id === 'result-title'", timeout=10)
    wait_until(page, "document.querySelector('#edit-status-line').textContent.startsWith('Edit finished')")

    # The before/after slider: a range input, with its frame showing focus; arrows move it.
    step = tab(page, f"focus-slider-{z}")
    assert step["type"] == "range" and step["label"] == "Compare before and after"
    page.keyboard.press("ArrowRight")
    assert float(focused(page)["value"]) > 50
    screenshot(page, f"focus-slider-moved-{z}", full_page=False)

    step = tab(page, f"focus-download-{z}")
    assert step["id"] == "download"
    with page.expect_download() as download:
        page.keyboard.press("Enter")
    saved = tmp_path / download.value.suggested_filename
    download.value.save_as(saved)
    assert saved.stat().st_size > 0

    # Back up with Shift+Tab: nothing focused ends up under the sticky header.
    for _ in range(6):
        tab(page, back=True)


def test_sign_up_error_puts_focus_on_the_field_at_fault(live_server, page_for):
    page = page_for(1280, 900)
    page.goto(live_server.url + "/signup")
    assert focused(page)["name"] == "email"
    page.fill("input[name=email]", "keys@example.com")
    page.fill("input[name=password]", "short")
    page.keyboard.press("Enter")
    page.wait_for_selector("#form-error")
    step = focused(page)
    assert step["name"] == "password"
    assert page.locator("input[name=password]").get_attribute("aria-invalid") == "true"
    screenshot(page, "focus-signup-error", full_page=False)
