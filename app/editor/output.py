"""The delivered image: decoded inputs in, exactly width × height in the chosen format out. Pure.

Inputs are decoded at 8 bits per channel and no larger than the edit needs: a 49-megapixel upload for a
1024-pixel result is reduced while it is decoded (JPEG) or right after (everything else), so what the
backend works on, and what memory it costs, follows the output size rather than the upload's.
"""

from __future__ import annotations

import io
import math

from PIL import Image, ImageCms, ImageOps

from app.editor.validation import CONTENT_TYPES

_SRGB = ImageCms.createProfile("sRGB")
JPEG_QUALITY = 92
WEBP_QUALITY = 90
PNG_COMPRESS_LEVEL = 3  # level 6 costs 2–3x the time at 4K for files ~10% smaller
# An input more than this much larger (per side) than the edit needs is reduced at decode; below it the
# backend's own single resampling gives the better picture.
REDUCE_ABOVE = 1.25
# Pillow's box-reduce by whole factors first, then Lanczos over the rest: fast, and indistinguishable from
# Lanczos all the way (Pillow's documentation of `reducing_gap`).
REDUCING_GAP = 2.0
_PREMULTIPLIED = {"RGBA": "RGBa", "LA": "La"}


def working_size(size: tuple[int, int], at_least: tuple[int, int]) -> tuple[int, int]:
    """The size an input of `size` is decoded at for an output of `at_least`: scaled down to still cover
    it (the output may crop any part of the input), or left alone when it is not much larger.

    A framing that crops deep into a huge input or turns it 90° across a different aspect enlarges the
    reduced input a little; that is the price of decoding a 50-megapixel upload at the output's scale.
    """
    width, height = size
    scale = max(at_least[0] / width, at_least[1] / height)
    if scale * REDUCE_ABOVE >= 1:
        return size
    return max(1, math.ceil(width * scale)), max(1, math.ceil(height * scale))


def decode_input(data: bytes, *, at_least: tuple[int, int] | None = None) -> Image.Image:
    """A stored input as RGB or RGBA pixels in sRGB, 8 bits per channel. With `at_least`, an input much
    larger than that is reduced to the `working_size` as it is decoded: a JPEG at the smallest DCT scale
    that covers it, anything else by Pillow's reduce and resample straight after decoding, so the full
    size exists once, briefly, at 8 bits per channel. The image carries none of the file's metadata."""
    stored = Image.open(io.BytesIO(data))
    target = stored.size if at_least is None else working_size(stored.size, at_least)
    if stored.format == "JPEG" and target != stored.size:
        stored.draft("RGB", target)
    stored.load()
    icc = stored.info.get("icc_profile")
    has_alpha = "A" in stored.getbands() or "transparency" in stored.info
    image = _eight_bit(stored, has_alpha)
    del stored
    if max(image.width / target[0], image.height / target[1]) > REDUCE_ABOVE:
        # Pillow resamples transparency premultiplied (hidden colours must not bleed into visible ones)
        # and would make that copy itself while the original lives on; made here, the original goes
        # first: two full-size copies at the peak instead of three.
        straight = image.mode
        premultiplied = _PREMULTIPLIED.get(straight)
        if premultiplied is not None:
            image = image.convert(premultiplied)
        image = image.resize(target, Image.Resampling.LANCZOS, reducing_gap=REDUCING_GAP)
        if premultiplied is not None:
            image = image.convert(straight)
    mode = "RGBA" if has_alpha else "RGB"
    if image.mode != mode:
        image = image.convert(mode)
    if icc:
        try:
            source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            image = ImageCms.profileToProfile(image, source, _SRGB, outputMode=image.mode) or image
        except (ImageCms.PyCMSError, OSError):
            pass  # an unreadable profile: the pixels are most likely sRGB already
    image.info = {}  # sRGB now: no profile, comment or EXIF of the input may travel into a result
    return image


def _eight_bit(image: Image.Image, has_alpha: bool) -> Image.Image:
    """L, LA, RGB or RGBA at 8 bits per channel, without copying what already is. 16-bit grey is scaled
    (Pillow's own conversion clips it, turning most of a picture white); palettes and CMYK are expanded
    before anything resamples them."""
    if image.mode in ("L", "LA", "RGB", "RGBA") and "transparency" not in image.info:
        return image
    if image.mode.startswith("I") or image.mode == "F":
        wide = image if image.mode == "I" else image.convert("I")
        return wide.point(lambda value: value / 256, "L")
    return image.convert("RGBA" if has_alpha else "RGB")


def fit(image: Image.Image, width: int, height: int) -> Image.Image:
    """Exactly width × height: scaled to cover and centre-cropped when the aspect differs, never stretched."""
    if image.size == (width, height):
        return image
    return ImageOps.fit(image, (width, height), method=Image.Resampling.LANCZOS, centering=(0.5, 0.5))


def encode(image: Image.Image, output_format: str, compression: int | None = None) -> bytes:
    """PNG, JPEG or WebP bytes. JPEG has no transparency: transparent pixels become white.
    `compression` is OpenAI's output_compression (0–100), used as the JPEG/WebP quality when given."""
    buffer = io.BytesIO()
    if output_format == "jpeg":
        if image.mode != "RGB":
            image = _flatten(image)
        # comment=b"": Pillow would otherwise copy the comment of whatever file the image came from.
        image.save(buffer, "JPEG", quality=_quality(compression, JPEG_QUALITY), optimize=False, comment=b"")
    elif output_format == "webp":
        image.save(buffer, "WEBP", quality=_quality(compression, WEBP_QUALITY), method=4)
    elif output_format == "png":
        image.save(buffer, "PNG", compress_level=PNG_COMPRESS_LEVEL)
    else:
        raise ValueError(f"unknown output format {output_format!r}")
    return buffer.getvalue()


def content_type(output_format: str) -> str:
    return CONTENT_TYPES[output_format]


def _quality(compression: int | None, default: int) -> int:
    return default if compression is None else min(100, max(1, compression))


def _flatten(image: Image.Image) -> Image.Image:
    if image.mode in ("RGBA", "LA") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        white = Image.new("RGB", rgba.size, (255, 255, 255))
        white.paste(rgba, mask=rgba.getchannel("A"))
        return white
    return image.convert("RGB")
