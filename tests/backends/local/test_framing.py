"""Framing respects the subject: a crop never cuts a head or a product it can keep, whatever the ratio.

The boxes below were measured by hand on enlarged views of the fixture photos (to about 3 px): the head
from the top of the hair (or hat) to the chin and from ear to ear, the bottle from its true mask, and the
cup from its rim to the bottom of its handle (not the saucer, not the spoon). They are what a person
checks, independent of what the engine's detectors find. Two of the portraits side by side (PAIR) make
a photo of two people, whose boxes follow from theirs.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from PIL import Image

from app.backends.local.focus import MIN_HAIR, guess_focus, head_box, subject_focus
from app.backends.local.framing import Box, Focus, Window, choose_window
from app.backends.local.person import MIN_FACE_SHARE, Face, PersonFinder
from app.backends.local.quality import quality_for
from app.backends.local.subject import find_subject
from app.editor.sizes import ASPECT_RATIOS, parse_ratio, size_for_ratio
from tests.backends.local.conftest import photo

pytestmark = pytest.mark.nodb

KEEP: dict[str, Box] = {
    "astronaut.png": (152, 15, 302, 176),
    "grace_hopper.jpg": (147, 22, 375, 330),
    "product_bottle.jpg": (611, 230, 990, 1010),
    "coffee.png": (172, 18, 408, 308),
}
# The face inside a head (brows to chin), kept when the whole head cannot fit.
FACES: dict[str, Box] = {"astronaut.png": (180, 92, 274, 176), "grace_hopper.jpg": (175, 160, 360, 330)}
RATIOS = [ratio for ratio in ASPECT_RATIOS if ratio != "auto"]
TOLERANCE = 3  # the hand measurements' accuracy, in source pixels

# The astronaut (512×512) and Grace Hopper scaled from 512×600 to the same height, side by side.
PAIR = "astronaut.png | grace_hopper.jpg"
PAIR_SCALE = (round(512 * 512 / 600) / 512, 512 / 600)


def _in_pair(box: Box) -> Box:
    """A box of grace_hopper.jpg where it lies in PAIR."""
    sx, sy = PAIR_SCALE
    return (512 + box[0] * sx, box[1] * sy, 512 + box[2] * sx, box[3] * sy)


PAIR_HEADS = (KEEP["astronaut.png"], _in_pair(KEEP["grace_hopper.jpg"]))
KEEP[PAIR] = (PAIR_HEADS[0][0], min(h[1] for h in PAIR_HEADS), PAIR_HEADS[1][2], max(h[3] for h in PAIR_HEADS))
# Grace Hopper's face is the larger: she is the person the pair is framed on when both cannot fit.
MAIN_HEAD = {PAIR: PAIR_HEADS[1]}
FACES[PAIR] = _in_pair(FACES["grace_hopper.jpg"])


def picture(name: str) -> Image.Image:
    """A fixture photo, or PAIR."""
    if name != PAIR:
        return photo(name)
    right = photo("grace_hopper.jpg")
    right = right.resize((round(right.width * PAIR_SCALE[0]), 512), Image.Resampling.LANCZOS)
    pair = Image.new("RGB", (512 + right.width, 512))
    pair.paste(photo("astronaut.png"), (0, 0))
    pair.paste(right, (512, 0))
    return pair


def inside(inner: Box, window: Window, tolerance: float = TOLERANCE) -> bool:
    x0, y0, x1, y1 = inner
    return (
        x0 >= window.x0 - tolerance
        and y0 >= window.y0 - tolerance
        and x1 <= window.x1 + tolerance
        and y1 <= window.y1 + tolerance
    )


@pytest.fixture(scope="module")
def focuses(model_dir) -> dict[str, tuple[Focus | None, bool]]:
    """Each photo's focus as the engine finds it at low quality (its smallest work size), and whether the
    area around its subject can be extended."""
    finder = PersonFinder(model_dir)
    found: dict[str, tuple[Focus | None, bool]] = {}
    for name in KEEP:
        source = np.asarray(picture(name))
        subject = find_subject(source, quality_for("low"), finder, required=False)
        if subject is not None:
            found[name] = (subject_focus(subject), subject.kind in ("product", "transparent"))
        else:
            found[name] = (guess_focus(source, finder), False)
    return found


@pytest.mark.parametrize("name", list(KEEP))
@pytest.mark.parametrize("ratio", RATIOS)
@pytest.mark.parametrize(("mode", "subject_frame"), [("crop", None), ("auto", None), ("crop", "centre")])
def test_every_ratio_keeps_the_head_or_the_product(focuses, name, ratio, mode, subject_frame):
    focus, extendable = focuses[name]
    assert focus is not None, f"nothing to frame on was found in {name}"
    size = picture(name).size
    output = size_for_ratio("1K", *parse_ratio(ratio))
    framing = choose_window(size, output, mode=mode, focus=focus, subject_frame=subject_frame, extendable=extendable)
    window = framing.window
    keep = KEEP[name]
    # The frame itself is always the output's shape and, unless extended, inside the picture.
    assert abs(window.width / window.height - output[0] / output[1]) < 0.01
    assert framing.extended or window.inside(*size) or extendable

    cover = min(size[0], size[1] * output[0] / output[1]), min(size[1], size[0] * output[1] / output[0])

    def fits(box: Box) -> bool:
        return box[2] - box[0] <= cover[0] - 2 * TOLERANCE and box[3] - box[1] <= cover[1] - 2 * TOLERANCE

    if fits(keep) or extendable:
        assert inside(keep, window), f"{name} at {ratio}: {keep} cut by {window}"
        if focus.label != "main object":  # (the main object of the coffee photo is the cup and its saucer)
            assert not framing.cut and not framing.left_out, f"{name} at {ratio}: a cut is reported though {keep} fits"
        return
    # It cannot fit: the crop says what it cut, and keeps what matters most.
    assert framing.cut or framing.left_out, f"{name} at {ratio}: the cut of {keep} by {window} is not reported"
    if name in MAIN_HEAD and fits(MAIN_HEAD[name]):
        # Of two people who cannot both fit, the main one's whole head is kept, and the other is said cut.
        assert inside(MAIN_HEAD[name], window), f"{name} at {ratio}: the main head is cut by {window}"
        assert framing.left_out == ("left",), f"{name} at {ratio}: the head left out is not reported: {framing}"
    elif name in FACES:
        assert inside(FACES[name], window), f"{name} at {ratio}: the face {FACES[name]} is cut by {window}"
    elif keep[3] - keep[1] > cover[1]:
        assert window.y0 <= keep[1] + TOLERANCE, f"{name} at {ratio}: the top of {keep} is cut by {window}"


def test_centring_a_person_uses_the_visual_centre_not_the_middle_of_their_box(focuses):
    # The astronaut's box runs from her hair to the bottom of the photo; its middle is at her chest.
    focus, _ = focuses["astronaut.png"]
    assert focus is not None and focus.label == "head"
    box_middle = (focus.box[1] + focus.box[3]) / 2
    assert focus.centre[1] < box_middle - 40
    x0, _, x1, _ = KEEP["astronaut.png"]
    assert x0 < focus.centre[0] < x1  # between her shoulders, under her head


def test_a_photo_with_nothing_to_keep_is_cropped_in_the_middle(model_dir):
    # Soft noise has no object and no face: nothing is guessed, and the crop stays centred.
    noise = np.random.default_rng(3).normal(128, 20, (90, 160, 3))
    smooth = np.clip(cv2.GaussianBlur(noise, (0, 0), 6), 0, 255).astype(np.uint8)
    assert guess_focus(smooth, PersonFinder(model_dir)) is None
    framing = choose_window((160, 90), (90, 90), mode="crop", focus=None)
    assert framing.window == Window(35.0, 0.0, 125.0, 90.0)


def located(result: np.ndarray, source: np.ndarray) -> Window:
    """Where in the source a cropped result came from, found by matching its pixels (not by asking the
    engine): the result is scaled to the source's scale for each candidate height and matched."""
    best = (-1.0, Window(0, 0, 0, 0))
    out_h, out_w = result.shape[:2]
    grey_source = cv2.cvtColor(source, cv2.COLOR_RGB2GRAY).astype(np.float32)
    for height in range(min(source.shape[0], round(source.shape[1] * out_h / out_w)), 0, -1):
        width = round(height * out_w / out_h)
        if width > source.shape[1]:
            continue
        small = cv2.resize(result, (width, height), interpolation=cv2.INTER_AREA)
        grey = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY).astype(np.float32)
        scores = cv2.matchTemplate(grey_source, grey, cv2.TM_CCOEFF_NORMED)
        _, score, _, (x, y) = cv2.minMaxLoc(scores)
        if score > best[0]:
            best = (score, Window(x, y, x + width, y + height))
        if score > 0.98:
            break
    assert best[0] > 0.95
    return best[1]


def test_a_centred_16_9_crop_keeps_the_astronauts_head(edit):
    source = photo("astronaut.png")
    result = edit("Crop to 16:9, keep the astronaut centred", [source], width=1024, height=576)
    assert "Centre the subject" in result.plan
    window = located(np.asarray(result.image), np.asarray(source))
    assert inside(KEEP["astronaut.png"], window), f"the head {KEEP['astronaut.png']} is cut by {window}"
    # The page draws the kept frame from the engine's record: it is where the pixels came from.
    frame = result.usage["frame"]
    assert abs(frame["y"] * 512 - window.y0) <= 2 and abs(frame["height"] * 512 - window.height) <= 2


def test_a_youtube_thumbnail_of_the_coffee_keeps_the_cup(edit):
    source = photo("coffee.png")
    result = edit("Make it a YouTube thumbnail", [source], width=1024, height=576)
    window = located(np.asarray(result.image), np.asarray(source))
    assert inside(KEEP["coffee.png"], window), f"the cup {KEEP['coffee.png']} is cut by {window}"
    # The saucer is taller than the frame: the step says its bottom was cut rather than pretending.
    assert "The main object does not fit in 16:9: its bottom is cut" in result.plan


def test_centring_works_on_a_photo_without_a_plain_backdrop(edit):
    # No subject can be cut out of the coffee photo, but framing needs none: it centres the main object.
    source = photo("coffee.png")
    result = edit("Crop to 4:3, keep the cup centred", [source], width=512, height=384, quality="low")
    assert "Centre the main object" in result.plan
    window = located(np.asarray(result.image), np.asarray(source))
    assert inside(KEEP["coffee.png"], window)


def test_a_head_taller_than_the_frame_loses_the_top_of_the_hat_and_says_so(edit):
    source = photo("grace_hopper.jpg")
    result = edit("Crop to 21:9", [source], width=672, height=288, quality="low")
    assert "The head does not fit in 21:9: its top is cut" in result.plan
    window = located(np.asarray(result.image), np.asarray(source))
    assert inside(FACES["grace_hopper.jpg"], window)  # eyes, mouth and chin


def test_a_product_taller_than_a_crop_is_extended_around_instead(edit):
    result = edit("Crop to 21:9", [photo("product_bottle.jpg")], width=672, height=288, quality="low")
    assert "Extend to 21:9 instead of cropping, so the subject is not cut" in result.plan
    bottle = np.asarray(result.image).astype(np.int16)
    green = (bottle[..., 1] - bottle[..., 0] > 30) & (bottle[..., 1] - bottle[..., 2] > 10)
    rows = np.nonzero(green.any(axis=1))[0]
    assert rows.min() > 2 and rows.max() < 285  # cap and base inside, with backdrop around
    frame = result.usage["frame"]
    assert frame["x"] < 0 and frame["x"] + frame["width"] > 1  # the canvas reaches past the photo
    assert frame["y"] >= 0 and frame["y"] + frame["height"] <= 1


def test_extending_never_shows_a_subject_sliced_off_by_the_photos_edge():
    # A bottle whose base the photo itself cuts (its box reaches the bottom edge): a 21:9 crop cannot hold
    # it, so the canvas is extended, but only sideways and upwards; below the photo's edge the base would
    # show as sliced off.
    bottle = Focus((800, 615), (611, 230, 990, 1000), (611, 230, 990, 1000))
    framing = choose_window((1600, 1000), (1008, 432), mode="crop", focus=bottle, extendable=True)
    assert framing.extended and not framing.cut
    assert inside(bottle.keep, framing.window, 0) and framing.window.y1 <= 1000.5
    # Touching both the top and the bottom, and wider than a portrait frame: extending would show both
    # slices, so it is cropped, and the cut is said.
    banner = Focus((800, 450), (200, 0, 1400, 900), (200, 0, 1400, 900))
    framing = choose_window((1600, 900), (576, 1024), mode="crop", focus=banner, extendable=True)
    assert not framing.extended and framing.window.inside(1600, 900)
    assert framing.cut == ("left", "right")


@pytest.mark.parametrize("name", ["astronaut.png", "grace_hopper.jpg"])
def test_without_a_matte_the_head_still_reaches_above_the_face_box(model_dir, name):
    # When no person matte can be made, the head is the face box grown upwards for hair or a hat: it holds
    # the whole hand-measured head, where the detector's box alone ends at the brows.
    focus = guess_focus(np.asarray(photo(name)), PersonFinder(model_dir))
    assert focus is not None and focus.label == "head"
    assert inside(KEEP[name], Window(*focus.keep))
    assert focus.core is not None and focus.core[1] > KEEP[name][1] + 40  # the face box starts far lower


def test_the_head_is_the_matte_above_the_face_but_never_stops_at_the_brows():
    face = Face(cx=100, cy=120, width=60, height=60, score=0.9)  # box 70..130 × 90..150
    matte = np.zeros((240, 200), np.float32)
    matte[90:150, 70:130] = 1.0  # the face from the brows down: the matte missed the hair
    matte[150:, 20:180] = 1.0  # the shoulders, wider than the head
    assert head_box(face, matte)[1] == pytest.approx(90 - MIN_HAIR * 60)
    matte[40:90, 60:145] = 1.0  # hair reaching 50 px above the box, wider on the right
    left, top, right, _ = head_box(face, matte)
    assert (left, top, right) == (60, 40, 145)
    matte[0:40, 95:105] = 1.0  # an arm raised straight up from the head: the head stops a face above it
    assert head_box(face, matte)[1] == 30


# --- faces the detector must find, whatever the picture's shape ------------------------------------------


def small_face_in(width: int, height: int, face_share: float) -> tuple[np.ndarray, Box]:
    """The astronaut shrunk until her face is `face_share` of the short side, standing at the bottom
    middle of a plain width×height picture; and her face box (FACES) there."""
    astronaut = photo("astronaut.png")
    x0, _, x1, _ = FACES["astronaut.png"]
    scale = face_share * min(width, height) / (x1 - x0)
    side = round(512 * scale)
    canvas = Image.new("RGB", (width, height), (96, 104, 112))
    left, top = (width - side) // 2, height - side
    canvas.paste(astronaut.resize((side, side), Image.Resampling.LANCZOS), (left, top))
    face = FACES["astronaut.png"]
    return np.asarray(canvas), (left + face[0] * scale, top + face[1] * scale, left + face[2] * scale,
                                top + face[3] * scale)


@pytest.mark.parametrize("width", [600, 1500, 2100])
def test_a_small_face_is_found_in_a_wide_strip_as_in_a_square(model_dir, width):
    # A face 8% of the short side (48 px of 600): in a square photo and in strips 2.5 and 3.5 times as wide,
    # where the whole picture squeezed into the detector's 128 px would leave it 3 or 4 px across.
    image, face = small_face_in(width, 600, 0.08)
    found = PersonFinder(model_dir).faces(image)
    assert len(found) == 1, found
    assert face[0] < found[0].cx < face[2] and face[1] < found[0].cy < face[3]


def test_a_face_smaller_than_counts_is_not_a_subject(model_dir):
    # A face 3% of the short side is a face in the scenery (a poster, a crowd), not the person photographed.
    image, _ = small_face_in(600, 600, 0.03)
    assert PersonFinder(model_dir).faces(image) == []


def test_a_person_in_a_wide_strip_is_framed_on_her_head(model_dir):
    # The astronaut with her photo's edges carried out to a 1400×512 strip: never a product, and whether
    # or not her outline is clear enough for a cut-out, the frame respects her head.
    finder = PersonFinder(model_dir)
    strip = cv2.copyMakeBorder(np.asarray(photo("astronaut.png")), 0, 0, 444, 444, cv2.BORDER_REPLICATE)
    subject = find_subject(strip, quality_for("low"), finder, required=False)
    assert subject is None or subject.kind == "person"
    focus = subject_focus(subject) if subject is not None else guess_focus(strip, finder)
    assert focus is not None
    x0, y0, x1, y1 = KEEP["astronaut.png"]
    assert focus.label == "head" and inside((x0 + 444, y0, x1 + 444, y1), Window(*focus.keep), 12)


def test_both_faces_of_two_portraits_side_by_side_are_found(model_dir):
    found = PersonFinder(model_dir).faces(np.asarray(picture(PAIR)))
    assert len(found) == 2
    assert sorted(inside((f.cx, f.cy, f.cx, f.cy), Window(*head), 0) for f in found for head in PAIR_HEADS) == [
        False, False, True, True,
    ]


def test_a_crop_too_narrow_for_two_people_keeps_the_main_one_and_says_the_other_is_cut(edit):
    source = picture(PAIR)
    result = edit("Crop to 1:1", [source], width=256, height=256, quality="low")
    assert "The 2 heads do not all fit in 1:1: the one on the left is cut" in result.plan
    window = located(np.asarray(result.image), np.asarray(source))
    assert inside(MAIN_HEAD[PAIR], window), f"Grace Hopper's head {MAIN_HEAD[PAIR]} is cut by {window}"


def test_a_crop_that_holds_two_people_keeps_both_heads(edit):
    source = picture(PAIR)
    result = edit("Crop to 16:9", [source], width=512, height=288, quality="low")
    assert not any("do not" in step for step in result.plan), result.plan
    window = located(np.asarray(result.image), np.asarray(source))
    for head in PAIR_HEADS:
        assert inside(head, window), f"{head} is cut by {window}"


def test_of_three_people_a_frame_for_two_keeps_the_main_one_and_the_nearest():
    # Three heads in a row, the middle one the main (its face the largest): a frame wide enough for two
    # holds it and its nearer neighbour, and says the one on the far side is cut.
    heads = ((400, 100, 500, 220), (40, 100, 140, 220), (560, 100, 660, 220))
    keep = (40, 100, 660, 220)
    focus = Focus((350, 300), keep, keep, (420, 150, 480, 220), "heads", "people", heads)
    framing = choose_window((700, 400), (400, 400), mode="crop", focus=focus)
    assert inside(heads[0], framing.window, 0) and inside(heads[2], framing.window, 0)
    assert framing.left_out == ("left",) and not framing.cut


def cloudy_noise(width: int, height: int, seed: int) -> np.ndarray:
    """Coloured noise with detail at every scale (like foliage, clouds or a textured wall): full of
    face-like blotches for a detector that looks many times."""
    rng = np.random.default_rng(seed)
    total = np.zeros((height, width, 3), np.float32)
    for octave in range(1, 7):
        cells = 2**octave
        small = rng.normal(0, 1, (max(1, height * cells // 256), max(1, width * cells // 256), 3))
        total += cv2.resize(small.astype(np.float32), (width, height), interpolation=cv2.INTER_CUBIC) / cells**0.8
    return ((total - total.min()) / (total.max() - total.min()) * 255).astype(np.uint8)


def test_looking_in_tiles_finds_no_more_false_faces_than_looking_once(model_dir):
    # Each tile is another look at the picture, so another chance for a blotch to pass for a face: a face
    # found in a tile needs a higher score. Over pictures of noise of several shapes, the tiled search
    # finds a face in no more of them than one look at the whole picture does.
    finder = PersonFinder(model_dir)
    shapes = [(800, 600), (1400, 512), (600, 900), (2000, 600)]
    pictures = [cloudy_noise(*shapes[seed % 4], seed) for seed in range(12)]
    tiled = sum(bool(finder.faces(picture)) for picture in pictures)
    once = 0
    for picture in pictures:
        height, width = picture.shape[:2]
        side = max(width, height)
        whole = finder._detect(picture, (width - side) / 2, (height - side) / 2, side)
        once += any(face.width >= MIN_FACE_SHARE * min(width, height) for face, _ in whole)
    assert tiled <= once
