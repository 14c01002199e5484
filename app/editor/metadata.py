"""Lossless removal of metadata (EXIF with GPS, XMP, IPTC, comments, thumbnails, trailers) from PNG, JPEG
and WebP.

We keep what decoding needs and what changes how the pixels look (ICC profiles, gamma, transparency,
Adobe's colour transform) and drop everything else, wherever it sits, without re-encoding: a stored photo
keeps its exact quality and a 12-megapixel upload costs milliseconds, not a decode and an encode. Each
container is walked to its end and rebuilt from an allow-list, never copied wholesale from some point on: a
progressive JPEG may carry EXIF and comments between its scans, a PNG text after its pixels, a WebP any
chunk a tool cared to add.
"""

from __future__ import annotations

import re
import struct

# JPEG: what decoding needs besides the frame, tables and scans: JFIF (APP0, without its thumbnail), Adobe's
# colour transform (APP14) and ICC profiles (APP2). Every other APPn and every comment (COM) goes.
_JFIF = b"JFIF\x00"
_JFIF_WITHOUT_THUMBNAIL = 12  # identifier, version, units, densities; then thumbnail width, height, pixels
_ADOBE = b"Adobe"
_ICC_SIGNATURE = b"ICC_PROFILE\x00"
_COMMENT = 0xFE
_START_OF_SCAN = 0xDA
_END_OF_IMAGE = 0xD9
_WITHOUT_LENGTH = {0x01, *range(0xD0, 0xD8)}  # TEM and the restart markers
# Inside entropy-coded data 0xFF is followed by 0x00 (a stuffed byte) or a restart marker; anything else
# starts the next segment (after optional 0xFF fill bytes).
_SCAN_END = re.compile(rb"\xff[^\x00\xd0-\xd7]")

# PNG: critical chunks and the ancillary ones that change how pixels are shown.
_PNG_KEEP = {b"IHDR", b"PLTE", b"IDAT", b"IEND", b"tRNS", b"gAMA", b"cHRM", b"sRGB", b"iCCP", b"sBIT",
             b"cICP", b"mDCv", b"cLLi", b"pHYs"}
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

# WebP: the chunks that hold pixels, transparency, colour and animation; EXIF, XMP and unknown chunks go,
# and the VP8X flag bits that announced EXIF and XMP are cleared.
_WEBP_KEEP = {b"VP8X", b"VP8 ", b"VP8L", b"ALPH", b"ICCP", b"ANIM", b"ANMF"}
_VP8X_EXIF_FLAG = 0x08
_VP8X_XMP_FLAG = 0x04


class MalformedImage(ValueError):
    """The container structure is broken (the decoder would have refused it too)."""


def strip_jpeg(data: bytes) -> bytes:
    """The JPEG rebuilt from its frame, tables and scans (and JFIF, Adobe, ICC), up to its end marker."""
    if data[:2] != b"\xff\xd8":
        raise MalformedImage("not a JPEG stream")
    out = bytearray(b"\xff\xd8")
    pos = 2
    while pos < len(data):
        if data[pos] != 0xFF:
            raise MalformedImage("JPEG marker expected")
        if pos + 1 >= len(data):
            raise MalformedImage("JPEG ends inside a marker")
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker == _END_OF_IMAGE:  # whatever follows (trailers, appended images) goes
            out += b"\xff\xd9"
            return bytes(out)
        if marker == 0xD8:
            raise MalformedImage("JPEG starts again inside itself")
        if marker in _WITHOUT_LENGTH:
            out += data[pos:pos + 2]
            pos += 2
            continue
        if pos + 4 > len(data):
            raise MalformedImage("JPEG ends inside a segment header")
        (length,) = struct.unpack(">H", data[pos + 2:pos + 4])
        segment_end = pos + 2 + length
        if length < 2 or segment_end > len(data):
            raise MalformedImage("JPEG segment runs past the end")
        out += _kept_segment(marker, data[pos:segment_end])
        pos = segment_end
        if marker == _START_OF_SCAN:  # the entropy-coded data follows its header, up to the next marker
            end = _SCAN_END.search(data, pos)
            scan_end = len(data) if end is None else end.start()
            out += data[pos:scan_end]
            pos = scan_end
    return bytes(out)  # no end marker (a truncated tail the decoder tolerated): keep what there is


def _kept_segment(marker: int, segment: bytes) -> bytes:
    """The segment as stored: itself, a JFIF header without its thumbnail, or nothing."""
    if marker == _COMMENT:
        return b""
    if not 0xE0 <= marker <= 0xEF:
        return segment
    payload = segment[4:]
    if marker == 0xE0 and payload.startswith(_JFIF) and len(payload) >= _JFIF_WITHOUT_THUMBNAIL + 2:
        body = payload[:_JFIF_WITHOUT_THUMBNAIL] + b"\x00\x00"
        return b"\xff\xe0" + struct.pack(">H", len(body) + 2) + body
    if (marker == 0xEE and payload.startswith(_ADOBE)) or (marker == 0xE2 and payload.startswith(_ICC_SIGNATURE)):
        return segment
    return b""


def strip_png(data: bytes) -> bytes:
    """The PNG rebuilt from its allowed chunks, up to its end chunk."""
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
    """The WebP rebuilt from its allowed chunks, with the RIFF size and VP8X flags to match."""
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
        if fourcc in _WEBP_KEEP:
            chunks += chunk + (b"\x00" if len(chunk) & 1 else b"")
        pos = chunk_end
    return b"RIFF" + struct.pack("<I", 4 + len(chunks)) + b"WEBP" + bytes(chunks)


STRIPPERS = {"png": strip_png, "jpeg": strip_jpeg, "webp": strip_webp}
