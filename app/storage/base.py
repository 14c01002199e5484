"""Where images live: a key-value store of bytes. Keys look like `u/{user}/e/{edit}/input-0.jpg`."""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO, Protocol


class StoredObjectMissing(Exception):
    """The key is not in the store."""


class Storage(Protocol):
    def put(self, key: str, data: bytes, content_type: str) -> None:
        """Store `data` under `key`, replacing what was there; visible to readers only when complete."""
        ...

    def put_file(self, key: str, source: BinaryIO, content_type: str) -> None:
        """Store what `source` holds from where it stands, streamed (large files: exports)."""
        ...

    def get(self, key: str) -> bytes:
        """The bytes under `key`; StoredObjectMissing when there are none."""
        ...

    def iter_chunks(self, key: str, chunk_size: int = 1 << 20) -> Iterator[bytes]:
        """The bytes under `key` in pieces, for streaming a download."""
        ...

    def delete(self, key: str) -> None:
        """Remove `key`; removing a missing key is not an error."""
        ...

    def exists(self, key: str) -> bool:
        ...
