"""The plan says, before the charge, what framing will do to the subject: when the picture is known (at
submit), a crop that cannot hold a head or a product says what it will cut and how to keep it all, and a
crop that will extend instead says so; the estimate, which has no pixels, says neither."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from app.backends.base import PlanRequest
from app.backends.local.engine import LocalBackend
from app.main import create_app
from tests.backends.local.conftest import FIXTURES, photo
from tests.backends.local.test_framing import PAIR, picture
from tests.conftest import api_key_for, create_user

HEAD_CUT = "The head does not fit in 21:9: its top will be cut; say 'extend to 21:9' to keep all of it"


def planned(backend: LocalBackend, prompt: str, image: Image.Image, **fields) -> list[str]:
    request = PlanRequest(prompt, main_size=image.size, load_main_image=lambda: image, quality="low", **fields)
    return backend.plan(request).steps


@pytest.mark.nodb
def test_a_crop_that_will_cut_a_head_says_so_in_the_plan(backend):
    grace = photo("grace_hopper.jpg")
    assert planned(backend, "Crop to 21:9", grace) == ["Crop to 21:9, centred on the subject", HEAD_CUT]
    # The settings' shape is framed the same way as the instruction's.
    assert HEAD_CUT in planned(backend, "Make it warmer", grace, output_aspect=(21, 9))
    # A shape that holds the head, or extending to the same shape, cuts nothing.
    assert not any("fit" in step for step in planned(backend, "Crop to 1:1", grace))
    assert planned(backend, "Extend to 21:9", grace) == ["Extend to 21:9 without cropping"]


@pytest.mark.nodb
def test_without_the_picture_the_plan_guesses_nothing(backend):
    grace = photo("grace_hopper.jpg")
    assert backend.plan(PlanRequest("Crop to 21:9", main_size=grace.size)).steps == [
        "Crop to 21:9, centred on the subject"
    ]


@pytest.mark.nodb
def test_a_shape_only_the_settings_ask_for_is_a_step_of_the_plan(backend):
    # "Make it warmer" with the aspect ratio set to 16:9 crops a portrait: the plan says so before the
    # charge, with or without the picture, and says an extension where a product would be cut.
    grace, bottle = photo("grace_hopper.jpg"), photo("product_bottle.jpg")
    crop = "Crop the top and bottom to fit 16:9 (the aspect-ratio setting), keeping the subject in the frame"
    without_picture = backend.plan(PlanRequest("Make it warmer", main_size=grace.size, output_aspect=(16, 9)))
    assert without_picture.steps == ["Make the colours warmer by 20%", crop]
    assert crop in planned(backend, "Make it warmer", grace, output_aspect=(16, 9))
    assert planned(backend, "White background", bottle, output_aspect=(21, 9))[-1] == (
        "Extend the canvas to fit 21:9 (the aspect-ratio setting), so the subject is not cut")
    # The instruction's own shape is not said twice, and a setting that keeps the shape adds nothing.
    assert planned(backend, "Crop to 16:9", grace, output_aspect=(16, 9))[0] == "Crop to 16:9, centred on the subject"
    assert len(planned(backend, "Make it warmer", grace, output_aspect=grace.size)) == 1


@pytest.mark.nodb
def test_the_plan_names_the_person_a_crop_leaves_out(backend):
    steps = planned(backend, "Crop to 1:1", picture(PAIR))
    said = "The 2 heads do not all fit in 1:1: the one on the left will be cut; say 'extend to 1:1' to keep them all"
    assert said in steps


@pytest.mark.nodb
def test_a_product_taller_than_the_crop_is_planned_as_an_extension(backend):
    steps = planned(backend, "Crop to 21:9", photo("product_bottle.jpg"))
    assert steps == ["Extend to 21:9 instead of cropping, so the subject is not cut"]


@pytest.mark.nodb
@pytest.mark.parametrize(
    ("name", "prompt", "size"),
    [
        ("grace_hopper.jpg", "Crop to 21:9", (672, 288)),
        (PAIR, "Crop to 4:5", (256, 320)),
        ("product_bottle.jpg", "Crop to 21:9", (672, 288)),
        ("coffee.png", "Make it a YouTube thumbnail", (512, 288)),
    ],
)
def test_the_plan_says_what_the_result_does(backend, edit, name, prompt, size):
    # What the plan foretells about the frame is what the edit then reports, word for word but the tense.
    image = picture(name)
    foretold = [
        step.replace("will be cut", "is cut").split("; say")[0]
        for step in planned(backend, prompt, image)
        if "fit in" in step or "instead of cropping" in step
    ]
    assert foretold, "the plan says nothing about the frame"
    done = edit(prompt, [image], width=size[0], height=size[1], quality="low").plan
    assert foretold == [step for step in done if "fit in" in step or "instead of cropping" in step]


@pytest.mark.parametrize("settings_overrides", [{"edit_backend": "local", "edit_workers": 0}], indirect=True)
def test_the_submitted_edit_shows_the_cut_before_it_runs(settings, context):
    # Through the API: the edit's plan, answered at submit (before it runs and is charged), says it; the
    # estimate for the same request, made without the picture, does not.
    user = create_user(context, credits=20)
    headers = {"Authorization": f"Bearer {api_key_for(context, user.id)}"}
    grace = (FIXTURES / "grace_hopper.jpg").read_bytes()
    fields = {"prompt": "Crop to 21:9", "quality": "low", "resolution": "1K"}
    with TestClient(create_app(context=context, run_workers=False)) as client:
        submitted = client.post("/api/v1/edits", headers=headers, data=fields,
                                files=[("image", ("grace.jpg", grace, "image/jpeg"))])
        assert submitted.status_code == 202, submitted.text
        assert submitted.json()["status"] == "queued" and HEAD_CUT in submitted.json()["plan"]
        estimate = client.post("/api/v1/estimate", headers=headers, json={**fields, "width": 512, "height": 600})
        assert estimate.status_code == 200, estimate.text
        assert estimate.json()["plan"] == ["Crop to 21:9, centred on the subject"]
        # The shape set in the settings rather than the instruction is framed alike.
        warmer = client.post("/api/v1/edits", headers=headers,
                             data={**fields, "prompt": "Make it warmer", "aspect_ratio": "21:9"},
                             files=[("image", ("grace.jpg", grace, "image/jpeg"))])
        assert warmer.status_code == 202, warmer.text
        assert HEAD_CUT in warmer.json()["plan"]
