"""Lossless removal of metadata (EXIF with GPS, XMP, IPTC, comments, trailers) from PNG, JPEG and WebP.

We keep what affects how the pixels look (ICC profiles, gamma, transparency) and drop the rest without
re-encoding, so a stored photo keeps its exact quality and a 12-megapixel upload costs milliseconds,
not a decode and an encode.
"""

from __future__ import annotations

import struct

# JPEG: APP0 (JFIF), APP14 (Adobe colour transform) and ICC profiles in APP2 are kept.
_JPEG_KEEP_APP = {0xE0, 0xEE}
_ICC_SIGNATURE = b"ICC_PROFILE\x00"

# PNG: critical chunks and the ancillary ones that change how pixels are shown.
_PNG_KEEP = {b"IHDR", b"PLTE", b"IDAT", b"IEND", b"tRNS", b"gAMA", b"cHRM", b"sRGB", b"iCCP", b"sBIT",
             b"cICP", b"mDCv", b"cLLi", b"pHYs"}
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

# WebP: chunks that carry metadata, and the VP8X flag bits that announce them.
_WEBP_DROP = {b"EXIF", b"XMP "}
_VP8X_EXIF_FLAG = 0x08
_VP8X_XMP_FLAG = 0x04


class MalformedImage(ValueError):
    """The container structure is broken (the decoder would have refused it too)."""


def strip_jpeg(data: bytes) -> bytes:
    if data[:2] != b"\xff\xd8":
        raise MalformedImage("not a JPEG stream")
    out = bytearray(b"\xff\xd8")
    pos = 2
    while pos < len(data):
        if data[pos] != 0xFF:
            raise MalformedImage("JPEG marker expected")
        marker = data[pos + 1] if pos + 1 < len(data) else None
        if marker is None:
            raise MalformedImage("JPEG ends inside a marker")
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker == 0xDA:  # start of scan: copy the image data up to the end-of-image marker
            end = _jpeg_end_of_image(data, pos)
            out += data[pos:end]
            return bytes(out)
        if marker in (0x01, *range(0xD0, 0xD8)):  # markers without a length
            out += data[pos:pos + 2]
            pos += 2
            continue
        if pos + 4 > len(data):
            raise MalformedImage("JPEG ends inside a segment header")
        (length,) = struct.unpack(">H", data[pos + 2:pos + 4])
        segment_end = pos + 2 + length
        if length < 2 or segment_end > len(data):
            raise MalformedImage("JPEG segment runs past the end")
        payload = data[pos + 4:segment_end]
        is_app = 0xE0 <= marker <= 0xEF
        keep = not is_app and marker != 0xFE  # drop comments
        if is_app and (marker in _JPEG_KEEP_APP or (marker == 0xE2 and payload.startswith(_ICC_SIGNATURE))):
            keep = True
        if keep:
            out += data[pos:segment_end]
        pos = segment_end
    raise MalformedImage("JPEG has no image data")


def _jpeg_end_of_image(data: bytes, scan_start: int) -> int:
    """Index just past the EOI marker. Inside entropy-coded data a 0xFF byte is always followed by 0x00
    or a marker, so the first FF D9 is the real end; whatever follows (trailers, appended images) goes."""
    end = data.find(b"\xff\xd9", scan_start)
    return len(data) if end < 0 else end + 2


def strip_png(data: bytes) -> bytes:
    if not data.startswith(PNG_SIGNATURE):
        raise MalformedImage("not a PNG stream")
    out = bytearray(PNG_SIGNATURE)
    pos = len(PNG_SIGNATURE)
    while pos + 8 <= len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        chunk_type = data[pos + 4:pos + 8]
        chunk_end = pos + 12 + length
        if chunk_end > len(data):
            raise MalformedImage("PNG chunk runs past the end")
        if chunk_type in _PNG_KEEP:
            out += data[pos:chunk_end]
        if chunk_type == b"IEND":
            return bytes(out)
        pos = chunk_end
    raise MalformedImage("PNG has no end chunk")


def strip_webp(data: bytes) -> bytes:
    if data[:4] != b"RIFF" or data[8:12] != b"WEBP":
        raise MalformedImage("not a WebP stream")
    chunks = bytearray()
    pos = 12
    (riff_size,) = struct.unpack("<I", data[4:8])
    end = min(len(data), 8 + riff_size)
    while pos + 8 <= end:
        fourcc = data[pos:pos + 4]
        (size,) = struct.unpack("<I", data[pos + 4:pos + 8])
        chunk_end = pos + 8 + size + (size & 1)  # chunks are padded to an even length
        if pos + 8 + size > end:
            raise MalformedImage("WebP chunk runs past the end")
        chunk = bytearray(data[pos:min(chunk_end, end)])
        if fourcc == b"VP8X" and size >= 1:
            chunk[8] &= ~(_VP8X_EXIF_FLAG | _VP8X_XMP_FLAG) & 0xFF
        if fourcc not in _WEBP_DROP:
            chunks += chunk
        pos = chunk_end
    return b"RIFF" + struct.pack("<I", 4 + len(chunks)) + b"WEBP" + bytes(chunks)


STRIPPERS = {"png": strip_png, "jpeg": strip_jpeg, "webp": strip_webp}
