"""file:// storage: a folder on this machine. Writes go to a temporary file and are renamed into place,
so a reader never sees half an image."""

from __future__ import annotations

import io
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from app.storage.base import StoredObjectMissing


class FileStorage:
    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self.root.mkdir(parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if not path.is_relative_to(self.root):
            raise ValueError(f"storage key escapes the root: {key!r}")
        return path

    def put(self, key: str, data: bytes, content_type: str) -> None:
        self.put_file(key, io.BytesIO(data), content_type)

    def put_file(self, key: str, source: BinaryIO, content_type: str) -> None:
        """Written to a temporary file beside the target, then renamed: readers never see half a file."""
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temp_name = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as handle:
                shutil.copyfileobj(source, handle, 1 << 20)
            os.replace(temp_name, path)
        except BaseException:
            Path(temp_name).unlink(missing_ok=True)
            raise

    def get(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError as exc:
            raise StoredObjectMissing(key) from exc

    def iter_chunks(self, key: str, chunk_size: int = 1 << 20) -> Iterator[bytes]:
        try:
            handle = self._path(key).open("rb")
        except FileNotFoundError as exc:
            raise StoredObjectMissing(key) from exc
        with handle:
            while chunk := handle.read(chunk_size):
                yield chunk

    def delete(self, key: str) -> None:
        path = self._path(key)
        path.unlink(missing_ok=True)
        # Tidy empty folders up to the root so deleted edits leave nothing behind.
        for parent in path.parents:
            if parent == self.root or not parent.is_relative_to(self.root):
                break
            try:
                parent.rmdir()
            except OSError:
                break

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()
