"""Small WebP previews of stored images for lists and thumbnails: made on first request, then kept next to
the original (a 4K PNG is tens of megabytes; a history page shows a dozen)."""

from __future__ import annotations

import io

from PIL import Image, ImageOps

from app.storage import Storage

PREVIEW_EDGE = 640


def preview_key(key: str) -> str:
    return f"{key}.preview.webp"


def preview(storage: Storage, key: str) -> bytes:
    """The preview of the stored image `key`, creating it if needed."""
    cached = preview_key(key)
    if storage.exists(cached):
        return storage.get(cached)
    stored = Image.open(io.BytesIO(storage.get(key)))
    stored.draft("RGB", (PREVIEW_EDGE, PREVIEW_EDGE))
    image = ImageOps.exif_transpose(stored)
    image.thumbnail((PREVIEW_EDGE, PREVIEW_EDGE), Image.Resampling.LANCZOS)
    if image.mode not in ("RGB", "RGBA"):
        image = image.convert("RGBA" if "A" in image.getbands() or "transparency" in image.info else "RGB")
    buffer = io.BytesIO()
    image.save(buffer, "WEBP", quality=80, method=4)
    data = buffer.getvalue()
    storage.put(cached, data, "image/webp")
    return data
