"""Reasons that are right: real-world phrasings get the plan or the kind of refusal they should (issue 11)."""

from __future__ import annotations

import colorsys

import pytest

from app.backends.base import BackendRefused
from app.backends.local.parser import parse
from app.backends.local.plan import BackgroundGradient
from tests.backends.local.phrasings import PHRASINGS, SOURCES, WRONG, outcome, verdict

pytestmark = pytest.mark.nodb


def test_there_are_enough_phrasings_each_with_a_known_source():
    assert len(PHRASINGS) >= 100
    assert len({phrasing.text.lower() for phrasing in PHRASINGS}) == len(PHRASINGS)
    assert {phrasing.source for phrasing in PHRASINGS} <= set(SOURCES)


@pytest.mark.parametrize("phrasing", PHRASINGS, ids=[p.text[:50] for p in PHRASINGS])
def test_phrasing_gets_its_right_outcome(phrasing):
    assert verdict(phrasing) != WRONG, f"expected {sorted(phrasing.expected)}, got {sorted(outcome(phrasing))}"


def refusal(prompt: str) -> BackendRefused:
    with pytest.raises(BackendRefused) as refused:
        parse(prompt)
    return refused.value


# A clause that keeps a part of the subject is a constraint the engine keeps anyway, whatever the part is
# called: the nouns here are in no word list.
@pytest.mark.parametrize(
    ("prompt", "kept"),
    [
        ("Blur the background but keep her glasses and medals sharp", "Keep the subject sharp"),
        ("blur the background, keep the zipper pulls and rivets crisp", "Keep the subject sharp"),
        ("remove the background, keep the cup and saucer", "Keep the subject unchanged"),
        ("remove the background, keep the kettle, trivet and ladle", "Keep the subject unchanged"),
        ("white background, make sure the label text stays readable", "Keep the subject sharp"),
        ("white background, the serial number must remain legible", "Keep the subject sharp"),
        ("blur the background but don't blur the bouquet", "Keep the subject sharp"),
    ],
)
def test_a_kept_part_of_the_subject_is_a_constraint(prompt, kept):
    assert parse(prompt).steps()[-1] == kept


def test_keeping_a_part_of_the_setting_contradicts_changing_the_background():
    refused = refusal("Blur the background but keep the sky sharp")
    assert refused.code == "contradictory_instruction"
    assert "keep the sky sharp" in refused.message and refused.clause == "Blur the background"


def test_a_new_thing_still_needs_a_generative_model():
    assert refusal("add glasses and medals").code == "needs_generative_model"
    assert refusal("Replace the background with a sunset").code == "needs_generative_model"


def test_a_light_named_as_a_look_is_that_look():
    assert parse("Make it warmer, like a sunset").steps() == parse("Make it warmer, like golden hour").steps()
    assert parse("sunset vibes").steps() == parse("golden hour").steps()


def test_cinematic_beside_another_shape_is_the_look_not_a_second_shape():
    steps = parse("Make it cinematic, 16:9, slightly cooler").steps()
    assert steps[-1] == "Crop to 16:9, centred on the subject"
    assert "Make the colours cooler by 30%" not in steps and "Increase contrast by 20%" in steps
    assert parse("Make it cinematic").steps() == ["Crop to 21:9 (cinematic), centred on the subject"]


def hls(rgb: tuple[int, int, int]) -> tuple[float, float, float]:
    return colorsys.rgb_to_hls(*(channel / 255 for channel in rgb))


@pytest.mark.parametrize(
    "prompt",
    [
        "Soft blue to purple gradient",
        "soft gradient from navy to teal",
        "pastel orange to green gradient background",
        "pale red and blue gradient",
    ],
)
def test_a_soft_gradient_is_light_and_muted_at_both_ends(prompt):
    gradient = parse(prompt).find(BackgroundGradient)[0]
    for end in (gradient.start, gradient.end):
        _hue, lightness, saturation = hls(end)
        assert lightness >= 0.74 and saturation <= 0.51, (prompt, end)


def test_soft_blue_to_purple_keeps_its_hues():
    gradient = parse("Soft blue to purple gradient").find(BackgroundGradient)[0]
    start_hue, end_hue = hls(gradient.start)[0] * 360, hls(gradient.end)[0] * 360
    assert abs(start_hue - 240) < 2 and abs(end_hue - 300) < 2
    # Colours named without softening stay as named.
    plain = parse("blue to purple gradient").find(BackgroundGradient)[0]
    assert (plain.start, plain.end) == ((0, 0, 255), (128, 0, 128))


def test_vague_praise_alone_is_ambiguous_and_beside_a_request_is_context():
    refused = refusal("Make it look professional")
    assert refused.code == "ambiguous_instruction" and "look professional" in refused.message
    assert parse("brighter, so it looks more professional").steps() == ["Brighten by 20%"]


def test_shadows_and_highlights_are_refused_as_outside_the_engine_not_as_a_drop_shadow():
    refused = refusal("Make the shadows lighter")
    assert refused.code == "instruction_not_understood" and "whole photo" in refused.message
