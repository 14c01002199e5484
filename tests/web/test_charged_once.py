"""Charged once per intent: the editor sends one Idempotency-Key per intent (the same until the form changes
or a result arrives), holds Generate while that edit waits or runs and says why, and "Run again" refills the
editor without sending anything. The engine is held by the stand-in's gate, not by time."""

from __future__ import annotations

import time
from typing import Any

import pytest
from sqlalchemy import select

from app.models import Edit, Transfer
from tests.browser import screenshot
from tests.conftest import FIXTURES, LiveServer, create_user, verify_ledger
from tests.web.test_editor_browser import log_in, wait_until

pytestmark = pytest.mark.browser

GENERATE_HELD = "document.querySelector('#generate').getAttribute('aria-disabled') === 'true'"
GENERATE_FREE = "document.querySelector('#generate').getAttribute('aria-disabled') === 'false'"


def edits_and_credit_moves(context: Any, user_id: str) -> tuple[int, list[str]]:
    """How many edits the person has, and the kinds of the credit movements they caused."""
    with context.transaction() as db:
        edits = db.execute(select(Edit.id).where(Edit.user_id == user_id)).scalars().all()
        kinds = db.execute(select(Transfer.kind).where(Transfer.account_id == user_id,
                                                       Transfer.edit_id.is_not(None))).scalars().all()
    return len(edits), sorted(kinds)


def keys_sent(page: Any) -> list[str | None]:
    """The Idempotency-Key of every edit the page submits, in order."""
    keys: list[str | None] = []
    page.on("request", lambda request: keys.append(request.headers.get("idempotency-key"))
            if request.method == "POST" and request.url.endswith("/api/v1/edits") else None)
    return keys


def ready_to_generate(page: Any, live_server: Any, email: str) -> None:
    log_in(page, live_server.url, email)
    page.set_input_files("#file-input", str(FIXTURES / "coffee.png"))
    page.fill("#prompt", "Make it brighter")
    wait_until(page, GENERATE_FREE)


def press(page: Any, selector: str, *, double: bool = False) -> None:
    """A person's mouse on the button (not Playwright's click, which waits for an enabled button)."""
    page.locator(selector).scroll_into_view_if_needed()
    box = page.locator(selector).bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    if double:
        page.mouse.dblclick(x, y)
    else:
        page.mouse.click(x, y)


def test_a_double_click_and_clicks_mid_run_make_one_edit_and_one_charge(live_server, page_for, context, backend):
    user = create_user(context, email="once@example.com", password="a good password", credits=10)
    page = page_for(375, 812)
    keys = keys_sent(page)
    ready_to_generate(page, live_server, "once@example.com")
    backend.gate.clear()  # the engine holds the edit until the test lets it go

    press(page, "#generate", double=True)
    assert backend.started.wait(timeout=30)
    wait_until(page, "document.querySelector('#result-status').textContent.includes('running')")
    # On a phone the result panel is below the form: it was brought up to show the progress.
    wait_until(page, "(() => { const card = document.querySelector('#result-card').getBoundingClientRect();"
                     " const stage = document.querySelector('#stage').getBoundingClientRect();"
                     " return card.top >= 0 && stage.bottom <= innerHeight; })()", timeout=5)
    screenshot(page, "editor-edit-running-phone", full_page=False)

    # Mid-run, Generate is held and says why; clicks and Enter on it send nothing.
    wait_until(page, GENERATE_HELD)
    why = page.locator("#why")
    assert why.is_visible() and "Editing… this edit is running" in why.inner_text()
    press(page, "#generate")
    press(page, "#generate", double=True)
    page.locator("#generate").focus()
    page.keyboard.press("Enter")
    screenshot(page, "editor-generate-held-phone", full_page=False)
    assert edits_and_credit_moves(context, user.id) == (1, ["reserve"])

    # Another instruction is another intent: Generate is free for it; back to the same one, held again.
    page.fill("#prompt", "Make it brighter and warmer")
    wait_until(page, GENERATE_FREE)
    page.fill("#prompt", "Make it brighter")
    wait_until(page, GENERATE_HELD)

    backend.gate.set()
    page.wait_for_selector("#result-actions:not([hidden])", timeout=30_000)
    wait_until(page, GENERATE_FREE)  # a result arrived: pressing again would be a new edit
    page.locator("#result-card").scroll_into_view_if_needed()
    screenshot(page, "editor-result-phone", full_page=False)
    assert len(keys) == 1 and keys[0]
    assert edits_and_credit_moves(context, user.id) == (1, ["post", "reserve"])
    wait_until(page, "document.querySelector('#cost-line').textContent.includes('Remaining 8 credits')")
    verify_ledger(context)


class LoseTheFirstAnswer:
    """In front of the app, like a proxy that times out: the first edit submitted is made and reserved, and
    the browser gets a 504 instead of its answer."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.lost = 0

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if self.lost or scope["type"] != "http" or (scope["method"], scope["path"]) != ("POST", "/api/v1/edits"):
            await self.app(scope, receive, send)
            return
        self.lost += 1

        async def dropped(message: dict[str, Any]) -> None:
            pass

        await self.app(scope, receive, dropped)
        await send({"type": "http.response.start", "status": 504, "headers": [(b"content-type", b"text/html")]})
        await send({"type": "http.response.body", "body": b"<h1>504 Gateway Time-out</h1>"})


def test_an_answer_lost_on_the_way_is_asked_again_with_the_same_key(app, page_for, context):
    user = create_user(context, email="lost@example.com", password="a good password", credits=10)
    proxy = LoseTheFirstAnswer(app)
    with LiveServer(proxy) as server:
        page = page_for(1280, 900)
        keys = keys_sent(page)
        ready_to_generate(page, server, "lost@example.com")
        page.locator("#generate").click()
        wait_until(page, "!document.querySelector('#why').hidden"
                         " && document.querySelector('#why').textContent.includes('504')")
        assert proxy.lost == 1 and edits_and_credit_moves(context, user.id) == (1, ["reserve"])
        wait_until(page, GENERATE_FREE)  # trying again is the usual answer, and it is safe

        # Pressed again with nothing changed: the same key, so the server answers with the first edit.
        page.locator("#generate").click()
        page.wait_for_selector("#result-actions:not([hidden])", timeout=30_000)
        assert len(keys) == 2 and keys[0] == keys[1]
        assert edits_and_credit_moves(context, user.id) == (1, ["post", "reserve"])

        # Once a result has arrived, Generate on the same form is a new intent: a new key, a new edit.
        wait_until(page, GENERATE_FREE)
        page.locator("#generate").click()
        settled = (2, ["post", "post", "reserve", "reserve"])
        deadline = time.monotonic() + 30
        while edits_and_credit_moves(context, user.id) != settled:
            assert time.monotonic() < deadline, edits_and_credit_moves(context, user.id)
            time.sleep(0.05)
        assert len(keys) == 3 and keys[2] != keys[0]
        verify_ledger(context)
