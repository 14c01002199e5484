"""One contract, every storage: a local folder and S3 (moto's server)."""

from __future__ import annotations

import os

import pytest

from app.storage import StoredObjectMissing, create_storage

pytestmark = pytest.mark.nodb


@pytest.fixture(params=["file", "s3"])
def storage(request, tmp_path):
    if request.param == "file":
        return create_storage(f"file://{tmp_path}/files")
    endpoint = request.getfixturevalue("s3_endpoint")
    bucket = request.getfixturevalue("s3_bucket")
    return create_storage(f"s3://{bucket}/prefix/here", s3_endpoint_url=endpoint)


def test_put_get_replace(storage):
    storage.put("u/1/e/2/input-0.png", b"first", "image/png")
    assert storage.get("u/1/e/2/input-0.png") == b"first"
    storage.put("u/1/e/2/input-0.png", b"second version", "image/png")
    assert storage.get("u/1/e/2/input-0.png") == b"second version"
    assert storage.exists("u/1/e/2/input-0.png")


def test_a_file_is_stored_as_a_stream_from_where_it_stands(storage, tmp_path):
    data = os.urandom(3 * (1 << 20) + 17)  # several chunks, and a multipart upload's worth on S3
    with open(tmp_path / "big.bin", "w+b") as source:
        source.write(b"header" + data)
        source.seek(len(b"header"))
        storage.put_file("u/1/exports/big.zip", source, "application/zip")
    assert storage.get("u/1/exports/big.zip") == data


def test_streaming_in_chunks(storage):
    data = bytes(range(256)) * 20_000  # 5 MB
    storage.put("big.bin", data, "application/octet-stream")
    chunks = list(storage.iter_chunks("big.bin", chunk_size=1 << 20))
    assert len(chunks) >= 5 and b"".join(chunks) == data


def test_missing_and_delete(storage):
    with pytest.raises(StoredObjectMissing):
        storage.get("nope.png")
    with pytest.raises(StoredObjectMissing):
        list(storage.iter_chunks("nope.png"))
    assert not storage.exists("nope.png")
    storage.put("a/b/c.png", b"x", "image/png")
    storage.delete("a/b/c.png")
    storage.delete("a/b/c.png")  # deleting twice is fine
    assert not storage.exists("a/b/c.png")


def test_file_storage_refuses_keys_outside_its_folder(tmp_path):
    storage = create_storage(f"file://{tmp_path}/files")
    with pytest.raises(ValueError):
        storage.put("../escape.png", b"x", "image/png")
    storage.put("u/1/x.png", b"x", "image/png")
    storage.delete("u/1/x.png")
    assert list((tmp_path / "files").iterdir()) == []  # empty folders are tidied away
