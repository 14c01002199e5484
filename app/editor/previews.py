"""Small WebP previews of stored images for lists and thumbnails: made on first request, then kept next to
the original (a 4K PNG is tens of megabytes; a history page shows a dozen)."""

from __future__ import annotations

import io

from PIL import Image

from app.editor.output import decode_input
from app.storage import Storage

PREVIEW_EDGE = 640


def preview_key(key: str) -> str:
    return f"{key}.preview.webp"


def preview(storage: Storage, key: str) -> bytes:
    """The preview of the stored image `key`, creating it if needed."""
    cached = preview_key(key)
    if storage.exists(cached):
        return storage.get(cached)
    data = make_preview(storage.get(key))
    storage.put(cached, data, "image/webp")
    return data


def make_preview(data: bytes) -> bytes:
    """A WebP of at most PREVIEW_EDGE pixels a side. The stored image is reduced as it is decoded (a JPEG
    at a DCT scale, anything else by `decode_input`'s reduce), so a preview of a 50-megapixel input costs
    one 8-bit decode, not a float copy or a full-size transpose; the WebP carries no metadata."""
    image = decode_input(data, at_least=(PREVIEW_EDGE, PREVIEW_EDGE))
    image.thumbnail((PREVIEW_EDGE, PREVIEW_EDGE), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    image.save(buffer, "WEBP", quality=80, method=4)
    return buffer.getvalue()
