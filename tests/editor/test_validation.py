"""What we accept from people: images by their bytes, within limits, whole, upright and without
metadata; instructions and options within the rules. Every refusal names its field."""

from __future__ import annotations

import io
import struct
import zlib

import pytest
from PIL import Image

from app.editor.validation import check_image_count, check_options, clean_image, clean_prompt
from app.errors import UnsupportedMedia, ValidationFailed
from tests.conftest import FIXTURES

pytestmark = pytest.mark.nodb
LIMIT = 50_000_000


def clean(data: bytes):
    return clean_image(data, field="image", label="Image 1", max_pixels=LIMIT)


def photo(fmt: str = "JPEG", size=(300, 200), **save) -> bytes:
    image = Image.open(FIXTURES / "coffee.png").convert("RGB").resize(size)
    buffer = io.BytesIO()
    image.save(buffer, fmt, **save)
    return buffer.getvalue()


@pytest.mark.parametrize("fmt, expected", [("PNG", "png"), ("JPEG", "jpeg"), ("WEBP", "webp")])
def test_accepts_the_three_formats(fmt: str, expected: str) -> None:
    result = clean(photo(fmt))
    assert (result.format, result.width, result.height) == (expected, 300, 200)
    Image.open(io.BytesIO(result.data)).load()


@pytest.mark.parametrize("data, what", [
    (b"GIF89a" + b"\0" * 40, "a GIF"),
    (b"%PDF-1.7\n" + b"\0" * 40, "a PDF"),
    (b"just some text, not an image", "not an image"),
    (b"BM" + b"\0" * 60, "a BMP"),
])
def test_other_types_are_refused_by_their_bytes(data: bytes, what: str) -> None:
    with pytest.raises(UnsupportedMedia) as caught:
        clean(data)
    assert caught.value.field == "image" and caught.value.status == 415
    assert what in caught.value.message


def png_with_declared_size(width: int, height: int) -> bytes:
    """A tiny file whose header claims a huge image: a decompression bomb."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    pixels = chunk(b"IDAT", zlib.compress(b"\0" * 100))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + pixels + chunk(b"IEND", b"")


def test_decompression_bomb_is_refused_before_decoding() -> None:
    bomb = png_with_declared_size(100_000, 100_000)
    assert len(bomb) < 200
    with pytest.raises(ValidationFailed) as caught:
        clean(bomb)
    assert caught.value.code == "image_too_large" and caught.value.field == "image"
    assert "10000.0 megapixels" in caught.value.message


def test_pixel_limit_is_inclusive() -> None:
    small_limit = 300 * 200
    assert clean_image(photo(), field="image", label="Image 1", max_pixels=small_limit).width == 300
    with pytest.raises(ValidationFailed):
        clean_image(photo(), field="image", label="Image 1", max_pixels=small_limit - 1)


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_truncated_images_are_refused(fmt: str) -> None:
    data = photo(fmt, size=(600, 400))
    with pytest.raises(ValidationFailed) as caught:
        clean(data[: len(data) // 2])
    assert caught.value.code == "invalid_image" and caught.value.field == "image"


def test_corrupt_image_data_is_refused() -> None:
    data = bytearray(photo("PNG"))
    data[100:400] = b"\x00" * 300  # damage the compressed pixels, keep the header
    with pytest.raises(ValidationFailed, match="damaged"):
        clean(bytes(data))


def test_exif_orientation_is_applied_and_metadata_stripped() -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    exif[0x8825] = {1: "N", 2: (48.0, 51.0, 24.0)}
    result = clean(photo("JPEG", size=(300, 200), exif=exif))
    assert (result.width, result.height) == (200, 300)
    stored = Image.open(io.BytesIO(result.data))
    assert stored.size == (200, 300)
    assert stored.getexif() == {}


def test_gps_is_stripped_without_reencoding_an_upright_jpeg() -> None:
    exif = Image.Exif()
    exif[0x8825] = {1: "N", 2: (48.0, 51.0, 24.0)}
    exif[0x010F] = "PhoneMaker"
    original = photo("JPEG", exif=exif)
    result = clean(original)
    assert b"PhoneMaker" not in result.data
    assert Image.open(io.BytesIO(result.data)).getexif() == {}
    assert Image.open(io.BytesIO(original)).tobytes() == Image.open(io.BytesIO(result.data)).tobytes()


def test_animated_images_are_refused() -> None:
    frames = [Image.new("RGB", (32, 32), color) for color in ("red", "blue")]
    buffer = io.BytesIO()
    frames[0].save(buffer, "WEBP", save_all=True, append_images=frames[1:])
    with pytest.raises(ValidationFailed, match="animated"):
        clean(buffer.getvalue())


def test_prompt_rules() -> None:
    assert clean_prompt("  brighter \n") == "brighter"
    assert len(clean_prompt(" " + "a" * 20_000 + " ")) == 20_000
    for bad, code in (("", "prompt_required"), ("   \n\t", "prompt_required"), (None, "prompt_required"),
                      ("a" * 20_001, "prompt_too_long")):
        with pytest.raises(ValidationFailed) as caught:
            clean_prompt(bad)
        assert caught.value.field == "prompt" and caught.value.code == code


def test_options_defaults_and_refusals() -> None:
    options = check_options(None, None, None, None)
    assert (options.quality, options.resolution, options.aspect_ratio, options.output_format) == \
        ("medium", "1K", "auto", "png")
    assert check_options("high", "4k", "16:9", "jpg").output_format == "jpeg"
    for args, field in ((("ultra", None, None, None), "quality"), ((None, "8K", None, None), "resolution"),
                        ((None, None, "5:4", None), "aspect_ratio"), ((None, None, None, "gif"), "output_format")):
        with pytest.raises(ValidationFailed) as caught:
            check_options(*args)
        assert caught.value.field == field


def test_image_count() -> None:
    check_image_count(1)
    check_image_count(9)
    for count in (0, 10):
        with pytest.raises(ValidationFailed) as caught:
            check_image_count(count)
        assert caught.value.field == "image"
