"""Where a photo was taken never leaves with it: EXIF (with GPS), XMP, comments and text chunks are gone from
the stored input, from the input as we serve it back, from its preview and from the result, wherever the
file carried them: between the scans of a progressive JPEG, after the pixels of a PNG, in any WebP chunk."""

from __future__ import annotations

import io
import re
import struct
import zlib

import pytest
from PIL import Image, PngImagePlugin

from app.editor.metadata import strip_jpeg
from tests.conftest import FIXTURES, api_key_for, create_user, stored_files, wait_for_edit

CANARIES = (b"PhoneMaker", b"BetweenScans", b"48.8584", b"home address", b"GPSLatitude")
XMP = (b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
       b'<rdf:Description xmlns:exif="http://ns.adobe.com/exif/1.0/" exif:GPSLatitude="48.8584N"/>'
       b"</rdf:RDF></x:xmpmeta>")
GPS_IFD = 0x8825


def gps_exif(maker: str = "PhoneMaker", orientation: int | None = None) -> Image.Exif:
    exif = Image.Exif()
    exif[0x010F] = maker  # Make
    if orientation is not None:
        exif[0x0112] = orientation
    exif[GPS_IFD] = {1: "N", 2: (48.0, 51.0, 30.24), 3: "E", 4: (2.0, 17.0, 40.2)}
    return exif


def photo() -> Image.Image:
    return Image.open(FIXTURES / "coffee.png").convert("RGB")


def segment(marker: int, payload: bytes) -> bytes:
    return bytes((0xFF, marker)) + struct.pack(">H", len(payload) + 2) + payload


def first_scan_end(data: bytes) -> int:
    """Where the entropy-coded data of the first scan ends (the next marker after it)."""
    pos = 2
    while data[pos + 1] != 0xDA:
        pos += 2 + struct.unpack(">H", data[pos + 2:pos + 4])[0]
    pos += 2 + struct.unpack(">H", data[pos + 2:pos + 4])[0]
    return re.compile(rb"\xff[^\x00\xd0-\xd7]").search(data, pos).start()


def progressive_jpeg_with_metadata_between_scans() -> bytes:
    """A progressive JPEG with EXIF (GPS) and a comment in its header, and another EXIF segment with GPS
    and a comment with the coordinates between its first and second scan."""
    buffer = io.BytesIO()
    photo().save(buffer, "JPEG", quality=90, progressive=True, exif=gps_exif(), comment=b"home address")
    data = buffer.getvalue()
    cut = first_scan_end(data)
    between = (segment(0xE1, gps_exif("BetweenScans").tobytes())
               + segment(0xFE, b"taken at 48.8584 N, 2.2945 E"))
    data = data[:cut] + between + data[cut:]
    assert data.index(b"BetweenScans") > data.index(b"\xff\xda")  # really after the first scan
    Image.open(io.BytesIO(data)).load()  # and still a JPEG any decoder reads
    return data


def png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_chunks(data: bytes) -> list[bytes]:
    kinds, pos = [], 8
    while pos + 8 <= len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kinds.append(data[pos + 4:pos + 8])
        pos += 12 + length
    return kinds


def png_with_metadata() -> bytes:
    """tEXt, zTXt and iTXt (XMP with GPS) and eXIf before the pixels; tIME and another tEXt after them."""
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", "home address")
    info.add_text("Location", "48.8584 N, 2.2945 E", zip=True)
    info.add_itxt("XML:com.adobe.xmp", XMP.decode())
    buffer = io.BytesIO()
    photo().save(buffer, "PNG", pnginfo=info, exif=gps_exif())
    data = buffer.getvalue()
    end = data.rindex(b"IEND") - 4
    late = (png_chunk(b"tIME", struct.pack(">HBBBBB", 2026, 11, 30, 12, 0, 0))
            + png_chunk(b"tEXt", b"Where\x00home address"))
    data = data[:end] + late + data[end:]
    assert {b"tEXt", b"zTXt", b"iTXt", b"eXIf", b"tIME"} <= set(png_chunks(data))
    return data


def webp_chunks(data: bytes) -> list[bytes]:
    kinds, pos = [], 12
    while pos + 8 <= len(data):
        (size,) = struct.unpack("<I", data[pos + 4:pos + 8])
        kinds.append(data[pos:pos + 4])
        pos += 8 + size + (size & 1)
    return kinds


def webp_with_metadata(extra_chunk: bytes = b"") -> bytes:
    buffer = io.BytesIO()
    photo().save(buffer, "WEBP", quality=90, exif=gps_exif(), xmp=XMP)
    data = buffer.getvalue() + extra_chunk
    data = data[:4] + struct.pack("<I", len(data) - 8) + data[8:]
    assert {b"EXIF", b"XMP "} <= set(webp_chunks(data))
    return data


def jpeg_segments(data: bytes) -> list[int]:
    """Every marker of a JPEG, walked to its end (scans skipped)."""
    markers, pos = [], 2
    scan_end = re.compile(rb"\xff[^\x00\xd0-\xd7\xff]")
    while pos < len(data) - 1:
        marker = data[pos + 1]
        markers.append(marker)
        if marker == 0xD9:
            break
        if 0xD0 <= marker <= 0xD7:
            pos += 2
            continue
        pos += 2 + struct.unpack(">H", data[pos + 2:pos + 4])[0]
        if marker == 0xDA:
            found = scan_end.search(data, pos)
            pos = found.start() if found else len(data)
    return markers


def assert_no_metadata(data: bytes, what: str) -> None:
    leaked = [canary for canary in CANARIES if canary in data]
    assert not leaked, f"{what} still carries {leaked}"
    image = Image.open(io.BytesIO(data))
    image.load()
    assert image.getexif().get_ifd(GPS_IFD) == {}, f"{what} still has GPS"
    assert dict(image.getexif()) == {}, f"{what} still has EXIF"
    for key in ("comment", "xmp", "exif", "XML:com.adobe.xmp", "Comment", "Location", "Where"):
        assert key not in image.info, f"{what} still has {key}"
    if data.startswith(b"\xff\xd8"):
        markers = jpeg_segments(data)
        assert 0xFE not in markers and 0xE1 not in markers, f"{what} still has a comment or APP1"
    elif data.startswith(b"\x89PNG"):
        assert not {b"tEXt", b"zTXt", b"iTXt", b"eXIf", b"tIME"} & set(png_chunks(data)), what
    else:
        chunks = set(webp_chunks(data))
        assert not {b"EXIF", b"XMP "} & chunks, what
        assert chunks <= {b"VP8X", b"VP8 ", b"VP8L", b"ALPH", b"ICCP"}, f"{what} has chunks {chunks}"


@pytest.fixture
def headers(context) -> dict[str, str]:
    user = create_user(context, credits=100)
    return {"Authorization": f"Bearer {api_key_for(context, user.id)}"}


def run_edit(client, headers, data: bytes, name: str, output_format: str) -> dict:
    response = client.post("/api/v1/edits", headers=headers,
                           files=[("image", (name, data, "application/octet-stream"))],
                           data={"prompt": "Brighter", "quality": "low", "output_format": output_format})
    assert response.status_code == 202, response.text
    edit = wait_for_edit(client, response.json()["id"], headers=headers)
    assert edit["status"] == "succeeded", edit
    return edit


def assert_stored_and_served_clean(client, headers, settings, edit: dict) -> None:
    stored = [path for path in stored_files(settings) if edit["id"] in str(path) and "input-" in path.name
              and not path.name.endswith(".preview.webp")]
    assert len(stored) == 1
    assert_no_metadata(stored[0].read_bytes(), "the stored input")
    served = client.get(f"/api/v1/edits/{edit['id']}/inputs/0", headers=headers)
    assert served.status_code == 200
    assert_no_metadata(served.content, "the served input")
    assert_no_metadata(client.get(f"/api/v1/edits/{edit['id']}/inputs/0/preview", headers=headers).content,
                       "the input's preview")
    assert_no_metadata(client.get(f"/api/v1/edits/{edit['id']}/result", headers=headers).content, "the result")


def test_progressive_jpeg_loses_exif_and_comments_between_its_scans(client, headers, settings) -> None:
    original = progressive_jpeg_with_metadata_between_scans()
    edit = run_edit(client, headers, original, "photo.jpg", "jpeg")
    assert_stored_and_served_clean(client, headers, settings, edit)
    served = client.get(f"/api/v1/edits/{edit['id']}/inputs/0", headers=headers).content
    # Stripped, not re-encoded: the same pixels, still progressive.
    assert Image.open(io.BytesIO(served)).tobytes() == Image.open(io.BytesIO(original)).tobytes()
    assert jpeg_segments(served).count(0xDA) == jpeg_segments(original).count(0xDA) > 1


def test_turned_jpeg_is_reencoded_without_its_comment(client, headers, settings) -> None:
    buffer = io.BytesIO()
    photo().save(buffer, "JPEG", quality=90, exif=gps_exif(orientation=6), comment=b"home address")
    edit = run_edit(client, headers, buffer.getvalue(), "phone.jpg", "jpeg")
    assert edit["height"] > edit["width"]  # turned upright before anything else
    assert_stored_and_served_clean(client, headers, settings, edit)


def test_png_loses_text_xmp_exif_and_time_chunks(client, headers, settings) -> None:
    original = png_with_metadata()
    edit = run_edit(client, headers, original, "scan.png", "png")
    assert_stored_and_served_clean(client, headers, settings, edit)
    served = client.get(f"/api/v1/edits/{edit['id']}/inputs/0", headers=headers).content
    assert Image.open(io.BytesIO(served)).tobytes() == Image.open(io.BytesIO(original)).tobytes()


def test_webp_loses_exif_xmp_and_chunks_we_do_not_know(client, headers, settings) -> None:
    private = b"GPSx" + struct.pack("<I", 20) + b"48.8584 N 2.2945 E  "
    original = webp_with_metadata(private)
    edit = run_edit(client, headers, original, "photo.webp", "webp")
    assert_stored_and_served_clean(client, headers, settings, edit)
    served = client.get(f"/api/v1/edits/{edit['id']}/inputs/0", headers=headers).content
    assert Image.open(io.BytesIO(served)).tobytes() == Image.open(io.BytesIO(original)).tobytes()


@pytest.mark.nodb
def test_jpeg_stripper_walks_every_segment_to_the_end() -> None:
    original = progressive_jpeg_with_metadata_between_scans()
    stripped = strip_jpeg(original + b"trailing bytes with 48.8584")
    assert_no_metadata(stripped, "the stripped JPEG")
    assert stripped.endswith(b"\xff\xd9")
    assert Image.open(io.BytesIO(stripped)).tobytes() == Image.open(io.BytesIO(original)).tobytes()
