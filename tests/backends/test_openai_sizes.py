"""Sizes told honestly: where the model cannot make the promised size (gpt-image-2's 4K square is made at the
largest size it allows and enlarged) or OpenAI calls the size experimental (above 2560x1440), the estimate
says so before the charge, the edit records the size it was made at, and its page and the help page say so."""

from __future__ import annotations

import io

import pytest
from PIL import Image
from sqlalchemy import select

from app.backends.base import EditRequest, MadeSize
from app.editor import sizes
from app.models import Edit
from tests.conftest import api_key_for, create_user, image_bytes, login, wait_for_edit
from tests.fake_openai import (  # noqa: F401  (fixtures)
    fake_openai_fixture,
    fake_openai_server_fixture,
    openai_backend_for_tests,
    openai_settings,
)


def tiny_request(width: int, height: int) -> EditRequest:
    return EditRequest(images=[Image.new("RGB", (32, 32))], prompt="Make it blue", quality="medium", width=width,
                       height=height)


@pytest.mark.nodb
def test_what_the_model_makes_is_what_is_asked_and_what_is_said(fake_openai):
    backend = openai_backend_for_tests(fake_openai)
    square_4k = backend.made_size(3840, 3840)
    assert (square_4k.width, square_4k.height) == (2880, 2880)
    enlarged, experimental = square_4k.notes
    assert "made at 2880 × 2880, then enlarged to 3840 × 3840" in enlarged
    assert "no more detail than 2880 × 2880" in enlarged
    assert "2560 × 1440" in experimental and "experimental for gpt-image-2" in experimental
    # 2K square: made as promised, but experimental; 1K square: nothing to say.
    square_2k = backend.made_size(2048, 2048)
    assert (square_2k.width, square_2k.height) == (2048, 2048) and "experimental" in " ".join(square_2k.notes)
    assert backend.made_size(1024, 1024) == MadeSize(1024, 1024)
    # What is said is what is sent, for every setting the editor offers.
    for resolution in sizes.LONG_EDGE:
        for aspect_ratio in sizes.ASPECT_RATIOS[1:]:
            width, height = sizes.size_for_ratio(resolution, *sizes.parse_ratio(aspect_ratio))
            made = backend.made_size(width, height)
            assert backend.request_fields(tiny_request(width, height))["size"] == f"{made.width}x{made.height}"
            assert bool(made.notes) == ((made.width, made.height) != (width, height) or made.width * made.height
                                        > 2560 * 1440)


@pytest.mark.nodb
def test_a_model_of_fixed_sizes_says_its_picture_is_enlarged_and_trimmed(fake_openai):
    made = openai_backend_for_tests(fake_openai, openai_image_model="gpt-image-1.5").made_size(3840, 2160)
    assert (made.width, made.height) == (1536, 1024)
    assert made.notes == ("gpt-image-1.5 cannot make 3840 × 2160: made at 1536 × 1024, then enlarged to "
                          "3840 × 2160, its edges trimmed a little to fit the shape. It has no more detail than "
                          "1536 × 1024.",)


# --- through the app ---------------------------------------------------------------------------------------


@pytest.fixture
def settings_overrides(request, fake_openai):
    return {} if getattr(request, "param", None) == "stand-in" else openai_settings(fake_openai)


def test_the_estimate_says_so_before_the_charge_and_the_edit_records_the_size_it_was_made_at(
        client, context, fake_openai):
    user = create_user(context, email="sizes@example.com", credits=20)
    headers = {"Authorization": f"Bearer {api_key_for(context, user.id)}"}

    def estimate(resolution: str, aspect_ratio: str) -> dict:
        return client.post("/api/v1/estimate", headers=headers, json={
            "quality": "medium", "resolution": resolution, "aspect_ratio": aspect_ratio}).json()

    square_4k = estimate("4K", "1:1")
    assert (square_4k["width"], square_4k["height"]) == (3840, 3840)
    assert (square_4k["native_width"], square_4k["native_height"]) == (2880, 2880)
    assert "enlarged to 3840 × 3840" in square_4k["size_notes"][0]
    plain = estimate("1K", "1:1")
    assert (plain["native_width"], plain["native_height"], plain["size_notes"]) == (1024, 1024, [])

    # 1K 16:9 has too few pixels for gpt-image-2: made at 1136x640 and reduced (small, so the test is cheap).
    response = client.post("/api/v1/edits", headers=headers,
                           data={"prompt": "Make the cup blue", "resolution": "1K", "aspect_ratio": "16:9"},
                           files=[("image", ("coffee.png", image_bytes("coffee.png"), "image/png"))])
    edit = wait_for_edit(client, response.json()["id"], headers=headers)
    assert edit["status"] == "succeeded"
    assert (edit["width"], edit["height"], edit["native_width"], edit["native_height"]) == (1024, 576, 1136, 640)
    assert fake_openai.last.field("size") == "1136x640"
    result = Image.open(io.BytesIO(client.get(f"/api/v1/edits/{edit['id']}/result", headers=headers).content))
    assert result.size == (1024, 576)
    with context.read_transaction() as db:
        stored = db.scalars(select(Edit).where(Edit.id == edit["id"])).one()
        assert (stored.native_width, stored.native_height) == (1136, 640)
        assert any("made at 1136 × 640, then reduced to 1024 × 576" in step for step in stored.plan or [])

    login(client, "sizes@example.com")
    page = client.get(f"/edits/{edit['id']}").text
    assert "made at 1136 × 640" in page


def test_the_help_page_lists_the_sizes_this_site_makes_otherwise(client):
    page = client.get("/help/instructions").text
    assert 'id="sizes"' in page and 'data-testid="noted-sizes"' in page
    row = page.split(">4K 1:1</td>", 1)[1].split("</tr>", 1)[0]
    assert "3840 × 3840" in row and "2880 × 2880" in row and "experimental" in row
    assert ">1K 1:1</td>" not in page  # made as promised, nothing to say


@pytest.mark.parametrize("settings_overrides", ["stand-in"], indirect=True)
def test_a_backend_that_makes_any_size_has_nothing_to_add(client):
    answer = client.post("/api/v1/estimate", json={"quality": "medium", "resolution": "4K",
                                                   "aspect_ratio": "1:1"}).json()
    assert (answer["native_width"], answer["native_height"], answer["size_notes"]) == (3840, 3840, [])
    page = client.get("/help/instructions").text
    assert 'id="sizes"' in page and "every size is made as it is promised" in page


@pytest.mark.browser
def test_the_editor_says_so_next_to_the_price(live_server, page_for, context):
    from tests.browser import screenshot
    from tests.conftest import FIXTURES
    from tests.web.test_editor_browser import log_in

    create_user(context, email="sizes@example.com", credits=20)
    page = page_for(1280, 900)
    log_in(page, live_server.url, "sizes@example.com", "correct horse")
    page.set_input_files("#file-input", str(FIXTURES / "coffee.png"))
    page.fill("#prompt", "Make the cup blue")
    note = page.locator("[data-testid=size-note]")
    page.locator("label", has_text="4K").click()
    page.select_option("#aspect-ratio", "1:1")
    note.wait_for(state="visible")
    assert "made at 2880 × 2880, then enlarged to 3840 × 3840" in note.inner_text()
    assert "experimental" in note.inner_text()
    assert "made at 2880 × 2880" in page.locator("#size-line").inner_text()
    page.evaluate("window.scrollTo(0, 0)")
    screenshot(page, "editor-size-note-desktop")
    page.locator("label", has_text="1K").click()
    note.wait_for(state="hidden")  # 1K square: made as promised, nothing to say
