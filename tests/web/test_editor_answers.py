"""What the editor says back: an edit refused at Generate (the server sees the picture, the estimate did
not) is shown in the Result card as refused and not charged, the plan stops promising it and Generate
waits for a change; an instruction pasted past the limit says it was cut. Screenshots at 1280 and 375 px."""

from __future__ import annotations

import pytest

from app.backends.base import BackendRefused, Plan, PlanRequest
from tests.backends.stand_ins import PassThroughBackend
from tests.browser import screenshot
from tests.conftest import FIXTURES, create_user
from tests.web.test_editor_browser import log_in, wait_until

pytestmark = pytest.mark.browser

REASON = ("The subject could not be separated with confidence: it runs off the frame on several sides. "
          "Colour and framing edits work on any photo.")


class RefusesThePicture(PassThroughBackend):
    """Plans a background change from the words alone, and refuses it once it sees the picture (at submit)."""

    def plan(self, request: PlanRequest) -> Plan | None:
        if request.load_main_image is not None and "background" in request.prompt.lower():
            raise BackendRefused(REASON, code="subject_unclear")
        return super().plan(request)


@pytest.mark.parametrize("settings_overrides", [{"edit_backend": f"{__name__}:RefusesThePicture"}], indirect=True)
def test_a_refusal_at_generate_and_a_paste_cut_at_the_limit(live_server, page_for, context):
    create_user(context, email="refused@example.com", password="a good password", credits=10)
    page = page_for(1280, 900)
    log_in(page, live_server.url, "refused@example.com")
    page.set_input_files("#file-input", str(FIXTURES / "coffee.png"))
    page.fill("#prompt", "White background")
    wait_until(page, "document.querySelector('#plan').textContent.includes('Will do')")
    sent: list[str] = []
    page.on("request", lambda r: sent.append(r.url) if r.method == "POST" and r.url.endswith("/edits") else None)

    page.locator("#generate").click()
    wait_until(page, "document.querySelector('#result-card').textContent.includes('Refused · not charged')")
    card = page.locator("#result-card").inner_text()
    assert REASON in card and "no credits were taken" in card
    assert page.locator("#result-status .status-refused").is_visible()
    # The plan no longer promises the edit: it says it cannot be done, and why.
    plan = page.locator("#plan")
    assert "Will do" not in plan.inner_text() and "Can't do this edit" in plan.inner_text()
    assert "refused" in (plan.get_attribute("class") or "")
    # Generate waits for a change, and says so; pressing it sends nothing.
    assert page.locator("#generate").get_attribute("aria-disabled") == "true"
    assert "Refused, nothing charged" in page.locator("#why").inner_text()
    page.locator("#generate").click(force=True)
    assert len(sent) == 1
    assert "Remaining 10 credits" in page.locator("#cost-line").inner_text()
    screenshot(page, "editor-refused-at-generate-desktop")
    page.set_viewport_size({"width": 375, "height": 812})
    assert page.evaluate("document.documentElement.scrollWidth") == 375
    screenshot(page, "editor-refused-at-generate-phone")
    page.set_viewport_size({"width": 1280, "height": 900})

    # A change to the form frees Generate and the plan shows the estimate again.
    page.fill("#prompt", "Make it brighter")
    wait_until(page, "document.querySelector('#plan').textContent.includes('Will do')"
                     " && document.querySelector('#generate').getAttribute('aria-disabled') === 'false'")
    assert "Refused" not in page.locator("#why").inner_text()
    assert "Refused" not in page.locator("#result-card").inner_text()

    # A paste longer than the box holds is cut there, and the editor says so next to the counter.
    limit = 20_000
    cut = page.locator("#prompt-cut")
    assert cut.is_hidden()
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page.evaluate("(n) => navigator.clipboard.writeText('brighter '.repeat(n))", limit // 9 + 100)
    page.fill("#prompt", "")
    page.focus("#prompt")
    page.keyboard.press("ControlOrMeta+V")
    wait_until(page, f"document.querySelector('#prompt').value.length === {limit}")
    assert cut.is_visible() and cut.inner_text() == "Your text was cut to 20,000 characters."
    assert "prompt-cut" in (page.locator("#prompt").get_attribute("aria-describedby") or "")
    screenshot(page, "editor-paste-cut-desktop", full_page=False)
    page.set_viewport_size({"width": 375, "height": 812})
    page.locator("#prompt-counter").scroll_into_view_if_needed()
    screenshot(page, "editor-paste-cut-phone", full_page=False)
    # Shortened by hand, the text is the person's own again: the note goes.
    page.keyboard.press("Backspace")
    wait_until(page, "document.querySelector('#prompt-cut').hidden")
    # A paste that fits says nothing.
    page.fill("#prompt", "")
    page.evaluate("() => navigator.clipboard.writeText('Make it warmer')")
    page.focus("#prompt")
    page.keyboard.press("ControlOrMeta+V")
    wait_until(page, "document.querySelector('#prompt').value === 'Make it warmer'")
    assert cut.is_hidden()
