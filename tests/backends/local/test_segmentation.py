"""Finding the subject: the bottle's mask against its ground truth, people, and content refusals."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from PIL import Image

from app.backends.base import BackendRefused
from app.backends.local.person import PersonFinder
from app.backends.local.quality import quality_for
from app.backends.local.subject import find_subject
from tests.backends.local.conftest import FIXTURES, photo, pixels, studio_product

pytestmark = pytest.mark.nodb


def bottle_iou(backend, quality: str) -> float:
    """IoU of the engine's cut-out (alpha > 0.5 at the source size) with product_bottle_gt.png."""
    source = photo("product_bottle.jpg")
    truth = np.asarray(Image.open(FIXTURES / "product_bottle_gt.png")) > 127
    result = backend.edit(
        __import__("app.backends.base", fromlist=["EditRequest"]).EditRequest(
            images=[source],
            prompt="remove the background",
            quality=quality,
            width=source.width,
            height=source.height,
            output_format="png",
        )
    )
    mask = np.asarray(result.image)[..., 3] > 127
    return float((mask & truth).sum() / (mask | truth).sum())


@pytest.fixture(scope="module")
def bottle_ious(backend) -> dict[str, float]:
    return {quality: bottle_iou(backend, quality) for quality in ("low", "medium", "high")}


@pytest.mark.parametrize("quality", ["medium", "high"])
def test_bottle_cutout_matches_the_ground_truth(bottle_ious, quality):
    assert bottle_ious[quality] >= 0.98


def test_higher_quality_is_never_worse_on_the_bottle(bottle_ious):
    # Low has no edge refinement, so it is visibly coarser; high refines from a finer mask.
    assert bottle_ious["low"] >= 0.96
    assert bottle_ious["medium"] > bottle_ious["low"]
    assert bottle_ious["high"] >= bottle_ious["medium"] - 0.001


def test_synthetic_product_is_found_with_its_shadow_left_out():
    image = studio_product()
    subject = find_subject(np.asarray(image), quality_for("medium"), PersonFinder(FIXTURES / "none"), required=True)
    assert subject is not None and subject.kind == "product"
    x0, y0, x1, y1 = subject.box()
    # The box drawn at (0.38, 0.25)–(0.62, 0.85) of 900×700; the floor shadow below it is not subject.
    assert abs(x0 - 342) < 6 and abs(x1 - 558) < 6
    assert abs(y0 - 175) < 6 and abs(y1 - 595) < 6


def test_person_is_found_by_face_and_segmented(model_dir):
    finder = PersonFinder(model_dir)
    image = np.asarray(photo("grace_hopper.jpg"))
    faces = finder.faces(image)
    assert faces and faces[0].score > 0.8
    face = faces[0]
    assert 200 < face.cx < 330 and 170 < face.cy < 320
    subject = find_subject(image, quality_for("medium"), finder, required=True)
    assert subject is not None and subject.kind == "person"
    alpha = cv2.resize(subject.alpha, (image.shape[1], image.shape[0]))
    x0, y0, x1, y1 = face.box
    assert alpha[y0:y1, x0:x1].mean() > 0.9  # the face is in the person
    assert alpha[:60, 420:].mean() < 0.1  # the blue backdrop top right is not


def test_no_face_in_a_product_shot(model_dir):
    assert PersonFinder(model_dir).faces(np.asarray(photo("product_bottle.jpg"))) == []


def test_busy_photo_refuses_background_edits(edit):
    with pytest.raises(BackendRefused) as refused:
        edit("white background", [photo("coffee.png")])
    assert refused.value.code == "no_subject_found"
    assert "plain backdrop" in refused.value.message and "person" in refused.value.message


def test_white_on_white_refuses(edit):
    image = studio_product(backdrop=(244, 244, 244), product=(247, 247, 246))
    with pytest.raises(BackendRefused) as refused:
        edit("remove the background", [image])
    assert refused.value.code in ("no_subject_found", "subject_unclear")


def test_subject_running_off_three_sides_refuses(edit):
    # A wide product across the lower part of the frame, cut off left, right and below.
    image = studio_product(box=(-0.05, 0.6, 1.05, 1.05))
    with pytest.raises(BackendRefused) as refused:
        edit("remove the background", [image])
    assert refused.value.code == "subject_unclear"
    assert "several sides" in refused.value.message


def test_a_product_on_a_table_in_front_of_a_wall_is_refused_for_the_real_reason(edit):
    # Wall above, table below, the bottle wholly inside the frame: it is the table that reaches three sides,
    # so the refusal must not say the subject is cut off, only that the backdrop is not one surface.
    image = Image.new("RGB", (800, 600), (225, 222, 215))
    image.paste((150, 105, 70), (0, 380, 800, 600))
    image.paste((30, 90, 160), (350, 180, 450, 460))
    with pytest.raises(BackendRefused) as refused:
        edit("white background", [image])
    assert "not one plain surface (a table in front of a wall" in refused.value.message
    assert "plain backdrop" in refused.value.message  # and what works


def test_missing_model_refuses_people_with_the_install_hint(bare_backend):
    from app.backends.base import EditRequest

    request = EditRequest(
        images=[photo("grace_hopper.jpg")], prompt="blur the background", quality="low", width=512, height=608
    )
    with pytest.raises(BackendRefused) as refused:
        bare_backend.edit(request)
    assert refused.value.code == "model_missing"
    assert "python -m app.backends.local.models" in refused.value.message


def test_missing_model_still_cuts_out_products(bare_backend):
    from app.backends.base import EditRequest

    result = bare_backend.edit(
        EditRequest(images=[studio_product()], prompt="white background", quality="low", width=448, height=352)
    )
    assert result.image.size == (448, 352)
    assert pixels(result.image)[:20, :20].mean() > 250


def test_colour_and_framing_edits_need_no_subject(edit):
    result = edit("warmer, square", [photo("coffee.png")], width=512, height=512)
    assert result.image.size == (512, 512)
