"""Answering with a stored file: streamed in chunks (never whole in memory) with its download headers, or a
small WebP preview of a stored image. One place for the editor's images, exports and the operator console."""

from __future__ import annotations

from collections.abc import Iterator

from fastapi.responses import Response, StreamingResponse

from app.editor import previews
from app.errors import AppError, NotFound
from app.storage import Storage, StoredObjectMissing

IMMUTABLE = "private, max-age=31536000, immutable"


def stream(storage: Storage, key: str, *, content_type: str, size: int | None, filename: str,
           disposition: str = "attachment", cache_control: str = IMMUTABLE,
           missing: AppError | None = None) -> StreamingResponse:
    """The file at `key`; `missing` (default 404) when storage no longer has it. The first chunk is read
    before answering, so a missing file is an error page rather than a broken download."""
    try:
        chunks = storage.iter_chunks(key)
        first = next(chunks, b"")
    except StoredObjectMissing as exc:
        raise (missing or NotFound("The file of this edit is gone.")) from exc

    def body() -> Iterator[bytes]:
        yield first
        yield from chunks

    headers = {"Content-Disposition": f'{disposition}; filename="{filename}"', "Cache-Control": cache_control,
               "X-Content-Type-Options": "nosniff"}
    if size is not None:
        headers["Content-Length"] = str(size)
    return StreamingResponse(body(), media_type=content_type, headers=headers)


def preview(storage: Storage, key: str, *, cache_control: str = IMMUTABLE) -> Response:
    """A WebP of at most 640 px of the image at `key` (made and stored on first request)."""
    try:
        data = previews.preview(storage, key)
    except StoredObjectMissing as exc:
        raise NotFound("The file of this edit is gone.") from exc
    return Response(data, media_type="image/webp", headers={"Cache-Control": cache_control})
