"""WCAG 2.2 A/AA in the browser: axe-core on every page and every state of the editor, signed in and out;
a reduced-motion check. axe.min.js comes from the npm `axe-core` package (`make axe`, part of `make test`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.browser import screenshot
from tests.conftest import FIXTURES, create_user, unavailable
from tests.web.test_editor_browser import log_in, wait_until

pytestmark = pytest.mark.browser

AXE = Path(__file__).resolve().parents[2] / ".venv" / "axe-core" / "axe.min.js"
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22a", "wcag22aa"]

# Rules left out, each with its reason. Nothing else is excused.
EXCUSED: dict[str, str] = {}


def axe_source() -> str:
    if not AXE.exists():
        unavailable(f"{AXE} is missing: run `make axe` (npm pack axe-core)")
    return AXE.read_text()


def check(page: Any, label: str) -> None:
    """Run axe on the page as it is now; fail with every WCAG 2.2 A/AA violation, described."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(axe_source())  # CDP evaluation: our CSP (script-src 'self') stays on
    result = page.evaluate(
        """async (tags) => {
            const options = { runOnly: { type: 'tag', values: tags }, resultTypes: ['violations'] };
            const r = await window.axe.run(document, options);
            return r.violations.map(v => ({ id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.slice(0, 5).map(n => ({ target: n.target.join(' '), summary: n.failureSummary })) }));
        }""",
        WCAG_TAGS,
    )
    violations = [v for v in result if v["id"] not in EXCUSED]
    assert not violations, f"{label}: " + json.dumps(violations, indent=1)


def test_signed_out_pages(live_server, page_for):
    page = page_for(1280, 900)
    for path in ("/", "/login", "/signup", "/help/instructions", "/no-such-page"):
        page.goto(live_server.url + path)
        check(page, path)
    page.goto(live_server.url + "/docs")
    wait_until(page, "document.querySelectorAll('.opblock').length >= 20")
    check(page, "/docs")
    page.locator(".opblock-summary").first.click()
    page.wait_for_selector(".opblock.is-open .opblock-body")
    check(page, "/docs with an operation open")
    screenshot(page, "docs-accessible", full_page=False)
    # Sign-up with a password that is too short: the error is tied to the field, which has focus.
    page.goto(live_server.url + "/signup")
    page.fill("input[name=email]", "short@example.com")
    page.fill("input[name=password]", "short")
    page.get_by_role("button", name="Create account").click()
    page.wait_for_selector("#form-error")
    check(page, "/signup with an error")
    focused = page.evaluate("[document.activeElement.name, document.activeElement.getAttribute('aria-invalid'),"
                            " document.activeElement.getAttribute('aria-describedby')]")
    assert focused == ["password", "true", "form-error password-hint"]


def test_signed_in_pages_and_every_editor_state(live_server, page_for, context):
    create_user(context, email="axe@example.com", password="a good password", credits=30)
    page = page_for(1280, 900)
    log_in(page, live_server.url, "axe@example.com")
    check(page, "editor, empty")

    page.set_input_files("#file-input", [str(FIXTURES / "coffee.png"), str(FIXTURES / "grace_hopper.jpg")])
    wait_until(page, "document.querySelectorAll('#thumbs li').length === 2")
    page.fill("#prompt", "Make it brighter")
    wait_until(page, "!document.querySelector('#plan').hidden")
    check(page, "editor with images and a plan")

    page.fill("#prompt", "refuse it")
    wait_until(page, "document.querySelector('#plan').classList.contains('refused')")
    assert page.locator("#prompt").get_attribute("aria-invalid") == "true"
    assert "plan" in page.locator("#prompt").get_attribute("aria-describedby").split()
    assert page.locator("#generate").get_attribute("aria-disabled") == "true"
    check(page, "editor, instruction refused")

    page.fill("#prompt", "Make it brighter")
    wait_until(page, "document.querySelector('#generate').getAttribute('aria-disabled') === 'false'")
    page.locator("#generate").click()
    page.wait_for_selector("#result-actions:not([hidden])", timeout=60_000)
    wait_until(page, "(() => { const img = document.querySelector('.compare img.after');"
                     " return img && img.complete && img.naturalWidth > 0; })()")
    check(page, "editor with a result")
    edit_url = page.locator("#details").get_attribute("href")

    for path in ("/history", edit_url, "/account", "/billing", "/help/instructions", "/no-such-page"):
        page.goto(live_server.url + path)
        check(page, f"{path} (signed in)")
    page.goto(live_server.url + "/docs")
    wait_until(page, "document.querySelectorAll('.opblock').length >= 20")
    check(page, "/docs (signed in)")


@pytest.mark.parametrize("settings_overrides", [{"edit_workers": 0}], indirect=True)
def test_an_edit_in_progress(live_server, page_for, context):
    """No worker runs: the edit stays queued, so the progress states hold still for axe."""
    create_user(context, email="wait@example.com", password="a good password", credits=30)
    page = page_for(1280, 900)
    log_in(page, live_server.url, "wait@example.com")
    page.set_input_files("#file-input", str(FIXTURES / "coffee.png"))
    page.fill("#prompt", "Make it brighter")
    wait_until(page, "document.querySelector('#generate').getAttribute('aria-disabled') === 'false'")
    page.locator("#generate").click()
    page.wait_for_selector("[role=progressbar]")
    # Focus moved to the new edit's status; the status region said it once.
    wait_until(page, "document.activeElement.id === 'progress-title'")
    assert "queued" in page.locator("#edit-status-line").inner_text()
    check(page, "editor, edit in progress")
    history = page.goto(live_server.url + "/history")
    assert history is not None and history.ok
    check(page, "/history with an edit in progress")
    page.locator(".history-item a").first.click()
    page.wait_for_url("**/edits/*")
    check(page, "edit page, in progress")


def test_reduced_motion_stops_every_animation(live_server, page_for, context):
    create_user(context, email="still@example.com", password="a good password", credits=30)
    page = page_for(1280, 900)
    page.emulate_media(reduced_motion="reduce")
    log_in(page, live_server.url, "still@example.com")
    # The progress bar and the status dot as the editor shows them while an edit runs.
    page.evaluate("""() => {
        document.querySelector('#result-status').innerHTML = '<span class="status status-running">running</span>';
        document.querySelector('#stage').insertAdjacentHTML('afterbegin',
            '<div class="progress"><div class="progress-bar" role="progressbar" aria-label="x"><i></i></div></div>');
    }""")
    assert page.evaluate("document.getAnimations().length") == 0
    assert page.evaluate("getComputedStyle(document.documentElement).scrollBehavior") == "auto"
    # Without the preference the same elements do animate (the check above is not vacuous).
    page.emulate_media(reduced_motion="no-preference")
    wait_until(page, "document.getAnimations().length >= 2")
