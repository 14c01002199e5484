"""The pages at 375 px and the small things around them: a long unbroken word never widens the page, the
header is one opaque row with a menu, the help heading has room, /docs leads back, the editor says nothing
against an untouched form, ◀ ▶ only when there is something to reorder, the operator command breaks at
spaces. Screenshots of each state at 375 and 1280 px go to test-artifacts/screenshots."""

from __future__ import annotations

import re

import pytest

from app.backends.base import BackendRefused, Plan, PlanRequest
from tests.backends.stand_ins import PassThroughBackend
from tests.browser import screenshot
from tests.conftest import FIXTURES, create_user
from tests.web.test_accessibility import check
from tests.web.test_editor_browser import drop_file, log_in, wait_until

pytestmark = pytest.mark.browser

HASHTAGS = "#summervibes#goldenhour#productphotography#shopsmall#handmade#flatlay#instagood#smallbusiness"
A_WORD_LONGER_THAN_ANY_LINE = re.compile(r"\S{30,}")


class QuotingBackend(PassThroughBackend):
    """Refuses an instruction holding a word longer than a line, quoting the whole instruction in the clause
    and the message, as an engine does with words it does not know; passes anything else through."""

    def plan(self, request: PlanRequest) -> Plan | None:
        if A_WORD_LONGER_THAN_ANY_LINE.search(request.prompt):
            raise BackendRefused(f"The engine doesn't know “{request.prompt}”. Try e.g. “make it warmer”.",
                                 clause=request.prompt)
        return super().plan(request)


QUOTING = {"edit_backend": f"{__name__}:QuotingBackend"}


def page_width(page) -> int:
    return int(page.evaluate("document.documentElement.scrollWidth"))


@pytest.mark.parametrize("settings_overrides", [QUOTING], indirect=True)
def test_a_long_word_in_the_instruction_does_not_widen_the_phone_page(live_server, page_for, context):
    create_user(context, email="long@example.com", password="a good password", credits=10)
    page = page_for(375, 812)
    log_in(page, live_server.url, "long@example.com")
    page.set_input_files("#file-input", str(FIXTURES / "coffee.png"))
    for name, prompt in (("hashtags", f"{HASHTAGS} brighter"), ("20000-x", "x" * 20_000)):
        page.fill("#prompt", prompt)
        wait_until(page, "document.querySelector('#plan').classList.contains('refused')"
                         f" && document.querySelector('#plan').textContent.includes({prompt[:40]!r})")
        assert page.locator("#plan").is_visible()
        assert page_width(page) == 375, name
        screenshot(page, f"editor-refusal-{name}-phone")
    page.set_viewport_size({"width": 1280, "height": 900})
    assert page_width(page) == 1280
    screenshot(page, "editor-refusal-20000-x-desktop")


ONE_ROW = """(() => {
    const items = [...document.querySelector('.site-header .bar').children].filter((e) => e.offsetParent !== null)
        .map((e) => e.getBoundingClientRect());
    const tops = items.map((r) => r.top), bottoms = items.map((r) => r.bottom);
    return items.length >= 2 && Math.max(...tops) < Math.min(...bottoms);
})()"""


def header_state(page) -> dict:
    return page.evaluate("""(() => {
        const header = document.querySelector('.site-header');
        const style = getComputedStyle(header);
        return { background: style.backgroundColor, filter: style.backdropFilter,
                 menu: document.querySelector('.menu-button').offsetParent !== null,
                 links: [...document.querySelectorAll('#site-nav a')].filter((a) => a.offsetParent !== null)
                        .map((a) => a.textContent.trim()) };
    })()""")


def test_the_phone_header_is_one_opaque_row_with_a_menu(live_server, page_for, context):
    create_user(context, email="menu@example.com", password="a good password", credits=10)
    phone = page_for(375, 812)
    phone.goto(live_server.url + "/")
    assert phone.evaluate(ONE_ROW)
    screenshot(phone, "header-signed-out-phone", full_page=False)
    log_in(phone, live_server.url, "menu@example.com")
    assert phone.evaluate(ONE_ROW)
    state = header_state(phone)
    assert state["background"] == "rgb(255, 255, 255)" and state["filter"] == "none"  # opaque
    assert state["menu"] and state["links"] == []
    assert phone.locator("[data-balance]").is_visible()  # the balance stays in sight
    screenshot(phone, "editor-untouched-phone", full_page=False)

    menu = phone.get_by_role("button", name="Menu")
    menu.click()
    assert menu.get_attribute("aria-expanded") == "true"
    assert header_state(phone)["links"] == ["Editor", "History", "Credits", "Account"]
    assert phone.get_by_role("navigation", name="Main").get_by_role("button", name="Log out").is_visible()
    screenshot(phone, "header-menu-open-phone", full_page=False)
    check(phone, "phone header, menu open")
    phone.keyboard.press("Escape")
    assert menu.get_attribute("aria-expanded") == "false" and header_state(phone)["links"] == []
    assert phone.evaluate("document.activeElement.classList.contains('menu-button')")

    desktop = page_for(1280, 900)
    desktop.context.add_cookies(phone.context.cookies())
    desktop.goto(live_server.url + "/edit")
    state = header_state(desktop)
    assert not state["menu"] and state["links"] == ["Editor", "History", "Credits", "Account"]
    assert desktop.evaluate(ONE_ROW)
    screenshot(desktop, "editor-untouched-desktop", full_page=False)


def test_the_small_things_at_phone_width(live_server, page_for, context):
    create_user(context, email="a.rather.long.address.for.a.shop@example.com", password="a good password",
                credits=10)
    page = page_for(375, 812)
    log_in(page, live_server.url, "a.rather.long.address.for.a.shop@example.com")

    # One image: nothing to reorder, so no ◀ ▶; a second one brings them.
    page.set_input_files("#file-input", str(FIXTURES / "coffee.png"))
    page.wait_for_selector("#thumbs li")
    assert page.locator("#thumbs [data-move]").count() == 0
    page.set_input_files("#file-input", str(FIXTURES / "grace_hopper.jpg"))
    wait_until(page, "document.querySelectorAll('#thumbs li').length === 2")
    assert page.locator("#thumbs [data-move]").count() == 4
    screenshot(page, "editor-with-images-phone")

    # An image that cannot be used: its tile is covered, so its file name never shows behind the badges.
    for _ in range(2):
        page.locator("#thumbs li .tools button[aria-label^='Remove']").first.click()
    drop_file(page, "#dropzone", "a-photo-with-a-long-file-name-from-the-camera.png", b"not an image", "image/png")
    page.wait_for_selector("#thumbs li.invalid")
    covered = page.evaluate("""(() => {
        const tile = document.querySelector('#thumbs li.invalid'), bad = tile.querySelector('.bad');
        const badge = tile.querySelector('.badge').getBoundingClientRect();
        const opaque = /^rgb\\(/.test(getComputedStyle(bad).backgroundColor);
        const a = tile.getBoundingClientRect(), b = bad.getBoundingClientRect();
        const on_top = document.elementFromPoint(badge.x + badge.width / 2, badge.y + badge.height / 2);
        return opaque && Math.abs(a.width - b.width) < 3 && Math.abs(a.height - b.height) < 3
            && on_top.classList.contains('badge');
    })()""")
    assert covered
    # What is wrong and the file's name are both readable, clear of the tile's buttons; the counter does not
    # count the file as an image.
    clear = page.evaluate("""(() => {
        const tile = document.querySelector('#thumbs li.invalid');
        const tools = [...tile.querySelectorAll('.tools button, .badge')].map((b) => b.getBoundingClientRect());
        const overlaps = (a, b) => a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom;
        return [...tile.querySelectorAll('.bad > span')].map((span) => {
            const range = document.createRange();
            range.selectNodeContents(span);
            const rects = [...range.getClientRects()];
            return { text: span.textContent, shown: rects.length > 0,
                     clear: rects.every((r) => tools.every((t) => !overlaps(r, t))) };
        });
    })()""")
    assert [c["text"] for c in clear] == ["Not a PNG, JPEG or WebP image",
                                         "a-photo-with-a-long-file-name-from-the-camera.png"]
    assert all(c["shown"] and c["clear"] for c in clear), clear
    assert page.locator("#image-counter").inner_text() == "1 file, 1 can't be used"
    page.fill("#prompt", "Brighter")
    assert page.locator("#why").inner_text() == ("Remove the images marked in red: a-photo-with-a-long-file-name-from-"
                                                 "the-camera.png (Not a PNG, JPEG or WebP image).")
    screenshot(page, "editor-invalid-tile-phone", full_page=False)

    # The help page's heading has room under the header.
    page.goto(live_server.url + "/help/instructions")
    gap = page.evaluate("document.querySelector('h1').getBoundingClientRect().top"
                        " - document.querySelector('.site-header').getBoundingClientRect().bottom")
    assert gap >= 24
    screenshot(page, "help-phone-top", full_page=False)
    # Its tables never widen the page: each scrolls inside its own box, to its last column.
    assert page_width(page) == 375
    tables = page.evaluate("""[...document.querySelectorAll('.prose table')].map((table) => {
        const box = table.parentElement;
        box.scrollLeft = box.scrollWidth;
        const last = table.querySelector('th:last-child').getBoundingClientRect();
        const frame = box.getBoundingClientRect();
        return { boxed: box.classList.contains('table-scroll'), inside: frame.right <= 375,
                 lastShown: last.right <= frame.right + 1 && last.left >= frame.left - 1 };
    })""")
    assert tables and all(t["boxed"] and t["inside"] and t["lastShown"] for t in tables), tables
    page.locator(".table-scroll").first.scroll_into_view_if_needed()
    screenshot(page, "help-phone-table-scrolled", full_page=False)

    # /docs leads back to the app, from a header that stays one row.
    page.goto(live_server.url + "/docs")
    wait_until(page, "document.querySelectorAll('.opblock').length >= 5")
    assert page.get_by_role("navigation", name="Main").get_by_role("link", name="Back to the editor").is_visible()
    assert page.evaluate(ONE_ROW) and page_width(page) == 375
    screenshot(page, "docs-phone", full_page=False)

    # The operator command breaks only between words, never inside an option or the address.
    page.goto(live_server.url + "/billing")
    split = page.evaluate("""(() => {
        const code = document.querySelector('.command'), split = [];
        const walker = document.createTreeWalker(code, NodeFilter.SHOW_TEXT);
        for (let node = walker.nextNode(); node; node = walker.nextNode()) {
            for (const word of node.data.matchAll(/\\S+/g)) {
                const range = document.createRange();
                range.setStart(node, word.index);
                range.setEnd(node, word.index + word[0].length);
                const lines = new Set([...range.getClientRects()].map((r) => Math.round(r.top)));
                if (lines.size > 1) split.push(word[0]);
            }
        }
        return split;
    })()""")
    assert split == [] and page_width(page) == 375
    page.locator(".command").scroll_into_view_if_needed()
    screenshot(page, "billing-command-phone", full_page=False)
