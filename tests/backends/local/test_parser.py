"""The instruction parser: phrasings with their exact plans, and every class of refusal."""

from __future__ import annotations

import random
import time

import pytest

from app.backends.base import BackendRefused, PlanRequest
from app.backends.local.parser import parse

pytestmark = pytest.mark.nodb

MAIN = (1600, 1200)

# (image count, instruction, plan steps, aspect asked for with a 1600×1200 main image)
PHRASINGS = [
    (
        1,
        "Replace the background with white and add a soft shadow",
        ["Replace the background with #FFFFFF", "Add a soft shadow"],
        None,
    ),
    (1, "white background with a soft shadow", ["Replace the background with #FFFFFF", "Add a soft shadow"], None),
    (1, "put the bottle on a light grey background", ["Replace the background with #D3D3D3"], None),
    (1, "change the background to #ff8800", ["Replace the background with #FF8800"], None),
    (1, "Background: #0F0", ["Replace the background with #00FF00"], None),
    (1, "set the background to rgb(10, 20, 30)", ["Replace the background with #0A141E"], None),
    (1, "make the background navy blue", ["Replace the background with #000080"], None),
    (1, "a pastel pink backdrop", ["Replace the background with #FFD1DC"], None),
    (1, "plain background", ["Replace the background with #FFFFFF"], None),
    (1, "remove the background", ["Remove the background (transparent in PNG and WebP, white in JPEG)"], None),
    (
        1,
        "make the background transparent",
        ["Remove the background (transparent in PNG and WebP, white in JPEG)"],
        None,
    ),
    (1, "cut out the product", ["Remove the background (transparent in PNG and WebP, white in JPEG)"], None),
    (1, "no background", ["Remove the background (transparent in PNG and WebP, white in JPEG)"], None),
    (1, "transparent PNG please", ["Remove the background (transparent in PNG and WebP, white in JPEG)"], None),
    (
        1,
        "gradient background from navy to teal",
        ["Replace the background with a vertical gradient from #000080 to #008080"],
        None,
    ),
    (
        1,
        "a blue to purple gradient background",
        ["Replace the background with a vertical gradient from #0000FF to #800080"],
        None,
    ),
    (
        1,
        "horizontal gradient from #fff to #000 as the background",
        ["Replace the background with a horizontal gradient from #FFFFFF to #000000"],
        None,
    ),
    (
        1,
        "radial gradient background of white and light grey",
        ["Replace the background with a radial gradient from #FFFFFF to #D3D3D3"],
        None,
    ),
    (
        1,
        "a soft blue gradient background",  # soft: a pastel blue (issue 11), into a lighter one
        ["Replace the background with a vertical gradient from #F4F4FB to #9F9FDF"],
        None,
    ),
    (1, "blur the background", ["Blur the background (portrait mode)"], None),
    (1, "portrait mode", ["Blur the background (portrait mode)"], None),
    (1, "blur the background a lot", ["Blur the background (portrait mode) at 85% strength"], None),
    (1, "blur the background slightly", ["Blur the background (portrait mode) at 30% strength"], None),
    (1, "blur the background by 40%", ["Blur the background (portrait mode) at 40% strength"], None),
    (
        1,
        "keep the person sharp and blur the background",
        ["Blur the background (portrait mode)", "Keep the subject sharp"],
        None,
    ),
    (
        2,
        "use image 2 as the background",
        [
            "Replace the background with image 2 (cover-fit, lightly defocused)",
            "Nudge the subject's colours toward image 2",
        ],
        None,
    ),
    (
        2,
        "put the product in front of the other photo",
        [
            "Replace the background with image 2 (cover-fit, lightly defocused)",
            "Nudge the subject's colours toward image 2",
        ],
        None,
    ),
    (
        2,
        "replace the background with the second image and keep the colours",
        ["Replace the background with image 2 (cover-fit, lightly defocused)", "Keep the colours unchanged"],
        None,
    ),
    (
        3,
        "use image 3 as the backdrop",
        [
            "Replace the background with image 3 (cover-fit, lightly defocused)",
            "Nudge the subject's colours toward image 3",
        ],
        None,
    ),
    (2, "match the colours of the other photo", ["Match the colours and mood of image 2"], None),
    (2, "match the mood of the second image slightly", ["Match the colours and mood of image 2 at 40% strength"], None),
    (2, "colour grade it like image 2 at 50%", ["Match the colours and mood of image 2 at 50% strength"], None),
    (
        2,
        "place her in front of the other photo and match its colours",
        ["Replace the background with image 2 (cover-fit, lightly defocused)", "Match the colours and mood of image 2"],
        None,
    ),
    (1, "make it a bit warmer", ["Make the colours warmer by 10%"], None),
    (1, "much warmer", ["Make the colours warmer by 40%"], None),
    (1, "make it warmer, but not too much", ["Make the colours warmer by 10%"], None),
    (1, "cooler by 30%", ["Make the colours cooler by 30%"], None),
    (1, "warm it up a touch", ["Make the colours warmer by 10%"], None),
    (1, "turn down the warmth by 30 percent", ["Make the colours cooler by 30%"], None),
    (1, "increase brightness by 20%", ["Brighten by 20%"], None),
    (1, "make it 20% brighter", ["Brighten by 20%"], None),
    (1, "brightness +15%", ["Brighten by 15%"], None),
    (1, "darker", ["Darken by 20%"], None),
    (1, "slightly darker and much more contrast", ["Darken by 10%", "Increase contrast by 40%"], None),
    (1, "contrast -10%", ["Reduce contrast by 10%"], None),
    (1, "increase the contrast and saturation", ["Increase contrast by 20%", "Increase saturation by 20%"], None),
    (1, "boost the colours", ["Increase saturation by 20%"], None),
    (1, "desaturate the colours slightly", ["Reduce saturation by 10%"], None),
    (1, "less saturation", ["Reduce saturation by 20%"], None),
    (1, "more vibrant", ["Increase saturation by 25%", "Increase contrast by 10%"], None),
    (
        1,
        "make it vintage",
        ["Reduce contrast by 15%", "Reduce saturation by 15%", "Apply a sepia tone at 35% strength"],
        None,
    ),
    (1, "dramatic look", ["Increase contrast by 35%", "Reduce saturation by 10%", "Darken by 5%"], None),
    (1, "golden hour", ["Make the colours warmer by 35%", "Increase saturation by 10%", "Brighten by 5%"], None),
    (1, "auto enhance", ["Auto-adjust the levels"], None),
    (1, "black and white", ["Convert to black and white"], None),
    (1, "convert to greyscale", ["Convert to black and white"], None),
    (1, "make it b&w", ["Convert to black and white"], None),
    (1, "sepia", ["Apply a sepia tone"], None),
    (1, "sepia tone at 50%", ["Apply a sepia tone at 50% strength"], None),
    (1, "sharpen", ["Sharpen"], None),
    (1, "sharpen slightly", ["Sharpen at 30% strength"], None),
    (1, "make it a lot sharper", ["Sharpen at 100% strength"], None),
    (1, "reduce noise", ["Reduce noise (light)"], None),
    (1, "remove grain", ["Reduce noise (light)"], None),
    (1, "rotate 90 degrees counterclockwise", ["Rotate 90° counter-clockwise"], (3, 4)),
    (1, "rotate it to the right", ["Rotate 90° clockwise"], (3, 4)),
    (1, "turn it upside down", ["Rotate 180°"], None),
    (1, "flip horizontally", ["Mirror horizontally"], None),
    (1, "flip it upside down", ["Flip vertically"], None),
    (1, "mirror", ["Mirror horizontally"], None),
    (1, "Instagram story", ["Crop to 9:16 (Instagram story), centred on the subject"], (9, 16)),
    (1, "YouTube thumbnail", ["Crop to 16:9 (YouTube thumbnail), centred on the subject"], (16, 9)),
    (1, "make it square", ["Crop to 1:1 (square), centred on the subject"], (1, 1)),
    (1, "crop to 16:9", ["Crop to 16:9, centred on the subject"], (16, 9)),
    (1, "crop to 4:5 and sharpen slightly", ["Crop to 4:5, centred on the subject", "Sharpen at 30% strength"], (4, 5)),
    (1, "crop to 1.91:1", ["Crop to 191:100, centred on the subject"], (191, 100)),
    (1, "16 by 9 please", ["Crop to 16:9, centred on the subject"], (16, 9)),
    (1, "make it square but don't crop", ["Extend to 1:1 (square) without cropping"], (1, 1)),
    (
        1,
        "Make it an Instagram story, keep the whole product in frame",
        ["Extend to 9:16 (Instagram story) without cropping"],
        (9, 16),
    ),
    (1, "without cropping, make it 16:9", ["Extend to 16:9 without cropping"], (16, 9)),
    (1, "extend to 21:9", ["Extend to 21:9 without cropping"], (21, 9)),
    (1, "crop close around the product", ["Crop close around the subject"], None),
    (1, "center the product", ["Centre the subject"], None),
    (1, "don't crop", ["Keep the whole picture (extend rather than crop if the shape changes)"], None),
    (
        1,
        "square white background",
        ["Replace the background with #FFFFFF", "Crop to 1:1 (square), centred on the subject"],
        (1, 1),
    ),
    (1, "16:9 black and white", ["Convert to black and white", "Crop to 16:9, centred on the subject"], (16, 9)),
    (
        1,
        "Instagram story with a navy to teal gradient background and a soft shadow",
        [
            "Replace the background with a vertical gradient from #000080 to #008080",
            "Add a soft shadow",
            "Crop to 9:16 (Instagram story), centred on the subject",
        ],
        (9, 16),
    ),
    (
        1,
        "YouTube thumbnail, warmer, much more saturated",
        [
            "Make the colours warmer by 20%",
            "Increase saturation by 40%",
            "Crop to 16:9 (YouTube thumbnail), centred on the subject",
        ],
        (16, 9),
    ),
    (
        1,
        "Instagram story please. Warm it up a touch and sharpen.",
        ["Make the colours warmer by 10%", "Crop to 9:16 (Instagram story), centred on the subject", "Sharpen"],
        (9, 16),
    ),
    (
        1,
        "remove the background, then add a strong shadow, and crop to square",
        [
            "Remove the background (transparent in PNG and WebP, white in JPEG)",
            "Add a soft shadow at 70% strength",
            "Crop to 1:1 (square), centred on the subject",
        ],
        (1, 1),
    ),
    (1, "white background, no shadow", ["Replace the background with #FFFFFF"], None),
    (
        1,
        "keep the background, make it warmer",
        ["Make the colours warmer by 20%", "Keep the background unchanged"],
        None,
    ),
    (
        1,
        "don't change the background, just brighten it a little",
        ["Brighten by 10%", "Keep the background unchanged"],
        None,
    ),
    (1, "rotate 180 and make it black and white", ["Rotate 180°", "Convert to black and white"], None),
    (1, "just resize it", ["Resize to the chosen output size, with no other change"], None),
    # Destinations are context; keep-constraints, "without shadow" and presets customers type.
    (1, "white background for amazon listing", ["Replace the background with #FFFFFF"], None),
    (1, "pure white background, product photo for shopify", ["Replace the background with #FFFFFF"], None),
    (1, "product photo on a white background for my online store", ["Replace the background with #FFFFFF"], None),
    (1, "white background with no shadow, for my website", ["Replace the background with #FFFFFF"], None),
    (1, "white background without shadow", ["Replace the background with #FFFFFF"], None),
    (1, "remove bg for ebay", ["Remove the background (transparent in PNG and WebP, white in JPEG)"], None),
    (
        1,
        "transparent background for my etsy shop",
        ["Remove the background (transparent in PNG and WebP, white in JPEG)"],
        None,
    ),
    (
        1,
        "blur the background, keep me sharp",
        ["Blur the background (portrait mode)", "Keep the subject sharp"],
        None,
    ),
    (1, "blur the background behind me", ["Blur the background (portrait mode)"], None),
    (
        1,
        "Replace the background with white, keep the product exactly as it is",
        ["Replace the background with #FFFFFF", "Keep the subject unchanged"],
        None,
    ),
    (
        1,
        "white background, leave the product untouched",
        ["Replace the background with #FFFFFF", "Keep the subject unchanged"],
        None,
    ),
    (
        1,
        "warmer without changing the background",
        ["Make the colours warmer by 20%", "Keep the background unchanged"],
        None,
    ),
    (1, "square for instagram", ["Crop to 1:1 (square), centred on the subject"], (1, 1)),
    (1, "make it square for instagram", ["Crop to 1:1 (square), centred on the subject"], (1, 1)),
    (1, "crop to square for my profile", ["Crop to 1:1 (square), centred on the subject"], (1, 1)),
    (
        1,
        "LinkedIn profile photo",
        ["Centre the subject", "Crop to 1:1 (LinkedIn profile photo), centred on the subject"],
        (1, 1),
    ),
    (1, "profile picture", ["Centre the subject", "Crop to 1:1 (profile photo), centred on the subject"], (1, 1)),
    (1, "Facebook cover", ["Crop to 820:312 (Facebook cover), centred on the subject"], (820, 312)),
    (1, "Pinterest pin", ["Crop to 2:3 (Pinterest pin), centred on the subject"], (2, 3)),
    (
        1,
        "Pinterest pin with a white background",
        ["Replace the background with #FFFFFF", "Crop to 2:3 (Pinterest pin), centred on the subject"],
        (2, 3),
    ),
    (1, "twitter header", ["Crop to 3:1 (X/Twitter header), centred on the subject"], (3, 1)),
    (1, "fix the lighting", ["Auto-adjust the levels"], None),
    (1, "fix the colours", ["Auto-adjust the levels"], None),
    (1, "make it less yellow", ["Make the colours cooler by 20%"], None),
    (1, "remove the yellow tint", ["Neutralise the yellow colour cast (as measured in the photo)"], None),
    (1, "get rid of the greenish cast", ["Neutralise the green colour cast (as measured in the photo)"], None),
    (1, "fix the white balance", ["Correct the white balance (as measured in the photo)"], None),
    (1, "remove the colour cast", ["Correct the white balance (as measured in the photo)"], None),
    (1, "it's too green, fix it", ["Shift the colours toward magenta by 20%"], None),
    (1, "it's too dark", ["Brighten by 20%"], None),
    (1, "the photo is a bit too bright", ["Darken by 10%"], None),
    (1, "less saturated", ["Reduce saturation by 20%"], None),
    (1, "not bright enough", ["Brighten by 20%"], None),
    (1, "too blurry", ["Sharpen"], None),
    (1, "too noisy", ["Reduce noise (light)"], None),
    (
        1,
        "a bit too bright, and not enough contrast",
        ["Darken by 10%", "Increase contrast by 20%"],
        None,
    ),
    (
        1,
        "Instagram story for my shop, less yellow and a bit sharper",
        [
            "Make the colours cooler by 20%",
            "Crop to 9:16 (Instagram story), centred on the subject",
            "Sharpen at 30% strength",
        ],
        (9, 16),
    ),
]


@pytest.mark.parametrize(("count", "prompt", "steps", "aspect"), PHRASINGS, ids=[p[1][:40] for p in PHRASINGS])
def test_phrasing_gives_the_exact_plan(count, prompt, steps, aspect):
    plan = parse(prompt, count)
    assert plan.steps() == steps
    assert plan.aspect(MAIN) == aspect


# (image count, instruction, refusal code, quoted clause)
REFUSALS = [
    (1, "add a hat", "needs_generative_model", "add a hat"),
    (1, "replace the sky with a sunset", "needs_generative_model", "replace the sky with a sunset"),
    (1, "make it look like a painting", "needs_generative_model", "make it look like a painting"),
    (1, "remove the person in the background", "needs_generative_model", "remove the person in the background"),
    (1, "remove the bottle", "needs_generative_model", "remove the bottle"),
    (1, "turn the cup into a golden dragon", "needs_generative_model", "turn the cup into a golden dragon"),
    (1, "make it 4K", "use_settings", "make it 4K"),
    (1, "save it as jpeg", "use_settings", "save it as jpeg"),
    (1, "hello there", "nothing_to_do", "hello there"),
    (1, "make it better", "needs_generative_model", "make it better"),
    (1, "", "nothing_to_do", None),
    (1, "please", "nothing_to_do", "please"),
    (1, "rotate 45 degrees", "value_out_of_range", "rotate 45 degrees"),
    (1, "rotate 360 degrees", "value_out_of_range", "rotate 360 degrees"),
    (1, "crop to 5:1", "value_out_of_range", "crop to 5:1"),
    (1, "increase brightness by 150%", "value_out_of_range", "increase brightness by 150%"),
    (1, "denoise strongly", "value_out_of_range", "denoise strongly"),
    (1, "blur the whole photo", "instruction_not_understood", "blur the whole photo"),
    (1, "make the background darker", "instruction_not_understood", "make the background darker"),
    (1, "make it warmer and cooler", "contradictory_instruction", "cooler"),
    (1, "keep the colours, make it black and white", "contradictory_instruction", "make it black and white"),
    (1, "don't crop, crop to 16:9", "contradictory_instruction", "crop to 16:9"),
    (1, "keep the background and remove it", "instruction_not_understood", "remove it"),
    (1, "white background and blur the background", "contradictory_instruction", "blur the background"),
    (1, "add a shadow", "instruction_not_understood", "add a shadow"),
    (1, "blur the background with a soft shadow", "instruction_not_understood", "with a soft shadow"),
    (1, "crop it", "instruction_not_understood", "crop it"),
    (1, "keep the aspect ratio, rotate 90 degrees", "contradictory_instruction", "rotate 90 degrees"),
    (1, "use image 2 as the background", "bad_image_reference", "use image 2 as the background"),
    (2, "use image 3 as the background", "bad_image_reference", "use image 3 as the background"),
    (3, "use the other photo as the background", "bad_image_reference", "use the other photo as the background"),
    (1, "match the colours", "bad_image_reference", "match the colours"),
    (1, "match the colours of image 1", "bad_image_reference", "match the colours of image 1"),
    (2, "use image 1 as the background", "bad_image_reference", "use image 1 as the background"),
    (1, "no shadow, add a soft shadow", "contradictory_instruction", "no shadow"),
    (1, "black and white and sepia", "contradictory_instruction", "sepia"),
    (1, "square and 16:9", "contradictory_instruction", "16:9"),
    (1, "make the product red", "needs_generative_model", "make the product red"),
    (1, "add grain", "instruction_not_understood", "add grain"),
    (1, "change the background to a beach", "needs_generative_model", "change the background to a beach"),
    (1, "make her smile", "needs_generative_model", "make her smile"),
    (1, "add text saying SALE", "needs_generative_model", "add text saying SALE"),
    (1, "upscale", "use_settings", "upscale"),
    (1, "slightly", "instruction_not_understood", "slightly"),
    (1, "deblur the image", "instruction_not_understood", "deblur the image"),
    (1, "increase it", "instruction_not_understood", "increase it"),
    (1, "make it square for instagrm", "instruction_not_understood", "make it square for instagrm"),
    (1, "for instagram", "nothing_to_do", "for instagram"),
    (1, "product photo for shopify", "nothing_to_do", "product photo for shopify"),
    (1, "fix it", "instruction_not_understood", "fix it"),
    (1, "keep me sharp", "nothing_to_do", "keep me sharp"),
    (1, "linkedin banner", "value_out_of_range", "linkedin banner"),
    (1, "passport photo", "instruction_not_understood", "passport photo"),
    (1, "too sharp", "instruction_not_understood", "too sharp"),
    (1, "make it less white", "instruction_not_understood", "make it less white"),
    (1, "white background with a shadow, no shadow", "contradictory_instruction", "no shadow"),
]


@pytest.mark.parametrize(("count", "prompt", "code", "clause"), REFUSALS, ids=[r[1][:40] or "empty" for r in REFUSALS])
def test_refusal_names_the_class_and_quotes_the_clause(count, prompt, code, clause):
    with pytest.raises(BackendRefused) as refused:
        parse(prompt, count)
    assert refused.value.code == code
    assert refused.value.clause == clause
    assert refused.value.message


def test_refusal_message_says_why_in_short():
    with pytest.raises(BackendRefused) as refused:
        parse("Make it warmer, then turn the cup into a golden dragon")
    assert refused.value.clause == "turn the cup into a golden dragon"
    assert "generative" in refused.value.message


@pytest.mark.parametrize(("count", "prompt", "code", "clause"), REFUSALS, ids=[r[1][:40] or "empty" for r in REFUSALS])
def test_refusal_message_is_short(count, prompt, code, clause):
    with pytest.raises(BackendRefused) as refused:
        parse(prompt, count)
    message = refused.value.message
    # One or two short sentences: why, and what works. The clause is quoted separately and the editor
    # links the help page under the refusal, so neither is repeated here.
    assert len(message) <= 200, message
    assert message.count(". ") + message.count("; ") <= 2, message
    assert "/help" not in message and "http" not in message
    if clause and len(clause) > 12:
        assert f"“{clause}”" not in message


def test_one_bad_clause_refuses_the_whole_instruction():
    with pytest.raises(BackendRefused) as refused:
        parse("white background, a soft shadow, warmer and add a red hat")
    assert refused.value.clause == "add a red hat"


def test_clause_is_quoted_as_written():
    with pytest.raises(BackendRefused) as refused:
        parse("Make it WARMER.  Then Rotate By 45°!")
    assert refused.value.clause == "Rotate By 45°"


def test_rotation_aspect_needs_the_main_size():
    plan = parse("rotate 90 degrees")
    assert plan.aspect(None) is None
    assert plan.aspect((1920, 1080)) == (9, 16)
    assert parse("rotate 180 degrees").aspect((1920, 1080)) is None


def test_keep_the_aspect_reports_the_main_ratio():
    assert parse("keep the aspect ratio and make it warmer").aspect((1920, 1080)) == (16, 9)


def test_the_other_photo_needs_exactly_two_images():
    assert parse("match the colours of the other photo", 2).steps() == ["Match the colours and mood of image 2"]
    for count in (1, 3):
        with pytest.raises(BackendRefused) as refused:
            parse("match the colours of the other photo", count)
        assert refused.value.code == "bad_image_reference"


def test_pronoun_follows_the_image_last_named():
    plan = parse("use image 3 as the background and match its colours", 3)
    assert plan.steps() == [
        "Replace the background with image 3 (cover-fit, lightly defocused)",
        "Match the colours and mood of image 3",
    ]


def test_backend_plan_answers_steps_and_aspect(backend):
    plan = backend.plan(PlanRequest(prompt="Instagram story, white background", image_count=1, main_size=MAIN))
    assert plan.steps == [
        "Replace the background with #FFFFFF",
        "Crop to 9:16 (Instagram story), centred on the subject",
    ]
    assert plan.aspect == (9, 16)
    with pytest.raises(BackendRefused):
        backend.plan(PlanRequest(prompt="add a unicorn", image_count=1))


def test_a_long_instruction_is_parsed_quickly():
    prompt = ", ".join(["make it a little warmer", "slightly brighter", "more contrast"] * 700)[:20_000]
    start = time.perf_counter()
    plan = parse(prompt.rsplit(",", 1)[0])
    assert time.perf_counter() - start < 30  # a guard against a runaway parse; speed is bench.engine's
    assert [step.split(" by ")[0] for step in plan.steps()] == [
        "Make the colours warmer",
        "Brighten",
        "Increase contrast",
    ]


def test_any_instruction_is_planned_or_refused():
    words = [
        "make",
        "it",
        "the",
        "a",
        "background",
        "white",
        "blue",
        "16:9",
        "rotate",
        "90",
        "image",
        "2",
        "the",
        "other",
        "photo",
        "warmer",
        "not",
        "no",
        "keep",
        "colours",
        "shadow",
        "blur",
        "crop",
        "square",
        "sepia",
        "40%",
        "by",
        "very",
        "slightly",
        "and",
        "then",
        ",",
        ".",
        "hat",
        "sky",
        "4k",
        "png",
        "#ff0000",
        "gradient",
        "from",
        "to",
        "remove",
        "cut",
        "out",
        "product",
        "person",
        "match",
        "mood",
        "sharpen",
        "noise",
    ]
    rng = random.Random(3)
    for _ in range(400):
        prompt = " ".join(rng.choice(words) for _ in range(rng.randint(1, 12)))
        try:
            plan = parse(prompt, rng.randint(1, 9))
        except BackendRefused as refused:
            assert refused.message
            continue
        assert plan.steps()


# (instruction, main image size, the steps the plan shows before payment)
FITS = [
    ("make it warmer", (5000, 800), ["Make the colours warmer by 20%", "Crop the sides to fit 3:1 (the widest frame)"]),
    (
        "make it warmer",
        (800, 5000),
        ["Make the colours warmer by 20%", "Crop the top and bottom to fit 1:3 (the tallest frame)"],
    ),
    (
        "make it warmer and sharpen it",
        (5000, 800),
        ["Make the colours warmer by 20%", "Crop the sides to fit 3:1 (the widest frame)", "Sharpen"],
    ),
    (
        "make it warmer, don't crop",
        (5000, 800),
        [
            "Make the colours warmer by 20%",
            "Extend the canvas to fit 3:1 (the widest frame), keeping the whole picture",
        ],
    ),
    (
        "white background",
        (5000, 800),
        [
            "Replace the background with #FFFFFF",
            "Crop the sides to fit 3:1 (the widest frame), or extend the new background if that would cut the subject",
        ],
    ),
    ("rotate 90 degrees", (800, 5000), ["Rotate 90° clockwise", "Crop the sides to fit 3:1 (the widest frame)"]),
    # Within the widest frame, or only rounding: nothing to say.
    ("make it warmer", (1536, 1024), ["Make the colours warmer by 20%"]),
    ("make it warmer", (3050, 1000), ["Make the colours warmer by 20%"]),
    ("make it warmer", None, ["Make the colours warmer by 20%"]),
    # A frame the instruction names is its own step.
    ("crop to 16:9", (5000, 800), ["Crop to 16:9, centred on the subject"]),
]


@pytest.mark.parametrize(("prompt", "main", "steps"), FITS, ids=[f"{f[0]} {f[1]}" for f in FITS])
def test_plan_says_when_the_widest_frame_cuts_the_picture(backend, prompt, main, steps):
    assert backend.plan(PlanRequest(prompt=prompt, image_count=1, main_size=main)).steps == steps
