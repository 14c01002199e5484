"""The edits API end to end on the embedded pipeline (pass-through backend): submit, price, run, download,
refuse, isolate."""

from __future__ import annotations

import io
import itertools
import json

import pytest
from PIL import Image

from app.billing.pricing import DEFAULT_PRICING
from app.editor import sizes
from tests.conftest import (
    api_key_for,
    create_user,
    image_bytes,
    stored_files,
    verify_ledger,
    wait_for_edit,
)


def small_png(size=(300, 200), color=(200, 120, 40)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, "PNG")
    return buffer.getvalue()


def submit(client, headers, *, images=None, **fields):
    files = [("image", (f"in{i}.png", data, "image/png")) for i, data in enumerate(images or [small_png()])]
    data = {"prompt": "Make it brighter", **{k: v for k, v in fields.items() if v is not None}}
    return client.post("/api/v1/edits", files=files, data=data, headers=headers)


@pytest.fixture
def person(context, client):
    user = create_user(context, credits=1000)
    key = api_key_for(context, user.id)
    return {"user": user, "headers": {"Authorization": f"Bearer {key}"}}


def balance(client, headers) -> int:
    return client.get("/api/v1/me", headers=headers).json()["balance"]


def test_charge_equals_estimate_for_every_quality_and_resolution(client, person, context):
    headers = person["headers"]
    for quality, resolution in itertools.product(("low", "medium", "high"), ("1K", "2K", "4K")):
        estimate = client.post("/api/v1/estimate", json={"quality": quality, "resolution": resolution,
                                                         "image_count": 1}, headers=headers).json()
        assert estimate["credits"] == DEFAULT_PRICING.table[quality][resolution]
        before = balance(client, headers)
        response = submit(client, headers, quality=quality, resolution=resolution, output_format="jpeg")
        assert response.status_code == 202, response.text
        edit = wait_for_edit(client, response.json()["id"], headers=headers)
        assert edit["status"] == "succeeded"
        assert edit["credits"] == estimate["credits"]
        assert before - balance(client, headers) == estimate["credits"]
    verify_ledger(context)


def test_download_has_exact_size_and_format_for_every_tier_and_aspect(client, person):
    headers = person["headers"]
    formats = itertools.cycle(("png", "jpeg", "webp"))
    aspects = [a for a in sizes.ASPECT_RATIOS if a != "auto"]
    for resolution in ("1K", "2K", "4K"):
        for aspect in aspects:
            fmt = next(formats)
            response = submit(client, headers, resolution=resolution, aspect_ratio=aspect, output_format=fmt,
                              quality="low", images=[small_png((64, 48))])
            assert response.status_code == 202, response.text
            edit = wait_for_edit(client, response.json()["id"], headers=headers)
            expected = sizes.target_size(resolution, aspect)
            assert (edit["width"], edit["height"]) == expected
            result = client.get(edit["result_url"], headers=headers)
            assert result.status_code == 200
            assert result.headers["content-type"] == f"image/{fmt}"
            assert result.headers["content-disposition"].startswith("attachment;")
            with Image.open(io.BytesIO(result.content)) as image:
                assert image.size == expected, (resolution, aspect, fmt)
                assert image.format == {"png": "PNG", "jpeg": "JPEG", "webp": "WEBP"}[fmt]


def test_auto_aspect_and_cover_fit_never_stretch(client, person):
    headers = person["headers"]
    # A left half red, right half blue image, cover-fitted to 1:1: the centre column stays the seam,
    # and the corners keep their colours (a stretch would keep everything but squash it).
    half = Image.new("RGB", (400, 100), "red")
    half.paste(Image.new("RGB", (200, 100), "blue"), (200, 0))
    buffer = io.BytesIO()
    half.save(buffer, "PNG")
    response = submit(client, headers, images=[buffer.getvalue()], aspect_ratio="1:1")
    edit = wait_for_edit(client, response.json()["id"], headers=headers)
    image = Image.open(io.BytesIO(client.get(edit["result_url"], headers=headers).content)).convert("RGB")
    assert image.size == (1024, 1024)
    assert image.getpixel((10, 512)) == (255, 0, 0) and image.getpixel((1013, 512)) == (0, 0, 255)
    # auto keeps the first image's ratio (4:1 clamped to 3:1).
    response = submit(client, headers, images=[buffer.getvalue()])
    assert (response.json()["width"], response.json()["height"]) == (1024, 336)


def test_edit_object_and_listing(client, person):
    headers = person["headers"]
    response = submit(client, headers, images=[small_png(), small_png(color=(0, 0, 0))], quality="high",
                      resolution="2K", aspect_ratio="4:3", output_format="webp")
    assert response.status_code == 202
    assert response.headers["location"] == f"/api/v1/edits/{response.json()['id']}"
    body = response.json()
    for key in ("id", "status", "prompt", "quality", "resolution", "aspect_ratio", "output_format", "width",
                "height", "credits", "image_count", "parent_id", "error", "result_url", "created_at",
                "started_at", "finished_at", "backend"):
        assert key in body
    assert body["status"] in ("queued", "running")
    assert (body["quality"], body["resolution"], body["aspect_ratio"], body["output_format"]) == \
        ("high", "2K", "4:3", "webp")
    assert (body["width"], body["height"], body["credits"], body["image_count"]) == (2048, 1536, 8, 2)
    edit = wait_for_edit(client, body["id"], headers=headers)
    assert edit["result_url"] == f"/api/v1/edits/{body['id']}/result" and edit["error"] is None
    assert edit["finished_at"] and edit["started_at"]
    second_input = client.get(f"/api/v1/edits/{body['id']}/inputs/1", headers=headers)
    assert Image.open(io.BytesIO(second_input.content)).getpixel((5, 5)) == (0, 0, 0)
    assert client.get(f"/api/v1/edits/{body['id']}/inputs/2", headers=headers).status_code == 404

    for _ in range(4):
        submit(client, headers)
    first = client.get("/api/v1/edits?limit=2", headers=headers).json()
    assert len(first["items"]) == 2 and first["next_cursor"]
    seen = [item["id"] for item in first["items"]]
    cursor = first["next_cursor"]
    while cursor:
        page = client.get(f"/api/v1/edits?limit=2&cursor={cursor}", headers=headers).json()
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
    assert len(seen) == len(set(seen)) == 5
    assert client.get("/api/v1/edits?cursor=garbage", headers=headers).json()["error"]["field"] == "cursor"


def test_edit_this_result_uses_the_stored_result_as_first_image(client, person):
    headers = person["headers"]
    first = wait_for_edit(client, submit(client, headers, aspect_ratio="16:9").json()["id"], headers=headers)
    response = client.post("/api/v1/edits", data={"prompt": "Warmer", "parent_id": first["id"]}, headers=headers,
                           files=[("image", ("ref.png", small_png(color=(0, 255, 0)), "image/png"))])
    assert response.status_code == 202, response.text
    child = wait_for_edit(client, response.json()["id"], headers=headers)
    assert child["parent_id"] == first["id"] and child["image_count"] == 2
    assert (child["width"], child["height"]) == (1024, 576)  # auto follows the earlier result
    parent_result = client.get(first["result_url"], headers=headers).content
    copied = client.get(f"/api/v1/edits/{child['id']}/inputs/0", headers=headers).content
    assert Image.open(io.BytesIO(copied)).tobytes() == Image.open(io.BytesIO(parent_result)).tobytes()


def test_uploads_are_stored_upright_without_metadata(client, person):
    headers = person["headers"]
    exif = Image.Exif()
    exif[0x0112] = 6
    exif[0x8825] = {1: "N", 2: (48.0, 51.0, 24.0)}
    data = image_bytes("coffee.png", fmt="JPEG", exif=exif)
    response = client.post("/api/v1/edits", data={"prompt": "Brighter"}, headers=headers,
                           files=[("image", ("photo.png", data, "image/png"))])  # wrong name and type on purpose
    assert response.status_code == 202
    stored = client.get(f"/api/v1/edits/{response.json()['id']}/inputs/0", headers=headers)
    assert stored.headers["content-type"] == "image/jpeg"
    image = Image.open(io.BytesIO(stored.content))
    assert image.size == (400, 600) and image.getexif() == {}
    assert response.json()["width"] == 688  # auto took the upright (portrait) ratio


def test_plan_refusal_and_frame_conflict_are_refused_before_charging(client, person, settings):
    headers = person["headers"]
    before = balance(client, headers)
    refused = submit(client, headers, prompt="Please refuse this")
    assert refused.status_code == 422
    assert refused.json()["error"] == {"code": "edit_refused", "message": "This stand-in refuses on purpose.",
                                       "field": "prompt"}
    conflict = submit(client, headers, prompt="Make it a story", aspect_ratio="16:9")
    assert conflict.status_code == 422 and conflict.json()["error"]["field"] == "aspect_ratio"
    assert conflict.json()["error"]["code"] == "frame_conflict"
    story = submit(client, headers, prompt="Make it a story")
    assert (story.json()["width"], story.json()["height"]) == (576, 1024)
    estimate = client.post("/api/v1/estimate", json={"quality": "medium", "resolution": "1K",
                                                     "prompt": "refuse it"}, headers=headers).json()
    assert estimate["plan"] is None and estimate["refusal"]["clause"] == "refuse"
    assert balance(client, headers) == before - story.json()["credits"]


def test_estimate_answers(client, context):
    anonymous = client.post("/api/v1/estimate", json={"quality": "high", "resolution": "4K", "aspect_ratio": "auto",
                                                      "image_count": 3, "width": 600, "height": 400}).json()
    assert anonymous == {"credits": 16, "width": 3840, "height": 2560, "balance": None, "affordable": None,
                         "plan": None, "refusal": None, "native_width": 3840, "native_height": 2560,
                         "size_notes": []}
    user = create_user(context, credits=5)
    key = api_key_for(context, user.id)
    answer = client.post("/api/v1/estimate", json={"quality": "high", "resolution": "2K", "prompt": "brighter"},
                         headers={"Authorization": f"Bearer {key}"}).json()
    assert (answer["credits"], answer["balance"], answer["affordable"]) == (8, 5, False)
    assert answer["plan"] == ["Pass the image through (1 image(s))"]
    bad = client.post("/api/v1/estimate", json={"quality": "best", "resolution": "2K"})
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "quality"


def test_pricing_is_public(client):
    body = client.get("/api/v1/pricing").json()
    assert body["table"]["high"]["4K"] == 16 and body["extra_reference_credits"] == 0
    assert body["max_images"] == 9 and body["max_prompt_chars"] == 20_000
    assert body["resolutions"] == ["1K", "2K", "4K"] and body["qualities"] == ["low", "medium", "high"]
    assert "16:9" in body["aspect_ratios"] and body["output_formats"] == ["png", "jpeg", "webp"]
    assert {pack["id"] for pack in body["packs"]} == {"pack_100", "pack_250", "pack_700"}
    assert set(body["packs"][0]) == {"id", "credits", "amount", "currency"}


def test_failed_edit_returns_its_credits(client, person, backend, context):
    headers = person["headers"]
    backend.fail_in_edit = "No subject found in the image; try a product on a plain background."
    before = balance(client, headers)
    edit = wait_for_edit(client, submit(client, headers, quality="high", resolution="4K").json()["id"], headers=headers)
    assert edit["status"] == "failed" and edit["result_url"] is None
    assert edit["error"] == {"code": "no_subject", "message": backend.fail_in_edit}
    assert balance(client, headers) == before
    assert client.get(f"/api/v1/edits/{edit['id']}/result", headers=headers).status_code == 404
    kinds = [item["kind"] for item in client.get("/api/v1/ledger", headers=headers).json()["items"]]
    assert kinds[:2] == ["void", "reserve"]
    verify_ledger(context)


def test_delete_removes_the_edit_and_its_files(client, person, settings):
    headers = person["headers"]
    edit = wait_for_edit(client, submit(client, headers, resolution="4K").json()["id"], headers=headers)
    for path in (f"/api/v1/edits/{edit['id']}/result/preview", f"/api/v1/edits/{edit['id']}/inputs/0/preview"):
        small = client.get(path, headers=headers)
        assert small.headers["content-type"] == "image/webp"
        assert max(Image.open(io.BytesIO(small.content)).size) <= 640
    assert len([p for p in stored_files(settings) if edit["id"] in str(p)]) == 4  # input, result, two previews
    assert any(edit["id"] in str(path) for path in stored_files(settings))
    assert client.delete(f"/api/v1/edits/{edit['id']}", headers=headers).status_code == 204
    assert client.get(f"/api/v1/edits/{edit['id']}", headers=headers).status_code == 404
    assert not any(edit["id"] in str(path) for path in stored_files(settings))



@pytest.mark.parametrize("settings_overrides", [{"edit_workers": 1}], indirect=True)
def test_running_edit_cannot_be_deleted_but_a_queued_one_is_cancelled(client, person, backend, context):
    headers = person["headers"]
    backend.gate.clear()  # the only worker holds the first edit
    try:
        running = submit(client, headers).json()
        assert backend.started.wait(10)
        queued = submit(client, headers).json()
        assert client.get(f"/api/v1/edits/{queued['id']}", headers=headers).json()["status"] == "queued"
        before = balance(client, headers)
        conflict = client.delete(f"/api/v1/edits/{running['id']}", headers=headers)
        assert conflict.status_code == 409 and conflict.json()["error"]["code"] == "edit_running"
        assert client.delete(f"/api/v1/edits/{queued['id']}", headers=headers).status_code == 204
        assert balance(client, headers) == before + queued["credits"]
    finally:
        backend.gate.set()
    assert wait_for_edit(client, running["id"], headers=headers)["status"] == "succeeded"
    verify_ledger(context)


def test_ledger_endpoint_and_paging(client, person):
    headers = person["headers"]
    for _ in range(3):
        wait_for_edit(client, submit(client, headers).json()["id"], headers=headers)
    page = client.get("/api/v1/ledger?limit=4", headers=headers).json()
    assert len(page["items"]) == 4 and page["next_cursor"]
    item = page["items"][0]
    assert set(item) >= {"id", "kind", "amount", "balance_after", "reason", "edit_id", "created_at"}
    rest = client.get(f"/api/v1/ledger?limit=50&cursor={page['next_cursor']}", headers=headers).json()
    everything = page["items"] + rest["items"]
    assert rest["next_cursor"] is None and len(everything) == 7  # grant + 3 × (reserve, post)
    assert sum(entry["amount"] for entry in everything) == everything[0]["balance_after"]


def test_json_errors_have_the_envelope(client, person):
    response = client.get("/api/v1/nowhere")
    assert response.status_code == 404
    assert response.json() == {"error": {"code": "not_found", "message": "Not found.", "field": None}}
    response = client.post("/api/v1/auth/signup", json={"email": "x@example.com"})
    assert response.status_code == 422 and response.json()["error"]["field"] == "password"
    response = client.post("/api/v1/auth/signup", content=b"{not json", headers={"Content-Type": "application/json"})
    assert response.status_code == 422
    assert response.json()["error"] == {"code": "invalid_json", "message": "The body is not valid JSON.", "field": None}
    assert "Traceback" not in json.dumps(response.json())
