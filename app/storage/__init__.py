"""Storage of images, chosen by STORAGE_URL: `file://path` or `s3://bucket/prefix`."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlparse

from app.errors import ConfigurationError
from app.storage.base import Storage, StoredObjectMissing


def create_storage(url: str, *, s3_endpoint_url: str | None = None) -> Storage:
    parsed = urlparse(url)
    if parsed.scheme == "file":
        # file://./data/files (relative) and file:///abs/path both work.
        from app.storage.local import FileStorage

        return FileStorage(Path(parsed.netloc + parsed.path))
    if parsed.scheme == "s3":
        from app.storage.s3 import S3Storage

        if not parsed.netloc:
            raise ConfigurationError(f"STORAGE_URL={url!r} names no bucket (s3://bucket/prefix)")
        return S3Storage(parsed.netloc, parsed.path, endpoint_url=s3_endpoint_url)
    raise ConfigurationError(f"STORAGE_URL={url!r}: use file://folder or s3://bucket/prefix")



__all__ = ["Storage", "StoredObjectMissing", "create_storage"]
