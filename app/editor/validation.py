"""Checks on everything a person sends with an edit. Pure functions: bytes and strings in, cleaned values
or an error that names the field out. Nothing here stores or charges.

Images are identified by their bytes, never by name or declared type; their pixel count is read from the
header before any decoding (decompression bombs); they are decoded once to prove they are whole; EXIF
orientation is applied and metadata removed from what is kept.
"""

from __future__ import annotations

import io
import struct
import warnings
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

from app.billing.pricing import QUALITIES, RESOLUTIONS
from app.editor.metadata import STRIPPERS, MalformedImage
from app.editor.sizes import ASPECT_RATIOS
from app.errors import UnsupportedMedia, ValidationFailed

MAX_IMAGES = 9
MAX_PROMPT_CHARS = 20_000
OUTPUT_FORMATS = ("png", "jpeg", "webp")
CONTENT_TYPES = {"png": "image/png", "jpeg": "image/jpeg", "webp": "image/webp"}
EXTENSIONS = {"png": "png", "jpeg": "jpg", "webp": "webp"}
_ORIENTATION_TAG = 0x0112

# Pillow's own bomb guard stays on as a second line; ours refuses at the limit with a clear message.
Image.MAX_IMAGE_PIXELS = None


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


def clean_image(data: bytes, *, field: str, label: str, max_pixels: int) -> CleanImage:
    """Validate one uploaded image and return it oriented and without metadata.

    `field` is the form field to blame ("image"), `label` how to name this file in a message ("image 2").
    """
    fmt = sniff_format(data[:16])
    if fmt is None:
        raise UnsupportedMedia(f"{label} is {_describe_unsupported(data[:16])}; upload PNG, JPEG or WebP.",
                               field=field)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=[fmt.upper()])
            width, height = image.size
            if width * height > max_pixels:
                raise ValidationFailed(
                    f"{label} is {width}×{height} ({width * height / 1e6:.1f} megapixels); the limit is "
                    f"{max_pixels / 1e6:.0f} megapixels.", field=field, code="image_too_large")
            if getattr(image, "is_animated", False):
                raise ValidationFailed(f"{label} is animated; upload a still image.", field=field,
                                       code="invalid_image")
            orientation = image.getexif().get(_ORIENTATION_TAG, 1)
            if fmt == "jpeg" and orientation in (1, None):
                # Decoding at 1/8 scale still reads every compressed byte, so truncation is caught
                # at a fraction of the cost of a full decode.
                image.draft("RGB", (max(1, width // 8), max(1, height // 8)))
            image.load()
    except ValidationFailed:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError,
            Image.DecompressionBombWarning, struct.error) as exc:
        raise ValidationFailed(f"{label} is damaged or truncated and cannot be read ({_reason(exc)}).",
                               field=field, code="invalid_image") from exc
    if orientation not in (1, None):
        return _reencode_oriented(image, fmt)
    try:
        cleaned = STRIPPERS[fmt](data)
    except MalformedImage as exc:
        raise ValidationFailed(f"{label} is damaged and cannot be read ({exc}).", field=field,
                               code="invalid_image") from exc
    return CleanImage(cleaned, fmt, width, height)


def _reason(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text[:120]


def _reencode_oriented(image: Image.Image, fmt: str) -> CleanImage:
    """Turn the pixels upright and save without metadata. Only files with a non-default EXIF orientation
    (mostly phone photos) pay for this re-encode."""
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
    return CleanImage(buffer.getvalue(), fmt, upright.width, upright.height)


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
