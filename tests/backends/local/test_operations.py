"""Every operation, checked on the pixels it produces."""

from __future__ import annotations

import threading

import cv2
import numpy as np
import pytest
from PIL import Image

from app.backends.base import BackendRefused
from tests.backends.local.conftest import photo, pixels, studio_product

pytestmark = pytest.mark.nodb

# The synthetic product (900×700): its box in output pixels when the output is the same size.
BOX = (342, 175, 558, 595)


def inside(array: np.ndarray, margin: int = 12) -> np.ndarray:
    x0, y0, x1, y1 = BOX
    return array[y0 + margin : y1 - margin, x0 + margin : x1 - margin]


def luminance(array: np.ndarray) -> np.ndarray:
    return array[..., :3] @ np.array([0.2126, 0.7152, 0.0722], np.float32)


# --- background --------------------------------------------------------------------------------------


def test_remove_background_gives_transparency_in_png_and_white_in_jpeg(edit):
    product = studio_product()
    png = pixels(edit("remove the background", [product]).image)
    assert png.shape[-1] == 4
    assert png[:40, :40, 3].max() == 0  # backdrop: fully transparent
    assert inside(png)[..., 3].min() == 255  # product: fully opaque
    assert abs(inside(png)[..., 0].mean() - inside(pixels(product))[..., 0].mean()) < 3

    jpeg = edit("remove the background", [product], fmt="jpeg")
    assert jpeg.image.mode == "RGB"
    assert pixels(jpeg.image)[:40, :40].min() >= 254
    assert jpeg.plan[0] == "Remove the background (white: JPEG has no transparency)"


def test_transparent_request_without_instruction_still_cuts_out(edit):
    result = edit("make it a bit warmer", [studio_product()], background="transparent")
    assert result.image.mode == "RGBA"
    assert pixels(result.image)[:40, :40, 3].max() == 0


def test_background_colour_is_exact_and_edges_have_no_halo(edit):
    result = pixels(edit("replace the background with #1E90FF", [studio_product()]).image)
    assert np.abs(result[:40, :40] - [30, 144, 255]).max() <= 1
    # Just outside the product, no trace of the old grey backdrop: every pixel lies between the
    # product's colour and the new blue (no lighter or greyer fringe).
    x0, y0, _x1, y1 = BOX
    ring = result[y0 + 40 : y1 - 40, x0 - 4 : x0 + 1]
    assert (ring[..., 2] > ring[..., 0]).all() or (ring[..., 0] > 120).all()
    assert ring[..., 1].max() <= 150


def test_gradient_background_runs_between_the_two_colours_without_banding(edit):
    result = pixels(edit("vertical gradient background from #000080 to #008080", [studio_product()]).image)
    assert np.abs(result[2, 5] - [0, 0, 128]).max() <= 3
    assert np.abs(result[-3, 5] - [0, 128, 128]).max() <= 3
    column = result[:, 20, 1]
    assert np.all(np.diff(cv2.blur(column[None], (15, 1))[0][10:-10]) >= -0.5)  # steady ramp
    # Dithered: neighbouring rows never jump by more than a level on average.
    assert np.abs(np.diff(result[:, :200, 1].mean(axis=1))).max() < 1.5


def test_image_backdrop_is_cover_fitted_and_defocused(edit):
    backdrop = photo("coffee.png")
    result = pixels(edit("use image 2 as the background", [studio_product(), backdrop]).image)
    fitted = pixels(backdrop.resize((1050, 700)).crop((75, 0, 975, 700)))
    corner = (slice(0, 120), slice(0, 200))
    assert np.abs(result[corner].mean((0, 1)) - fitted[corner].mean((0, 1))).max() < 12
    assert (
        cv2.Laplacian(result[corner][..., 1], cv2.CV_32F).var()
        < cv2.Laplacian(fitted[corner][..., 1], cv2.CV_32F).var()
    )
    assert inside(result)[..., 0].mean() > 140  # the red product is still there


def test_soft_shadow_darkens_the_floor_under_the_product_only(edit):
    plain = pixels(edit("white background", [studio_product()]).image)
    shaded = pixels(edit("white background with a soft shadow", [studio_product()]).image)
    x0, _y0, x1, y1 = BOX
    under = shaded[y1 + 2 : y1 + 8, (x0 + x1) // 2 - 40 : (x0 + x1) // 2 + 40]
    assert under.mean() < 235 and plain[y1 + 2 : y1 + 8, x0 + 60 : x1 - 60].mean() > 250
    assert shaded[:60].min() >= 254  # far above: untouched
    assert shaded[y1 + 60 :].mean() > 250  # fades out below
    stronger = pixels(edit("white background with a strong shadow", [studio_product()]).image)
    assert stronger[y1 + 2 : y1 + 8, (x0 + x1) // 2 - 40 : (x0 + x1) // 2 + 40].mean() < under.mean()


def test_shadow_in_a_transparent_cutout_is_semi_transparent_black(edit):
    result = pixels(edit("remove the background and add a soft shadow", [studio_product()]).image)
    x0, _y0, x1, y1 = BOX
    under = result[y1 + 2 : y1 + 6, (x0 + x1) // 2 - 30 : (x0 + x1) // 2 + 30]
    assert 20 < under[..., 3].mean() < 230
    assert under[..., :3].max() < 30


# --- colour ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cup() -> Image.Image:
    return photo("coffee.png")


def test_warmer_and_cooler(edit, cup):
    base = pixels(cup)
    warm = pixels(edit("make it warmer", [cup]).image)
    cool = pixels(edit("make it cooler", [cup]).image)
    ratio = lambda a: a[..., 0].mean() / a[..., 2].mean()  # noqa: E731
    assert ratio(warm) > ratio(base) * 1.05
    assert ratio(cool) < ratio(base) * 0.95


def test_brightness_by_percent_moves_mid_tones(edit, cup):
    base = luminance(pixels(cup)).mean()
    brighter = luminance(pixels(edit("increase brightness by 20%", [cup]).image)).mean()
    darker = luminance(pixels(edit("darken by 20%", [cup]).image)).mean()
    assert brighter > base * 1.1 and darker < base * 0.9


def test_contrast_and_saturation(edit, cup):
    base = pixels(cup)
    more = pixels(edit("increase contrast by 40%", [cup]).image)
    less = pixels(edit("reduce contrast by 40%", [cup]).image)
    assert luminance(more).std() > luminance(base).std() * 1.1 > luminance(less).std() * 1.3

    def chroma(a: np.ndarray) -> float:
        return float((a.max(-1) - a.min(-1)).mean())

    assert chroma(pixels(edit("more saturated", [cup]).image)) > chroma(base) * 1.1
    assert chroma(pixels(edit("desaturate it", [cup]).image)) < chroma(base) * 0.9


def test_black_and_white_and_sepia(edit, cup):
    grey = pixels(edit("black and white", [cup]).image)
    assert np.abs(grey[..., 0] - grey[..., 1]).max() == 0 and np.abs(grey[..., 1] - grey[..., 2]).max() == 0
    sepia = pixels(edit("sepia", [cup]).image)
    mid = sepia[(luminance(sepia) > 60) & (luminance(sepia) < 200)]
    assert (mid[:, 0] >= mid[:, 1]).all() and (mid[:, 1] >= mid[:, 2]).all()


def test_match_colours_moves_toward_the_reference(edit, cup):
    reference = photo("astronaut.png")
    base, target = pixels(cup).mean((0, 1)), pixels(reference).mean((0, 1))
    matched = pixels(edit("match the colours of image 2", [cup, reference]).image).mean((0, 1))
    assert np.linalg.norm(matched - target) < 0.6 * np.linalg.norm(base - target)
    gentle = pixels(edit("match the colours of image 2 slightly", [cup, reference]).image).mean((0, 1))
    assert np.linalg.norm(matched - target) < np.linalg.norm(gentle - target) < np.linalg.norm(base - target)


def test_image_backdrop_nudges_the_subject_but_keep_colours_does_not(edit):
    scene = Image.new("RGB", (300, 200), (40, 90, 200))
    product = studio_product(product=(235, 215, 160))
    nudged = inside(pixels(edit("use image 2 as the background", [product, scene]).image)).mean((0, 1))
    kept = inside(pixels(edit("use image 2 as the background, keep the colours", [product, scene]).image)).mean((0, 1))
    original = inside(pixels(product)).mean((0, 1))
    assert np.abs(kept - original).max() < 3
    assert nudged[2] - nudged[0] > (original[2] - original[0]) + 2  # a little bluer
    assert np.abs(nudged - original).max() < 15  # but not recoloured


# --- detail --------------------------------------------------------------------------------------------


def laplacian(array: np.ndarray) -> float:
    return float(cv2.Laplacian(luminance(array).astype(np.float32), cv2.CV_32F).var())


def test_sharpen_adds_detail(edit, cup):
    base = laplacian(pixels(edit("just resize it", [cup], quality="low").image))
    sharp = laplacian(pixels(edit("sharpen", [cup], quality="low").image))
    sharper = laplacian(pixels(edit("sharpen a lot", [cup], quality="low").image))
    assert base < sharp < sharper


def test_denoise_reduces_noise_and_keeps_edges(edit):
    flat = np.full((400, 600, 3), 128, np.float32)
    flat[:, 300:] = 200
    noisy = np.clip(flat + np.random.default_rng(0).normal(0, 8, flat.shape), 0, 255).astype(np.uint8)
    result = pixels(edit("reduce noise", [Image.fromarray(noisy)], quality="low").image)
    assert result[:, 20:280].std() < 0.6 * noisy[:, 20:280].std()
    assert result[:, 310:].mean() - result[:, :290].mean() > 65  # the step survives


# --- framing -----------------------------------------------------------------------------------------


def test_rotate_and_mirror_move_pixels_exactly(edit):
    marker = np.zeros((200, 300, 3), np.uint8)
    marker[:50, :50] = (255, 0, 0)  # top-left red
    image = Image.fromarray(marker)
    rotated = pixels(edit("rotate 90 degrees clockwise", [image], width=200, height=300, quality="low").image)
    assert rotated[:40, -40:, 0].mean() > 240 and rotated[-40:, :40, 0].mean() < 10  # now top-right
    mirrored = pixels(edit("mirror", [image], quality="low").image)
    assert mirrored[:40, -40:, 0].mean() > 240 and mirrored[:40, :40, 0].mean() < 10
    flipped = pixels(edit("flip vertically", [image], quality="low").image)
    assert flipped[-40:, :40, 0].mean() > 240


def test_crop_to_preset_centres_on_the_subject(edit):
    product = studio_product(box=(0.62, 0.25, 0.86, 0.85))  # off to the right
    result = edit("Instagram story", [product], width=400, height=704)
    array = pixels(result.image)
    red = np.nonzero((array[..., 0] > 130) & (array[..., 1] < 90))[1]
    assert abs(red.mean() - 200) < 20  # product in the middle of the story
    assert result.plan[-2] == "Crop to 9:16 (Instagram story), centred on the subject"


def test_extend_keeps_everything_and_continues_the_backdrop(edit):
    product = studio_product()
    result = pixels(edit("square, don't crop", [product], width=704, height=704).image)
    # 900×700 fits as 704×548 with bands of backdrop above and below, continuing it seamlessly.
    assert np.abs(result[30, 300] - result[90, 300]).max() < 6
    assert np.abs(result[78, 300] - result[80, 300]).max() < 6
    red = (result[..., 0] > 130) & (result[..., 1] < 90)
    assert red.sum() > 0.9 * (216 * 420) * (704 / 900) ** 2


def test_extend_on_a_busy_photo_fills_with_a_blurred_copy(edit, cup):
    result = pixels(edit("Instagram story without cropping", [cup], width=576, height=1024).image)
    band = result[:200]
    assert band.std() > 3 and laplacian(band) < 0.2 * laplacian(pixels(cup))


def test_tight_crop_zooms_on_the_product(edit):
    result = pixels(edit("crop close around the product", [studio_product()], width=512, height=768).image)
    red = (result[..., 0] > 130) & (result[..., 1] < 90)
    assert red.mean() > 0.5


def test_automatic_fit_extends_rather_than_cutting_a_cutout(edit):
    product = studio_product(box=(0.3, 0.05, 0.7, 0.95))
    result = pixels(edit("white background", [product], width=1024, height=400).image)
    red = (result[..., 0] > 130) & (result[..., 1] < 90)
    rows = np.nonzero(red.any(axis=1))[0]
    assert rows.min() > 0 and rows.max() < 399  # the whole product stays in frame


# --- the contract --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("width", "height"), [(256, 256), (3840, 1280), (1280, 3840), (1024, 688), (272, 816)])
def test_exact_output_size(edit, width, height):
    result = edit(
        "white background with a soft shadow, warmer", [studio_product()], width=width, height=height, quality="low"
    )
    assert result.image.size == (width, height)


@pytest.mark.parametrize("count", [1, 2, 9])
def test_one_to_nine_images(edit, count):
    images = [studio_product()] + [photo("coffee.png")] * (count - 1)
    prompt = "use the last image as the background" if count > 1 else "white background"
    assert edit(prompt, images, width=512, height=400, quality="low").image.size == (512, 400)


def test_transparent_input_uses_its_own_alpha(edit):
    rgba = Image.new("RGBA", (400, 300), (0, 0, 0, 0))
    rgba.paste(Image.new("RGBA", (100, 150), (20, 160, 40, 255)), (150, 75))
    result = pixels(edit("put it on a yellow background", [rgba], quality="low").image)
    assert np.abs(result[10, 10] - [255, 255, 0]).max() <= 2
    assert np.abs(result[150, 200] - [20, 160, 40]).max() <= 4


def test_edits_run_safely_in_parallel(backend):
    from app.backends.base import EditRequest

    requests = [
        EditRequest(images=[photo(name)], prompt=prompt, quality="low", width=448, height=448)
        for name, prompt in [
            ("grace_hopper.jpg", "blur the background"),
            ("astronaut.png", "grey background"),
            ("product_bottle.jpg", "white background"),
            ("coffee.png", "sepia"),
        ]
        * 2
    ]
    results: list = [None] * len(requests)

    def work(index: int) -> None:
        results[index] = backend.edit(requests[index]).image

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(requests))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(image is not None and image.size == (448, 448) for image in results)
    for first, second in zip(results[:4], results[4:], strict=True):
        assert np.array_equal(np.asarray(first), np.asarray(second))


def test_plan_of_the_run_lists_what_was_done(edit):
    result = edit("white background with a soft shadow and make it warmer", [studio_product()], width=512, height=512)
    assert result.plan == [
        "Replace the background with #FFFFFF",
        "Make the colours warmer by 20%",
        "Add a soft shadow",
        "Crop the sides to fit 1:1, centred on the subject",
        "Output at 512×512 (bicubic resampling)",
    ]


def test_unplannable_instruction_is_refused_at_edit_time_too(edit):
    with pytest.raises(BackendRefused):
        edit("add a unicorn", [studio_product()])


# --- transparent inputs ----------------------------------------------------------------------------------


def transparent_disc(size: tuple[int, int] = (400, 300), hidden: tuple[int, int, int] = (0, 0, 0)) -> Image.Image:
    """A green anti-aliased disc on a clear background whose hidden colour is `hidden` (often black)."""
    width, height = size
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    radius = min(width, height) * 0.3
    coverage = np.clip(radius - np.hypot(xs - width / 2, ys - height / 2) + 0.5, 0, 1)
    rgba = np.zeros((height, width, 4), np.uint8)
    rgba[..., :3] = hidden
    rgba[coverage > 0, :3] = (40, 170, 60)
    rgba[..., 3] = np.round(coverage * 255).astype(np.uint8)
    return Image.fromarray(rgba, "RGBA")


@pytest.mark.parametrize("fmt", ["png", "webp"])
def test_a_colour_edit_keeps_the_transparency_of_the_input(edit, fmt):
    source = transparent_disc()
    result = edit("make it brighter", [source], fmt=fmt, quality="low")
    assert result.image.mode == "RGBA"
    out = pixels(result.image)
    assert np.abs(out[..., 3] - pixels(source)[..., 3]).max() <= 1  # the same alpha
    assert out[150, 200, 1] > 170  # the disc is brighter
    assert out[5, 5, 3] == 0


def test_jpeg_of_a_transparent_input_is_flattened_on_white(edit):
    result = edit("make it brighter", [transparent_disc()], fmt="jpeg", quality="low")
    assert result.image.mode == "RGB"
    assert pixels(result.image)[5, 5].min() >= 250


def test_transparency_follows_rotation_mirroring_and_extension(edit):
    source = transparent_disc((400, 300))
    source.putpixel((10, 10), (255, 0, 0, 255))  # an opaque marker top left
    rotated = pixels(edit("rotate 90 degrees clockwise and mirror", [source], width=300, height=400).image)
    assert rotated.shape[-1] == 4
    assert rotated[10, 10, 3] > 200 and rotated[10, 10, 0] > 200  # rotated right, then mirrored back left
    square = pixels(edit("square, don't crop", [source], width=400, height=400, quality="medium").image)
    assert square.shape[-1] == 4
    assert square[:40, :, 3].max() == 0 and square[-40:, :, 3].max() == 0  # the extended bands are clear
    assert square[200, 200, 3] == 255


def test_sharpening_a_transparent_input_leaves_no_fringe_of_the_hidden_colour(edit):
    result = pixels(edit("sharpen a lot", [transparent_disc(hidden=(0, 0, 0))], width=800, height=600).image)
    edge = (result[..., 3] > 20) & (result[..., 3] < 235)
    assert edge.sum() > 100
    # Edge pixels keep the disc's own green: no dark halo pulled in from the black under the clear part,
    # and no light one from flattening on white.
    assert np.percentile(result[edge][:, 1], 5) > 140
    assert np.percentile(result[edge][:, 0], 95) < 110


def test_cutout_of_a_transparent_input_uses_its_exact_alpha(edit):
    source = transparent_disc(hidden=(255, 255, 255))
    result = pixels(edit("put it on a black background", [source], quality="medium").image)
    edge = (pixels(source)[..., 3] > 30) & (pixels(source)[..., 3] < 225)
    # On black the edge may only darken toward black, never show the white hidden under the clear part.
    assert (result[edge][:, 1] <= 172).all() and (result[edge][:, 0] <= 45).all()


# --- fitting to the output frame ------------------------------------------------------------------------


def test_rounding_of_the_output_size_is_not_called_a_crop(edit):
    # 1536×1024 is 3:2; at 1K the output is 1024×688 (rounded to multiples of 16), a 0.8% difference.
    photo_3_2 = photo("coffee.png").resize((1536, 1024))
    result = edit("make it warmer", [photo_3_2], width=1024, height=688)
    assert result.image.size == (1024, 688)
    assert not any("rop" in step or "xtend" in step for step in result.plan), result.plan


def test_rounding_never_adds_a_sliver_of_filled_canvas(edit):
    photo_3_2 = photo("coffee.png").resize((1536, 1024))
    result = edit("make it warmer, don't crop", [photo_3_2], width=1024, height=688)
    assert not any("xtend" in step for step in result.plan)
    # The top and bottom rows are the photo itself, as in a plain fit, not bands of blurred fill.
    plain = pixels(edit("make it warmer", [photo_3_2], width=1024, height=688).image)
    assert np.abs(pixels(result.image) - plain).max() == 0


def test_a_panorama_says_that_its_sides_are_cropped(edit):
    panorama = photo("coffee.png").resize((2500, 400))  # 6.25:1, wider than the widest frame
    result = edit("make it warmer", [panorama], width=2048, height=688)
    assert "Crop the sides to fit 3:1 (the widest frame)" in result.plan
