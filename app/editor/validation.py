"""Checks on everything a person sends with an edit. Pure functions: bytes and strings in, cleaned values
or an error that names the field out. Nothing here stores or charges.

Images are identified by their bytes, never by name or declared type. Their size is read from the header
before any decoding and refused past two limits: pixels (a product rule) and the bytes the decoded pixels
take (what decoding costs in memory; a 381 KB file can declare gigabytes). They are then decoded once, at
8 bits per channel, to prove they are whole, and let go; EXIF orientation is applied and metadata removed
from what is kept.
"""

from __future__ import annotations

import io
import struct
from dataclasses import dataclass

from PIL import Image, ImageMode, ImageOps, JpegImagePlugin, PngImagePlugin, UnidentifiedImageError

from app.billing.pricing import QUALITIES, RESOLUTIONS
from app.config import Settings
from app.editor.metadata import STRIPPERS, MalformedImage
from app.editor.sizes import ASPECT_RATIOS
from app.errors import UnsupportedMedia, ValidationFailed

MAX_IMAGES = 9
MAX_PROMPT_CHARS = 20_000
MAX_IDEMPOTENCY_KEY_CHARS = 255
MAX_FORM_KEY_CHARS = 64
OUTPUT_FORMATS = ("png", "jpeg", "webp")
CONTENT_TYPES = {"png": "image/png", "jpeg": "image/jpeg", "webp": "image/webp"}
EXTENSIONS = {"png": "png", "jpeg": "jpg", "webp": "webp"}
_ORIENTATION_TAG = 0x0112
# What one decoded pixel may cost by default: 8-bit RGBA (Pillow keeps RGB in four bytes too, and decodes
# 16-bit colour to 8 bits), so an image within the pixel limit is within the byte limit unless its decoded
# form is wider than that.
DECODED_BYTES_PER_PIXEL = 4

# Pillow's own decompression-bomb guard stays on, as a second line behind our checks: it warns above this
# many pixels and refuses at twice as many. Ours refuse first, from the header, with a message naming the
# field; `clean_image` raises the guard to a higher configured limit so it never refuses what we accept.
Image.MAX_IMAGE_PIXELS = Settings.model_fields["max_image_pixels"].default


@dataclass(frozen=True)
class CleanImage:
    """An accepted image: its bytes as they will be stored, and what we learned decoding it."""

    data: bytes
    format: str
    width: int
    height: int

    @property
    def content_type(self) -> str:
        return CONTENT_TYPES[self.format]

    @property
    def extension(self) -> str:
        return EXTENSIONS[self.format]


@dataclass(frozen=True)
class Header:
    """What an image file declares before any pixel is decoded."""

    width: int
    height: int
    pixel_bytes: int
    """Bytes one pixel takes once decoded, as Pillow holds it (16-bit colour is decoded to 8 bits)."""

    @property
    def pixels(self) -> int:
        return self.width * self.height

    @property
    def decoded_bytes(self) -> int:
        return self.pixels * self.pixel_bytes


def sniff_format(head: bytes) -> str | None:
    """'png', 'jpeg' or 'webp' from the first bytes of a file, else None."""
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    return None


def _describe_unsupported(head: bytes) -> str:
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "a GIF"
    if head[4:12] in (b"ftypheic", b"ftypheix", b"ftypmif1", b"ftypavif"):
        return "a HEIC/AVIF file"
    if head.startswith(b"%PDF"):
        return "a PDF"
    if head[:2] == b"BM":
        return "a BMP"
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return "a TIFF"
    return "not an image we can read"


def read_header(data: bytes, fmt: str) -> Header:
    """The declared size of a PNG, JPEG or WebP file, without decoding pixels or allocating for them.

    Pillow's plugins parse PNG and JPEG headers without touching pixels (and, unlike `Image.open`, without
    the bomb guard, so our own limits answer first). Opening a WebP creates its decoder, which allocates the
    whole canvas, so its size is read from the first chunk instead. Raises ValueError, OSError or
    SyntaxError for a header that cannot be read.
    """
    if fmt == "webp":
        width, height = _webp_canvas(data[:30])
        return Header(width, height, 4)  # decoded as RGB or RGBA, four bytes a pixel either way
    plugin = PngImagePlugin.PngImageFile if fmt == "png" else JpegImagePlugin.JpegImageFile
    image = plugin(io.BytesIO(data))
    width, height = image.size
    return Header(width, height, pixel_bytes(image.mode))


def pixel_bytes(mode: str) -> int:
    """Bytes Pillow uses for one pixel of `mode`: four for any multi-band mode (RGB is padded to four)."""
    if Image.getmodebands(mode) > 1:
        return 4
    return max(1, int(ImageMode.getmode(mode).typestr[-1]))


def _webp_canvas(head: bytes) -> tuple[int, int]:
    """(width, height) from the first chunk of a WebP file (VP8X, VP8L or VP8), as the container spec lays
    it out."""
    chunk = head[12:16]
    if chunk == b"VP8X" and len(head) >= 30:
        return (int.from_bytes(head[24:27], "little") + 1, int.from_bytes(head[27:30], "little") + 1)
    if chunk == b"VP8L" and len(head) >= 25 and head[20] == 0x2F:
        bits = int.from_bytes(head[21:25], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if chunk == b"VP8 " and len(head) >= 30 and head[23:26] == b"\x9d\x01\x2a":
        return (int.from_bytes(head[26:28], "little") & 0x3FFF, int.from_bytes(head[28:30], "little") & 0x3FFF)
    raise SyntaxError("the WebP header declares no size")


def check_limits(header: Header, *, field: str, label: str, max_pixels: int, max_decoded_bytes: int) -> None:
    """Refuse an image whose declared size is past either limit, before a byte of it is decoded."""
    if header.pixels > max_pixels:
        raise ValidationFailed(
            f"{label} is {header.width}×{header.height} ({header.pixels / 1e6:.1f} megapixels); the limit is "
            f"{max_pixels / 1e6:.0f} megapixels.", field=field, code="image_too_large")
    if header.decoded_bytes > max_decoded_bytes:
        raise ValidationFailed(
            f"{label} ({header.width}×{header.height}) would take {header.decoded_bytes / 2**20:.0f} MB of "
            f"memory to decode; the limit is {max_decoded_bytes / 2**20:.0f} MB. Upload it smaller.",
            field=field, code="image_too_large")


def clean_image(data: bytes, *, field: str, label: str, max_pixels: int,
                max_decoded_bytes: int | None = None) -> CleanImage:
    """Validate one uploaded image and return it oriented and without metadata.

    `field` is the form field to blame ("image"), `label` how to name this file in a message ("image 2").
    `max_decoded_bytes` defaults to `max_pixels` 8-bit RGBA pixels.
    """
    fmt = sniff_format(data[:16])
    if fmt is None:
        raise UnsupportedMedia(f"{label} is {_describe_unsupported(data[:16])}; upload PNG, JPEG or WebP.",
                               field=field)
    try:
        header = read_header(data, fmt)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, struct.error) as exc:
        raise ValidationFailed(f"{label} is damaged or truncated and cannot be read ({_reason(exc)}).",
                               field=field, code="invalid_image") from exc
    check_limits(header, field=field, label=label, max_pixels=max_pixels,
                 max_decoded_bytes=max_decoded_bytes or max_pixels * DECODED_BYTES_PER_PIXEL)
    _guard_at_least(max_pixels)
    try:
        image = Image.open(io.BytesIO(data), formats=[fmt.upper()])
        if getattr(image, "is_animated", False):
            raise ValidationFailed(f"{label} is animated; upload a still image.", field=field,
                                   code="invalid_image")
        width, height = image.size
        orientation = image.getexif().get(_ORIENTATION_TAG, 1)
        if fmt == "jpeg" and orientation in (1, None):
            # Decoding at 1/8 scale still reads every compressed byte, so truncation is caught
            # at a fraction of the cost (and memory) of a full decode.
            image.draft("RGB", (max(1, width // 8), max(1, height // 8)))
        image.load()  # at most `header.decoded_bytes`, let go when this function returns
    except ValidationFailed:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError,
            struct.error) as exc:
        raise ValidationFailed(f"{label} is damaged or truncated and cannot be read ({_reason(exc)}).",
                               field=field, code="invalid_image") from exc
    try:
        if orientation not in (1, None):
            return _reencode_oriented(image, fmt)
        return CleanImage(STRIPPERS[fmt](data), fmt, width, height)
    except MalformedImage as exc:
        raise ValidationFailed(f"{label} is damaged and cannot be read ({exc}).", field=field,
                               code="invalid_image") from exc


def _guard_at_least(max_pixels: int) -> None:
    """Keep Pillow's guard behind a configured limit above its default. It only ever rises, so threads
    validating at the same time agree."""
    if Image.MAX_IMAGE_PIXELS is not None and max_pixels > Image.MAX_IMAGE_PIXELS:
        Image.MAX_IMAGE_PIXELS = max_pixels


def _reason(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text[:120]


def _reencode_oriented(image: Image.Image, fmt: str) -> CleanImage:
    """Turn the pixels upright and save without metadata. Only files with a non-default EXIF orientation
    (mostly phone photos) pay for this re-encode. Pillow carries some metadata over from what it decoded
    (a JPEG's comment), so the new file goes through the same stripper as any other."""
    icc = image.info.get("icc_profile")
    upright = ImageOps.exif_transpose(image)
    buffer = io.BytesIO()
    options: dict[str, object] = {"icc_profile": icc} if icc else {}
    if fmt == "jpeg":
        upright.save(buffer, "JPEG", quality=95, subsampling=0, **options)
    elif fmt == "webp":
        upright.save(buffer, "WEBP", quality=95, **options)
    else:
        upright.save(buffer, "PNG", compress_level=3, **options)
    return CleanImage(STRIPPERS[fmt](buffer.getvalue()), fmt, upright.width, upright.height)


def clean_prompt(prompt: str | None, *, field: str = "prompt") -> str:
    """The instruction, trimmed: 1–20,000 characters."""
    text = (prompt or "").strip()
    if not text:
        raise ValidationFailed("Describe the change you want: the instruction is empty.", field=field,
                               code="prompt_required")
    if len(text) > MAX_PROMPT_CHARS:
        raise ValidationFailed(
            f"The instruction is {len(text):,} characters; the limit is {MAX_PROMPT_CHARS:,}.", field=field,
            code="prompt_too_long")
    return text


def check_choice(value: str, allowed: tuple[str, ...], *, field: str) -> str:
    if value not in allowed:
        raise ValidationFailed(f"{field} must be one of {', '.join(allowed)} (got {value[:40]!r}).", field=field,
                               code="invalid_option")
    return value


@dataclass(frozen=True)
class EditOptions:
    quality: str = "medium"
    resolution: str = "1K"
    aspect_ratio: str = "auto"
    output_format: str = "png"


def check_options(quality: str | None, resolution: str | None, aspect_ratio: str | None,
                  output_format: str | None) -> EditOptions:
    """The four settings of an edit, defaulted and checked; unknown values are refused."""
    defaults = EditOptions()
    return EditOptions(
        quality=check_choice(quality or defaults.quality, QUALITIES, field="quality"),
        resolution=check_choice((resolution or defaults.resolution).upper(), RESOLUTIONS, field="resolution"),
        aspect_ratio=check_choice(aspect_ratio or defaults.aspect_ratio, ASPECT_RATIOS, field="aspect_ratio"),
        output_format=check_choice(_format_name(output_format or defaults.output_format), OUTPUT_FORMATS,
                                   field="output_format"),
    )


def _format_name(value: str) -> str:
    lowered = value.lower()
    return "jpeg" if lowered == "jpg" else lowered


def check_image_count(count: int, *, field: str = "image") -> None:
    if count < 1:
        raise ValidationFailed("Add at least one image to edit.", field=field, code="image_required")
    if count > MAX_IMAGES:
        raise ValidationFailed(f"At most {MAX_IMAGES} images per edit (got {count}).", field=field,
                               code="too_many_images")


def _check_key(key: str | None, *, limit: int, field: str, code: str, hint: str) -> str | None:
    """A client's key as sent, if any: at most `limit` printable ASCII characters."""
    if key is None:
        return None
    if len(key) > limit or not key.isascii() or not key.isprintable():
        raise ValidationFailed(f"{field} must be at most {limit} printable ASCII characters{hint}", field=field,
                               code=code)
    return key


def check_idempotency_key(key: str | None) -> str | None:
    """An `Idempotency-Key` header as sent, if any."""
    return _check_key(key, limit=MAX_IDEMPOTENCY_KEY_CHARS, field="Idempotency-Key",
                      code="invalid_idempotency_key", hint=" (a UUID is a good choice).")


def check_form_key(key: str | None) -> str | None:
    """The no-JavaScript editor's per-page key, if any."""
    return _check_key(key, limit=MAX_FORM_KEY_CHARS, field="form_key", code="invalid_form_key",
                      hint="; reload the editor to get a fresh one.")
