"""The API reference at /docs renders from our own files under our CSP (no CDN, nothing blocked)."""

from __future__ import annotations

import time

import pytest

from tests.browser import screenshot

pytestmark = pytest.mark.browser


def test_api_reference_renders_every_route(live_server, page_for):
    page = page_for(1280, 900)
    problems: list[str] = []
    page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
    page.on("requestfailed", lambda request: problems.append(f"failed: {request.url}"))
    page.goto(live_server.url + "/docs")
    deadline = time.monotonic() + 20
    while page.evaluate("document.querySelectorAll('.opblock').length") < 20:
        assert time.monotonic() < deadline, "Swagger UI did not render the operations"
        time.sleep(0.1)
    text = page.inner_text("#swagger-ui")
    for path in ("/api/v1/edits", "/api/v1/estimate", "/api/v1/ledger", "/v1/images/edits", "/api/v1/billing/checkout"):
        assert path in text, path
    assert problems == []
    screenshot(page, "docs-desktop", full_page=False)
