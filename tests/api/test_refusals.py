"""Bad input gets a clear error naming the field and changes nothing: no file kept, no credit taken."""

from __future__ import annotations

import contextlib
import io
import socket
import struct
import zlib

import pytest
from PIL import Image

from tests.conftest import api_key_for, create_user, image_bytes, stored_files, verify_ledger


def png(size=(120, 80)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (10, 200, 90)).save(buffer, "PNG")
    return buffer.getvalue()


def bomb() -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    header = struct.pack(">IIBBBBB", 60_000, 60_000, 8, 2, 0, 0, 0)
    pixels = chunk(b"IDAT", zlib.compress(b"\0" * 64))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + pixels + chunk(b"IEND", b"")


TRUNCATED_JPEG = image_bytes("coffee.png", fmt="JPEG")[:20_000]

CASES = [
    # (name, images, fields, status, code, field)
    ("no image", [], {}, 422, "image_required", "image"),
    ("ten images", [png()] * 10, {}, 422, "too_many_images", "image"),
    ("a gif", [b"GIF89a" + b"\0" * 64], {}, 415, "unsupported_image_type", "image"),
    ("text named .png", [b"hello, I am not an image"], {}, 415, "unsupported_image_type", "image"),
    ("truncated jpeg", [TRUNCATED_JPEG], {}, 422, "invalid_image", "image"),
    ("bomb", [bomb()], {}, 422, "image_too_large", "image"),
    ("bad third image", [png(), png(), b"%PDF-1.4 nope"], {}, 415, "unsupported_image_type", "image"),
    ("empty prompt", [png()], {"prompt": "   "}, 422, "prompt_required", "prompt"),
    ("long prompt", [png()], {"prompt": "x" * 20_001}, 422, "prompt_too_long", "prompt"),
    ("quality", [png()], {"quality": "ultra"}, 422, "invalid_option", "quality"),
    ("resolution", [png()], {"resolution": "8K"}, 422, "invalid_option", "resolution"),
    ("aspect", [png()], {"aspect_ratio": "5:4"}, 422, "invalid_option", "aspect_ratio"),
    ("format", [png()], {"output_format": "gif"}, 422, "invalid_option", "output_format"),
    ("plan refusal", [png()], {"prompt": "refuse please"}, 422, "edit_refused", "prompt"),
    ("frame conflict", [png()], {"prompt": "a story", "aspect_ratio": "1:1"}, 422, "frame_conflict", "aspect_ratio"),
    ("unknown parent", [], {"parent_id": "0" * 32}, 404, "not_found", "parent_id"),
    ("too expensive", [png()], {"quality": "high", "resolution": "4K"}, 402, "insufficient_credits", "credits"),
]


@pytest.mark.parametrize("name, images, fields, status, code, field", CASES, ids=[c[0] for c in CASES])
def test_refusal_names_the_field_and_changes_nothing(client, context, settings, name, images, fields, status, code,
                                                      field):
    user = create_user(context, credits=10)
    headers = {"Authorization": f"Bearer {api_key_for(context, user.id)}"}
    data = {"prompt": "Brighter", **fields}
    # Always multipart, also without images: the text fields as parts without a filename.
    parts = [(name, (None, value)) for name, value in data.items()]
    parts += [("image", (f"image{i}.png", blob, "image/png")) for i, blob in enumerate(images)]
    response = client.post("/api/v1/edits", files=parts, headers=headers)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert (error["code"], error["field"]) == (code, field)
    assert error["message"]
    assert stored_files(settings) == []
    me = client.get("/api/v1/me", headers=headers).json()
    assert (me["balance"], me["reserved"]) == (10, 0)
    assert [item["kind"] for item in client.get("/api/v1/ledger", headers=headers).json()["items"]] == ["grant"]
    assert client.get("/api/v1/edits", headers=headers).json()["items"] == []
    verify_ledger(context)


def test_not_multipart_is_refused(client, context):
    user = create_user(context)
    headers = {"Authorization": f"Bearer {api_key_for(context, user.id)}"}
    response = client.post("/api/v1/edits", json={"prompt": "hi"}, headers=headers)
    assert response.status_code == 422 and response.json()["error"]["code"] == "invalid_content_type"


def test_without_credentials_or_with_a_bad_key(client):
    assert client.post("/api/v1/edits", files=[("image", ("a.png", png(), "image/png"))],
                       data={"prompt": "x"}).status_code == 401
    bad = client.get("/api/v1/me", headers={"Authorization": "Bearer sk-ie-nope"})
    assert bad.status_code == 401 and bad.json()["error"]["code"] == "invalid_api_key"


def _complete(answer: bytes) -> bool:
    """Whether a raw HTTP answer holds its headers and the whole body its Content-Length announces."""
    head, separator, body = answer.partition(b"\r\n\r\n")
    if not separator:
        return False
    for line in head.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return len(body) >= int(value.strip())
    return True


def test_oversized_upload_is_refused_while_streaming(live_server, context, settings):
    """A 300 MB upload is refused once the first file passes 50 MB: the server stops reading long before
    the end (it is never held whole), answers 413 naming the field, and keeps nothing."""
    user = create_user(context, credits=10)
    key = api_key_for(context, user.id)
    boundary = "streamingboundary"
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"prompt\"\r\n\r\nBrighter\r\n"
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"image\"; filename=\"huge.png\"\r\n"
            "Content-Type: image/png\r\n\r\n").encode() + png()
    total = 300 * 1024 * 1024
    request = (f"POST /api/v1/edits HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {key}\r\n"
               f"Content-Type: multipart/form-data; boundary={boundary}\r\nTransfer-Encoding: chunked\r\n\r\n").encode()
    sent = 0
    answer = b""
    with socket.create_connection(("127.0.0.1", live_server.port), timeout=30) as sock:
        sock.sendall(request)
        chunk = b"\0" * (1 << 20)
        try:
            sock.sendall(f"{len(head):x}\r\n".encode() + head + b"\r\n")
            while sent < total:
                sock.sendall(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                sent += len(chunk)
                sock.setblocking(False)
                with contextlib.suppress(BlockingIOError):
                    answer += sock.recv(65536)
                sock.setblocking(True)
                if answer:
                    break
        except (BrokenPipeError, ConnectionResetError):
            pass
        sock.settimeout(10)
        while not _complete(answer):
            part = sock.recv(65536)
            if not part:
                break
            answer += part
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert b'"field":"image"' in answer and b"larger than 50 MB" in answer
    assert sent < 120 * 1024 * 1024  # stopped near the limit, not at the end
    assert stored_files(settings) == []
    verify_ledger(context)
