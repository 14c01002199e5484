"""After Generate, the editor shows the submitted edit's own plan, made with the picture: for a crop that
cannot hold the head, that it will cut it and how to keep it all (the estimate before, without the picture,
could not say). Run with the offline engine."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser import screenshot
from tests.conftest import FIXTURES, create_user
from tests.web.test_editor_browser import log_in, wait_until

pytestmark = pytest.mark.browser

HEAD_CUT = "The head does not fit in 21:9: its top will be cut; say 'extend to 21:9' to keep all of it"
PLAN_TEXT = "document.querySelector('#plan').textContent"


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"edit_backend": "local"}


def test_the_editor_shows_what_the_crop_will_cut_once_submitted(live_server, page_for, context):
    create_user(context, email="cutter@example.com", password="a good password", credits=20)
    page = page_for(1280, 900)
    log_in(page, live_server.url, "cutter@example.com")
    page.set_input_files("#file-input", str(FIXTURES / "grace_hopper.jpg"))
    page.check("input[name=quality][value=low]", force=True)
    page.fill("#prompt", "Crop to 21:9")
    wait_until(page, f"{PLAN_TEXT}.includes('Crop to 21:9, centred on the subject')")
    assert "will be cut" not in page.evaluate(PLAN_TEXT)  # the estimate has no pixels to say it from
    wait_until(page, "document.querySelector('#generate').getAttribute('aria-disabled') !== 'true'"
                     " && !document.querySelector('#generate').disabled")
    page.locator("#generate").click()
    wait_until(page, f"{PLAN_TEXT}.includes({HEAD_CUT!r})")
    items = page.locator("#plan li").all_inner_texts()
    assert items == ["Crop to 21:9, centred on the subject", HEAD_CUT]
    assert page.locator("#plan").is_visible() and not page.evaluate(
        "document.querySelector('#plan').classList.contains('refused')"
    )
    screenshot(page, "plan-after-submit-head-cut", full_page=False)
