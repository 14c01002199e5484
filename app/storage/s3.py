"""s3:// storage: any S3-compatible object store (AWS, MinIO, R2, moto in tests) through boto3."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, BinaryIO

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from app.storage.base import StoredObjectMissing


class S3Storage:
    def __init__(self, bucket: str, prefix: str = "", endpoint_url: str | None = None) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        # boto3 reads AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_DEFAULT_REGION itself.
        self.client = boto3.client("s3", endpoint_url=endpoint_url,
                                   config=Config(retries={"max_attempts": 5, "mode": "standard"}))

    def _key(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def put(self, key: str, data: bytes, content_type: str) -> None:
        self.client.put_object(Bucket=self.bucket, Key=self._key(key), Body=data, ContentType=content_type)

    def put_file(self, key: str, source: BinaryIO, content_type: str) -> None:
        """boto3's managed upload: multipart for large files, never the whole file in memory."""
        self.client.upload_fileobj(source, self.bucket, self._key(key), ExtraArgs={"ContentType": content_type})

    def _object(self, key: str) -> dict[str, Any]:
        try:
            answer: dict[str, Any] = self.client.get_object(Bucket=self.bucket, Key=self._key(key))
            return answer
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                raise StoredObjectMissing(key) from exc
            raise

    def get(self, key: str) -> bytes:
        body = self._object(key)["Body"]
        with body:
            data: bytes = body.read()
            return data

    def iter_chunks(self, key: str, chunk_size: int = 1 << 20) -> Iterator[bytes]:
        body = self._object(key)["Body"]
        with body:
            yield from body.iter_chunks(chunk_size)

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self._key(key))

    def exists(self, key: str) -> bool:
        try:
            self.client.head_object(Bucket=self.bucket, Key=self._key(key))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404", "NotFound"):
                return False
            raise
        return True
