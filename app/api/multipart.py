"""Streaming multipart/form-data intake with hard limits.

Uploads are parsed as they arrive: each file is counted while it streams and refused the moment it
passes the limit, so an oversized upload is never held in memory (small files stay in memory, larger
ones spill to a temporary file). Each file's SHA-256 is computed on the way, for idempotency.
"""

from __future__ import annotations

import hashlib
import tempfile
from dataclasses import dataclass, field

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import Request

from app.errors import PayloadTooLarge, ValidationFailed

SPOOL_BYTES = 4 * 1024 * 1024


@dataclass
class UploadedFile:
    name: str
    filename: str
    content_type: str
    position: int
    size: int = 0
    _hash: hashlib._Hash = field(default_factory=hashlib.sha256, repr=False)
    _spool: tempfile.SpooledTemporaryFile[bytes] = field(  # closed by ParsedForm.close()
        default_factory=lambda: tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES), repr=False)  # noqa: SIM115

    @property
    def sha256(self) -> str:
        return self._hash.hexdigest()

    def write(self, chunk: bytes) -> None:
        self._hash.update(chunk)
        self._spool.write(chunk)
        self.size += len(chunk)

    def read(self) -> bytes:
        self._spool.seek(0)
        return self._spool.read()

    def close(self) -> None:
        self._spool.close()


@dataclass
class ParsedForm:
    fields: dict[str, list[str]] = field(default_factory=dict)
    files: list[UploadedFile] = field(default_factory=list)

    def get(self, name: str) -> str | None:
        values = self.fields.get(name)
        return values[-1] if values else None

    def close(self) -> None:
        for upload in self.files:
            upload.close()


@dataclass(frozen=True)
class Limits:
    file_fields: frozenset[str]
    max_files: int
    max_file_bytes: int
    max_field_bytes: int = 256 * 1024
    max_fields: int = 64


class _Collector:
    """Receives the parser's callbacks and builds a ParsedForm, enforcing the limits as data arrives."""

    def __init__(self, limits: Limits, label: str) -> None:
        self.limits = limits
        self.label = label
        self.form = ParsedForm()
        self._header_field = bytearray()
        self._header_value = bytearray()
        self._headers: dict[bytes, bytes] = {}
        self._file: UploadedFile | None = None
        self._field_name: str | None = None
        self._field_value = bytearray()
        self._field_count = 0

    def callbacks(self) -> dict[str, object]:
        return {
            "on_part_begin": self._part_begin, "on_header_field": self._on_header_field,
            "on_header_value": self._on_header_value, "on_header_end": self._header_end,
            "on_headers_finished": self._headers_finished, "on_part_data": self._part_data,
            "on_part_end": self._part_end,
        }

    def _part_begin(self) -> None:
        self._headers = {}
        self._file = None
        self._field_name = None
        self._field_value = bytearray()

    def _on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_field += data[start:end]

    def _on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def _header_end(self) -> None:
        self._headers[bytes(self._header_field).lower()] = bytes(self._header_value)
        self._header_field = bytearray()
        self._header_value = bytearray()

    def _headers_finished(self) -> None:
        _, options = parse_options_header(self._headers.get(b"content-disposition", b""))
        name = options.get(b"name", b"").decode("utf-8", "replace")
        filename = options.get(b"filename")
        is_file = filename is not None or name in self.limits.file_fields
        if is_file:
            if name not in self.limits.file_fields:
                raise ValidationFailed(f"Unexpected file field {name!r}.", field=name or None)
            position = len(self.form.files)
            if position >= self.limits.max_files:
                raise ValidationFailed(f"At most {self.limits.max_files} images per edit.", field=_base(name),
                                       code="too_many_images")
            content_type = self._headers.get(b"content-type", b"application/octet-stream").decode("latin-1")
            self._file = UploadedFile(name=name, filename=(filename or b"").decode("utf-8", "replace"),
                                      content_type=content_type, position=position)
            self.form.files.append(self._file)
        else:
            self._field_count += 1
            if self._field_count > self.limits.max_fields:
                raise ValidationFailed("Too many form fields.", field=None)
            self._field_name = name

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        if self._file is not None:
            self._file.write(data[start:end])
            if self._file.size > self.limits.max_file_bytes:
                mb = self.limits.max_file_bytes // (1024 * 1024)
                raise PayloadTooLarge(f"{self.label} {self._file.position + 1} is larger than {mb} MB.",
                                      field=_base(self._file.name))
        else:
            self._field_value += data[start:end]
            if len(self._field_value) > self.limits.max_field_bytes:
                raise PayloadTooLarge(f"The field {self._field_name!r} is too long.", field=self._field_name,
                                      code="field_too_large")

    def _part_end(self) -> None:
        if self._field_name is not None and self._file is None:
            value = bytes(self._field_value).decode("utf-8", "replace")
            self.form.fields.setdefault(self._field_name, []).append(value)
        self._file = None
        self._field_name = None


def _base(name: str) -> str:
    return name.removesuffix("[]")


async def parse_multipart(request: Request, limits: Limits, *, label: str = "Image") -> ParsedForm:
    """Parse the request body as multipart/form-data within `limits`; any breach raises at once."""
    content_type, options = parse_options_header(request.headers.get("content-type", ""))
    if content_type != b"multipart/form-data" or b"boundary" not in options:
        raise ValidationFailed("Send the edit as multipart/form-data.", field=None, code="invalid_content_type")
    declared = request.headers.get("content-length")
    ceiling = limits.max_files * limits.max_file_bytes + limits.max_fields * limits.max_field_bytes
    if declared and declared.isdigit() and int(declared) > ceiling:
        raise PayloadTooLarge("The upload is larger than this endpoint accepts.", field=None, code="request_too_large")
    collector = _Collector(limits, label)
    parser = MultipartParser(options[b"boundary"], collector.callbacks())  # type: ignore[arg-type]
    received = 0
    try:
        async for chunk in request.stream():
            received += len(chunk)
            if received > ceiling:
                raise PayloadTooLarge("The upload is larger than this endpoint accepts.", field=None,
                                      code="request_too_large")
            parser.write(chunk)
        parser.finalize()
    except MultipartParseError as exc:
        collector.form.close()
        raise ValidationFailed(f"The upload is not valid multipart/form-data ({exc}).", field=None,
                               code="invalid_multipart") from exc
    except BaseException:
        collector.form.close()
        raise
    return collector.form
