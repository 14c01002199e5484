"""A person walks the editor in a real browser: sign up, add images by picker and by drop, watch the cost
follow the settings, generate, see the result and download it."""

from __future__ import annotations

import base64
import io
import re
import time

import pytest
from PIL import Image

from tests.browser import screenshot
from tests.conftest import FIXTURES, verify_ledger

pytestmark = pytest.mark.browser


def wait_until(page, expression: str, timeout: float = 20) -> None:
    """Poll a JavaScript expression until it is true (our CSP forbids the eval behind wait_for_function)."""
    deadline = time.monotonic() + timeout
    while not page.evaluate(expression):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for: {expression}")
        time.sleep(0.05)


def data_transfer(page, name: str, data: bytes, mime: str):
    """A DataTransfer holding one file, as a desktop drag or the clipboard would carry it."""
    return page.evaluate_handle(
        """([name, b64, mime]) => {
            const bytes = Uint8Array.from(atob(b64), c => c.charCodeAt(0));
            const dt = new DataTransfer();
            dt.items.add(new File([bytes], name, { type: mime }));
            return dt;
        }""",
        [name, base64.b64encode(data).decode(), mime],
    )


def log_in(page, base_url: str, email: str, password: str = "a good password") -> None:
    page.goto(base_url + "/login?next=/edit")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/edit")


def drop_file(page, selector: str, name: str, data: bytes, mime: str) -> None:
    """Simulate dropping a file from the desktop onto `selector`."""
    page.dispatch_event(selector, "drop", {"dataTransfer": data_transfer(page, name, data, mime)})


def test_editor_from_sign_up_to_download(live_server, page_for, context, tmp_path):
    page = page_for(1280, 900)
    page.goto(live_server.url + "/")
    screenshot(page, "home-desktop")
    page.get_by_role("link", name="Sign up free").click()
    page.fill("input[name=email]", "walker@example.com")
    page.fill("input[name=password]", "a good password")
    page.get_by_role("button", name="Create account").click()
    page.wait_for_url("**/edit")
    cost = page.locator("#cost-line")
    generate = page.locator("#generate")
    assert generate.is_disabled()
    # Nothing is said against an editor nobody has touched; pressing Generate says what is missing.
    assert page.locator("#why").is_hidden()
    generate.click(force=True)
    assert page.locator("#why").is_visible() and "Add at least one image" in page.locator("#why").inner_text()

    # By the file picker…
    page.set_input_files("#file-input", str(FIXTURES / "coffee.png"))
    page.wait_for_selector("#thumbs li")
    # …and by a drop.
    drop_file(page, "#dropzone", "portrait.jpg", (FIXTURES / "grace_hopper.jpg").read_bytes(), "image/jpeg")
    wait_until(page, "document.querySelectorAll('#thumbs li').length === 2")
    assert page.locator("#image-counter").inner_text() == "2/9"

    page.fill("#prompt", "Make it brighter")
    assert page.locator("#prompt-counter").inner_text().startswith("16/")
    # The cost follows the settings: medium 1K = 2, high 4K = 16.
    wait_until(page, "document.querySelector('#cost-line').textContent.includes('Cost 2 credits')")
    assert "Remaining 10 credits" in cost.inner_text()
    page.locator("label:has(input[name=quality][value=high])").click()
    page.locator("label:has(input[name=resolution][value='4K'])").click()
    wait_until(page, "document.querySelector('#cost-line').textContent.includes('Cost 16 credits')")
    assert generate.is_disabled()
    assert "costs 16 credits and you have 10" in page.locator("#why").inner_text()
    assert page.locator("#why a[href='/billing']").count() == 1
    # The space before the link is outside it: its underline starts at its words.
    assert page.locator("#why a[href='/billing']").evaluate("a => a.textContent") == "Top up credits"
    page.locator("label:has(input[name=resolution][value='1K'])").click()
    wait_until(page, "document.querySelector('#cost-line').textContent.includes('Cost 4 credits')")
    # Auto aspect shows the size it resolves to (coffee.png is 600×400 -> 3:2 -> 1024×688).
    wait_until(page, "document.querySelector('#size-line').textContent.includes('1024 × 688')")
    assert "1024 × 688" in page.locator("#aspect-ratio option[value=auto]").inner_text()
    page.select_option("#aspect-ratio", "16:9")
    wait_until(page, "document.querySelector('#size-line').textContent.includes('1024 × 576')")
    screenshot(page, "editor-ready-desktop")

    assert generate.is_enabled()
    generate.click()
    page.wait_for_selector(".compare img.after", timeout=30_000)
    wait_until(page, "(() => { const img = document.querySelector('.compare img.after');"
                     " return img.complete && img.naturalWidth > 0; })()")
    assert page.locator("#result-size").inner_text().startswith("1024 × 576 px")
    wait_until(page, "document.querySelector('#cost-line').textContent.includes('Remaining 6 credits')")
    screenshot(page, "editor-result-desktop")

    with page.expect_download() as download_info:
        page.locator("#download").click()
    download = download_info.value
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    with Image.open(saved) as image:
        assert image.size == (1024, 576)
        assert image.format == "PNG"
    assert re.match(r"edit-[0-9a-f]{12}-1024x576\.png", download.suggested_filename)

    # Edit this result: it becomes the first image of a new edit, a fresh form that nothing is said against
    # until the person types or presses Generate.
    page.locator("#edit-result").click()
    wait_until(page, "document.querySelectorAll('#thumbs li').length === 1")
    assert "Earlier result" in page.locator("#thumbs li .badge").inner_text()
    assert page.locator("#why").is_hidden()
    screenshot(page, "editor-edit-this-result-desktop", full_page=False)
    page.set_viewport_size({"width": 375, "height": 812})
    screenshot(page, "editor-edit-this-result-phone", full_page=False)
    page.set_viewport_size({"width": 1280, "height": 900})
    generate.click(force=True)
    assert page.locator("#why").is_visible() and "Write an instruction" in page.locator("#why").inner_text()
    verify_ledger(context)

    # The credit history: the link to an edit is on a line of its own, not run into the sentence.
    page.goto(live_server.url + "/account")
    link = page.locator(".ledger-table a[href^='/edits/']").first
    assert link.inner_text() == "Open the edit"
    assert link.evaluate("a => getComputedStyle(a).display") == "block"
    screenshot(page, "account-ledger-desktop")
    page.set_viewport_size({"width": 375, "height": 812})
    assert link.evaluate("a => getComputedStyle(a).display") == "block"
    screenshot(page, "account-ledger-phone")


def test_editor_at_phone_width(live_server, page_for, context):
    from tests.conftest import create_user

    create_user(context, email="phone@example.com", password="a good password", credits=10)
    page = page_for(390, 844)
    log_in(page, live_server.url, "phone@example.com")
    page.set_input_files("#file-input", str(FIXTURES / "astronaut.png"))
    page.fill("#prompt", "Warmer colours")
    wait_until(page, "document.querySelector('#size-line').textContent.includes('1024 × 1024')")
    # Nothing overflows sideways at phone width.
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot(page, "editor-phone")
    for path, name in (("/", "home-phone"), ("/account", "account-phone"), ("/history", "history-phone"),
                       ("/help/instructions", "help-phone")):
        page.goto(live_server.url + path)
        assert page.evaluate("document.documentElement.scrollWidth") <= 390, path
        screenshot(page, name)


def test_bad_file_is_flagged_in_the_browser(live_server, page_for, context):
    from tests.conftest import create_user

    create_user(context, email="bad@example.com", password="a good password", credits=10)
    page = page_for()
    log_in(page, live_server.url, "bad@example.com")
    drop_file(page, "#dropzone", "notes.png", b"this is not an image at all", "image/png")
    page.wait_for_selector("#thumbs li.invalid")
    assert "Not a PNG, JPEG or WebP" in page.locator("#thumbs li .bad").inner_text()
    page.fill("#prompt", "Brighter")
    assert page.locator("#generate").is_disabled()
    assert "Remove the images marked in red" in page.locator("#why").inner_text()
    buffer = io.BytesIO()
    Image.new("RGB", (64, 64), "red").save(buffer, "PNG")
    page.locator("#thumbs li .tools button[aria-label^='Remove']").click()
    drop_file(page, "#dropzone", "red.png", buffer.getvalue(), "image/png")
    wait_until(page, "document.querySelectorAll('#thumbs li:not(.invalid)').length === 1")
    wait_until(page, "!document.querySelector('#generate').disabled")
    # A 64×64 image at 1K is enlarged 16×: the editor says so before anyone pays.
    wait_until(page, "!document.querySelector('#upscale-note').hidden")
    assert "enlarged 16×" in page.locator("#upscale-note").inner_text()


def paste_file(page, name: str, data: bytes, mime: str) -> None:
    """Simulate pasting an image from the clipboard."""
    page.evaluate("(dt) => document.dispatchEvent(new ClipboardEvent('paste', { clipboardData: dt, bubbles: true }))",
                  data_transfer(page, name, data, mime))


def test_paste_reorder_run_again_and_rerun_from_history(live_server, page_for, context):
    from tests.conftest import create_user

    create_user(context, email="again@example.com", password="a good password", credits=20)
    page = page_for()
    log_in(page, live_server.url, "again@example.com")

    paste_file(page, "pasted.png", (FIXTURES / "coffee.png").read_bytes(), "image/png")
    page.set_input_files("#file-input", str(FIXTURES / "grace_hopper.jpg"))
    wait_until(page, "document.querySelectorAll('#thumbs li').length === 2")
    assert page.locator("#thumbs li").first.get_attribute("class").startswith("thumb main")
    first_alt = page.locator("#thumbs li img").first.get_attribute("alt")
    assert first_alt == "pasted.png"
    # Move the portrait first: it becomes the main image and sets the auto size (512×600 -> 880×1024).
    page.locator("#thumbs li").nth(1).locator("button[data-move='-1']").click()
    assert page.locator("#thumbs li img").first.get_attribute("alt") == "grace_hopper.jpg"
    assert page.locator("#thumbs li .badge").first.inner_text() == "Main"
    page.fill("#prompt", "Cooler tones")
    wait_until(page, "document.querySelector('#size-line').textContent.includes('880 × 1024')")
    page.locator("label:has(input[name=output_format][value=webp])").click()
    page.locator("#generate").click()
    page.wait_for_selector("#result-actions:not([hidden])", timeout=30_000)
    assert page.locator("#result-size").inner_text().startswith("880 × 1024 px · WEBP")
    # "Run again" refills the editor with that edit's images, instruction and settings; nothing is sent or
    # charged until Generate is pressed.
    submitted: list[str] = []
    page.on("request", lambda r: submitted.append(r.url) if r.method == "POST" and r.url.endswith("/edits") else None)
    page.fill("#prompt", "Something else")
    page.locator("label:has(input[name=output_format][value=png])").click()
    page.locator("#run-again").click()
    wait_until(page, "document.activeElement.id === 'generate' && document.querySelectorAll('#thumbs li').length === 2")
    # It says, next to Generate, that it is ready and what it will cost.
    wait_until(page, "!document.querySelector('#why').hidden")
    assert page.locator("#why").inner_text() == "Ready to run again: press Generate (2 credits)."
    screenshot(page, "editor-run-again-ready-desktop", full_page=False)
    page.set_viewport_size({"width": 375, "height": 812})
    page.locator("#generate").scroll_into_view_if_needed()
    screenshot(page, "editor-run-again-ready-phone", full_page=False)
    page.set_viewport_size({"width": 1280, "height": 900})
    assert page.locator("#prompt").input_value() == "Cooler tones"
    assert page.locator("input[name=output_format][value=webp]").is_checked()
    assert page.locator("#thumbs li .badge").first.inner_text() == "Main"
    wait_until(page, "document.querySelector('#size-line').textContent.includes('880 × 1024')")
    assert submitted == [] and "Remaining 18 credits" in page.locator("#cost-line").inner_text()
    page.locator("#generate").click()
    wait_until(page, "document.querySelector('#cost-line').textContent.includes('Remaining 16 credits')")

    page.goto(live_server.url + "/history")
    assert page.locator(".history-item").count() == 2
    wait_until(page, "[...document.querySelectorAll('.history-item img')].every(i => i.complete && i.naturalWidth > 0)")
    # A portrait result is shown whole in its landscape tile, not cropped to its middle.
    assert page.locator(".history-item .cover img").first.evaluate("i => getComputedStyle(i).objectFit") == "contain"
    screenshot(page, "history-desktop")
    page.set_viewport_size({"width": 375, "height": 812})
    screenshot(page, "history-results-phone", full_page=False)
    page.set_viewport_size({"width": 1280, "height": 900})
    page.locator(".history-item").first.get_by_role("link", name="Run again").click()
    page.wait_for_url("**/edit?rerun=*")
    wait_until(page, "document.querySelectorAll('#thumbs li').length === 2")
    assert page.locator("#prompt").input_value() == "Cooler tones"
    assert page.locator("input[name=output_format][value=webp]").is_checked()
    wait_until(page, "document.querySelector('#size-line').textContent.includes('880 × 1024')")

    page.goto(live_server.url + "/history")
    page.locator(".history-item").first.get_by_role("link", name="Details").click()
    page.wait_for_selector(".compare")
    screenshot(page, "edit-detail-desktop")
    # "Run again" on the details page is the same: the editor refilled, nothing sent.
    page.get_by_role("link", name="Run again").click()
    page.wait_for_url("**/edit?rerun=*")
    wait_until(page, "document.querySelectorAll('#thumbs li').length === 2")
    assert page.locator("#prompt").input_value() == "Cooler tones"
    assert len(submitted) == 1  # only the Generate pressed after the first "Run again"
    page.goto(live_server.url + "/account")
    screenshot(page, "account-desktop")
    verify_ledger(context)
