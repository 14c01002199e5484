"""Lossless metadata removal keeps the pixels and drops EXIF/GPS, XMP, comments and trailers."""

from __future__ import annotations

import io
import struct

import pytest
from PIL import Image

from app.editor.metadata import MalformedImage, strip_jpeg, strip_png, strip_webp
from tests.conftest import FIXTURES

pytestmark = pytest.mark.nodb


def gps_exif() -> Image.Exif:
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0x8825] = {1: "N", 2: (48.0, 51.0, 24.0), 3: "E", 4: (2.0, 21.0, 3.0)}  # GPS IFD
    return exif


def encoded(fmt: str, **save) -> tuple[Image.Image, bytes]:
    image = Image.open(FIXTURES / "coffee.png").convert("RGB")
    buffer = io.BytesIO()
    image.save(buffer, fmt, **save)
    return image, buffer.getvalue()


def test_jpeg_keeps_pixels_and_icc_drops_exif_comment_and_trailer() -> None:
    icc = Image.open(FIXTURES / "coffee.png").info.get("icc_profile") or b"\0" * 200
    _, data = encoded("JPEG", exif=gps_exif(), quality=90, comment=b"secret note", icc_profile=icc)
    data += b"TRAILER-with-more-private-bytes"
    stripped = strip_jpeg(data)
    assert b"PhoneMaker" not in stripped and b"secret note" not in stripped and b"TRAILER" not in stripped
    before, after = Image.open(io.BytesIO(data)), Image.open(io.BytesIO(stripped))
    assert after.getexif() == {}
    assert after.info.get("icc_profile") == before.info.get("icc_profile")
    assert before.tobytes() == after.tobytes()  # not re-encoded


def test_png_drops_text_and_exif_chunks() -> None:
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text("Location", "home address")
    _, data = encoded("PNG", exif=gps_exif(), pnginfo=info)
    stripped = strip_png(data)
    assert b"home address" not in stripped and b"PhoneMaker" not in stripped
    assert Image.open(io.BytesIO(data)).tobytes() == Image.open(io.BytesIO(stripped)).tobytes()


def test_webp_drops_exif_and_xmp() -> None:
    _, data = encoded("WEBP", exif=gps_exif(), xmp=b"<x:xmpmeta>private</x:xmpmeta>", lossless=True)
    stripped = strip_webp(data)
    assert b"PhoneMaker" not in stripped and b"private" not in stripped
    after = Image.open(io.BytesIO(stripped))
    after.load()
    assert after.getexif() == {}
    assert Image.open(io.BytesIO(data)).tobytes() == after.tobytes()


def test_jpeg_keeps_jfif_but_not_its_thumbnail() -> None:
    _, data = encoded("JPEG", quality=90)
    assert data[2:4] == b"\xff\xe0" and data[6:11] == b"JFIF\x00"
    thumbnail = bytes([255, 0, 0]) * 4  # a 2×2 preview of the original photo, inside the JFIF header
    payload = data[6:16] + b"\x00\x01\x00\x01" + b"\x02\x02" + thumbnail
    with_thumbnail = data[:4] + struct.pack(">H", len(payload) + 2) + payload + data[4 + int.from_bytes(data[4:6]):]
    stripped = strip_jpeg(with_thumbnail)
    assert thumbnail not in stripped and stripped[6:11] == b"JFIF\x00" and stripped[18:20] == b"\x00\x00"
    assert Image.open(io.BytesIO(stripped)).tobytes() == Image.open(io.BytesIO(data)).tobytes()


def test_broken_containers_are_refused() -> None:
    with pytest.raises(MalformedImage):
        strip_png(b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR")
    with pytest.raises(MalformedImage):
        strip_jpeg(b"\xff\xd8\xff\xe1\xff\xff")
