"""Any image we accept can be edited on a small host: it is decoded at 8 bits per channel and no larger than
the edit needs, refused from its header when decoding it would cost too much, and the edits of one process
share a memory budget instead of multiplying their peaks. Pillow's own bomb guard stays on behind ours.

Nothing here measures time or memory: the near-limit edit runs in a worker whose address space is capped
as a small host's would be, and either finishes with the promised picture or does not."""

from __future__ import annotations

import io
import os
import struct
import subprocess
import sys
import threading
import time
import zlib
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from app.editor import memory
from app.editor.validation import clean_image
from app.errors import ValidationFailed
from app.main import create_app
from tests.conftest import api_key_for, create_user, wait_for_edit

ROOT = Path(__file__).resolve().parents[2]
LIMIT = 50_000_000
NEAR_LIMIT = (7000, 7000)  # 49 MP
# What the worker may add to its heap once it is up: a host with about 1 GB to spare for one edit.
SMALL_HOST_HEADROOM = 1024 * 2**20
DISC = (60000, 50000, 10000, 65535)
BACKDROP_ALPHA = 20000


def png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def rgba16_png(width: int = NEAR_LIMIT[0], height: int = NEAR_LIMIT[1]) -> bytes:
    """A 16-bit RGBA PNG: a blue-to-red gradient at 30 % opacity with an opaque amber disc in the middle.
    Rows repeat (PNG's "Up" filter makes them zeros), so 49 megapixels compress to about half a megabyte:
    what a decompression-bomb-minded upload looks like while staying inside the limits. Written row by row,
    so making it costs no more than a row of memory."""
    xs = np.arange(width)
    cx, cy, radius = width / 2, height / 2, min(width, height) * 0.3
    compressor = zlib.compressobj(9)
    parts = []
    previous = np.zeros(width * 8, np.uint8)
    row = np.empty((width, 4), np.uint16)
    for y in range(height):
        row[:, 0] = xs * 65535 // max(1, width - 1)
        row[:, 1] = 30000
        row[:, 2] = 65535 - row[:, 0]
        row[:, 3] = BACKDROP_ALPHA
        row[(xs - cx) ** 2 + (y - cy) ** 2 < radius * radius] = DISC
        raw = row.astype(">u2").view(np.uint8).reshape(-1)
        parts.append(compressor.compress(b"\x02" + (raw - previous).tobytes()))
        previous = raw
    parts.append(compressor.flush())
    header = struct.pack(">IIBBBBB", width, height, 16, 6, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header) + png_chunk(b"IDAT", b"".join(parts))
            + png_chunk(b"IEND", b""))


def declared_png(width: int, height: int, bit_depth: int = 8, colour_type: int = 2) -> bytes:
    """A tiny PNG whose header declares any size (its pixels are missing)."""
    header = struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header) + png_chunk(b"IDAT", zlib.compress(b"\0" * 100))
            + png_chunk(b"IEND", b""))


def declared_webp(width: int, height: int) -> bytes:
    """A WebP whose extended header declares a canvas of width × height around a 1-pixel picture."""
    buffer = io.BytesIO()
    Image.new("RGBA", (1, 1), (255, 0, 0, 128)).save(buffer, "WEBP", lossless=True)
    frame = buffer.getvalue()[12:]
    vp8x = b"VP8X" + struct.pack("<I", 10) + bytes((0x10, 0, 0, 0)) + (width - 1).to_bytes(3, "little") \
        + (height - 1).to_bytes(3, "little")
    body = b"WEBP" + vp8x + frame
    return b"RIFF" + struct.pack("<I", len(body)) + body


# --- a near-limit image, edited for real on a small host ------------------------------------------------


@pytest.mark.parametrize("settings_overrides", [{"edit_backend": "local", "edit_workers": 0}], indirect=True)
def test_a_49_megapixel_16_bit_png_is_edited_at_1k_on_a_small_host(settings, context) -> None:
    user = create_user(context, credits=50)
    headers = {"Authorization": f"Bearer {api_key_for(context, user.id)}"}
    with TestClient(create_app(context=context, run_workers=False)) as client:
        response = client.post("/api/v1/edits", headers=headers,
                               files=[("image", ("cutout.png", rgba16_png(), "image/png"))],
                               data={"prompt": "Make it brighter", "quality": "low", "resolution": "1K"})
        assert response.status_code == 202, response.text
        edit_id = response.json()["id"]
        run_in_small_worker(settings, edit_id)
        edit = wait_for_edit(client, edit_id, headers=headers, timeout=10)
        assert edit["status"] == "succeeded", edit
        result = client.get(f"/api/v1/edits/{edit_id}/result", headers=headers)
    image = Image.open(io.BytesIO(result.content))
    assert (image.format, image.size, (edit["width"], edit["height"])) == ("PNG", (1024, 1024), (1024, 1024))
    pixels = np.asarray(image.convert("RGBA"))
    centre, corner = pixels[512, 512], pixels[4, 4]
    assert centre[3] == 255 and centre[0] > centre[1] > centre[2]  # the amber disc, opaque
    assert 60 <= corner[3] <= 100  # the backdrop keeps its 30 % opacity


def run_in_small_worker(settings, edit_id: str) -> None:
    """Run one edit in a separate worker process whose heap may grow by SMALL_HOST_HEADROOM at most once
    it has started (as on a host with that much free memory); the outcome is in the database."""
    script = (
        "import resource, sys, psutil\n"
        "from app.config import Settings\n"
        "from app.context import build_context\n"
        "from app.editor.runner import Runner\n"
        "context = build_context(Settings())\n"
        "runner = Runner(context)\n"
        "data = psutil.Process().memory_info().data\n"
        "resource.setrlimit(resource.RLIMIT_DATA, (data + int(sys.argv[2]), resource.RLIM_INFINITY))\n"
        "runner.run(sys.argv[1])\n"
    )
    env = {
        **os.environ,
        "DATA_DIR": str(settings.data_dir), "DATABASE_URL": settings.resolved_database_url,
        "STORAGE_URL": settings.resolved_storage_url, "EDIT_BACKEND": settings.edit_backend,
        "MODEL_DIR": str(settings.resolved_model_dir), "SECRET_KEY": "test", "EDIT_WORKERS": "0",
        "QUEUE_URL": "memory://", "MAX_ATTEMPTS": "1", "PYTHONPATH": str(ROOT),
        # Thread pools sized alike on every machine: each thread's stack counts against the heap limit.
        "OPENCV_FOR_THREADS_NUM": "2", "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
    }
    done = subprocess.run([sys.executable, "-c", script, edit_id, str(SMALL_HOST_HEADROOM)], env=env,
                          cwd=settings.data_dir, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-2000:]


# --- limits read from the header, Pillow's guard behind them --------------------------------------------


@pytest.mark.nodb
def test_decoded_size_is_refused_from_the_header_naming_the_field() -> None:
    # 2000 × 2000 RGBA is well inside 50 megapixels but decodes to 15 MB; the limit here is 8 MB.
    buffer = io.BytesIO()
    Image.new("RGBA", (2000, 2000), (10, 20, 30, 40)).save(buffer, "PNG")
    with pytest.raises(ValidationFailed) as caught:
        clean_image(buffer.getvalue(), field="image", label="Image 2", max_pixels=LIMIT, max_decoded_bytes=8 * 2**20)
    assert (caught.value.field, caught.value.code, caught.value.status) == ("image", "image_too_large", 422)
    assert "Image 2" in caught.value.message and "15 MB" in caught.value.message and "8 MB" in caught.value.message
    # The same file under the default limit (50 megapixels of 8-bit RGBA) is fine.
    assert clean_image(buffer.getvalue(), field="image", label="Image 2", max_pixels=LIMIT).width == 2000


@pytest.mark.nodb
def test_pixel_limit_answers_before_any_decoder() -> None:
    declared = [
        (declared_png(20_000, 20_000), "400.0"),  # past twice Pillow's guard: Pillow alone would call it damaged
        (declared_png(8000, 8000, bit_depth=16, colour_type=6), "64.0"),  # between the guard and twice it
        (declared_webp(16_000, 16_000), "256.0"),  # WebP's decoder would allocate the canvas on opening
    ]
    for data, megapixels in declared:
        with pytest.raises(ValidationFailed) as caught:
            clean_image(data, field="image", label="Image 1", max_pixels=LIMIT)
        assert (caught.value.field, caught.value.code) == ("image", "image_too_large"), megapixels
        assert f"{megapixels} megapixels" in caught.value.message and "limit is 50 megapixels" in caught.value.message


@pytest.mark.nodb
def test_pillows_bomb_guard_stays_on() -> None:
    import app.main  # noqa: F401  (everything a server imports)

    assert Image.MAX_IMAGE_PIXELS is not None and LIMIT <= Image.MAX_IMAGE_PIXELS < 4 * LIMIT
    with pytest.raises(Image.DecompressionBombError):
        Image.open(io.BytesIO(declared_png(2 * Image.MAX_IMAGE_PIXELS // 10_000 + 1, 10_000)))


# --- decoded at 8 bits per channel --------------------------------------------------------------------------


@pytest.mark.parametrize("settings_overrides", [{"edit_workers": 1}], indirect=True)
def test_a_16_bit_grey_png_keeps_its_tones(client, context) -> None:
    user = create_user(context, credits=50)
    headers = {"Authorization": f"Bearer {api_key_for(context, user.id)}"}
    ramp = np.repeat(np.linspace(0, 65535, 384).astype(np.uint16)[None, :], 128, axis=0)
    buffer = io.BytesIO()
    Image.fromarray(ramp).save(buffer, "PNG")
    assert Image.open(io.BytesIO(buffer.getvalue())).mode == "I;16"
    response = client.post("/api/v1/edits", headers=headers,
                           files=[("image", ("scan.png", buffer.getvalue(), "image/png"))],
                           data={"prompt": "Pass through", "resolution": "1K"})
    assert response.status_code == 202, response.text
    edit = wait_for_edit(client, response.json()["id"], headers=headers)
    assert edit["status"] == "succeeded", edit
    result = np.asarray(Image.open(io.BytesIO(client.get(edit["result_url"], headers=headers).content)).convert("L"))
    row = result[result.shape[0] // 2].astype(int)
    assert row[:40].mean() < 40 and 100 < row[row.size // 2] < 160 and row[-40:].mean() > 215  # a ramp, not white


# --- the memory budget ------------------------------------------------------------------------------------


class Holder:
    """A thread that reserves from a budget, says when it is in, and leaves when told."""

    def __init__(self, budget: memory.MemoryBudget, nbytes: int, log: list[str], name: str) -> None:
        self.entered, self.release = threading.Event(), threading.Event()
        self.taken = 0

        def hold() -> None:
            with budget.reserve(nbytes) as taken:
                self.taken = taken
                log.append(f"{name} in")
                self.entered.set()
                self.release.wait(30)
                log.append(f"{name} out")

        self.thread = threading.Thread(target=hold, daemon=True)
        self.thread.start()

    def finish(self) -> None:
        self.release.set()
        self.thread.join(30)
        assert not self.thread.is_alive()


def wait_until_waiting(budget: memory.MemoryBudget, count: int) -> None:
    """Until `count` reservations are queued (then they can only go in when the budget lets them)."""
    deadline = time.monotonic() + 30
    while budget.waiting < count:
        assert time.monotonic() < deadline, "the reservations never queued"
        time.sleep(0.001)


@pytest.mark.nodb
def test_reservations_that_together_exceed_the_budget_do_not_run_at_once() -> None:
    budget, log = memory.MemoryBudget(1000), []
    first = Holder(budget, 600, log, "first")
    assert first.entered.wait(10)
    second = Holder(budget, 600, log, "second")
    wait_until_waiting(budget, 1)
    assert not second.entered.is_set() and budget.free == 400
    first.finish()
    assert second.entered.wait(10)
    second.finish()
    assert log == ["first in", "first out", "second in", "second out"]
    assert budget.free == 1000


@pytest.mark.nodb
def test_reservations_that_fit_together_run_at_once() -> None:
    budget, log = memory.MemoryBudget(1000), []
    first = Holder(budget, 400, log, "first")
    assert first.entered.wait(10)
    second = Holder(budget, 600, log, "second")
    assert second.entered.wait(10)  # while the first still holds its share
    assert budget.free == 0
    first.finish()
    second.finish()


@pytest.mark.nodb
def test_an_edit_larger_than_the_budget_runs_alone_and_the_queue_stays_in_order() -> None:
    budget, log = memory.MemoryBudget(1000), []
    small = Holder(budget, 300, log, "small")
    assert small.entered.wait(10)
    huge = Holder(budget, 5000, log, "huge")
    wait_until_waiting(budget, 1)
    later = Holder(budget, 100, log, "later")  # would fit now, but must not overtake the huge one
    wait_until_waiting(budget, 2)
    small.finish()
    assert huge.entered.wait(10) and huge.taken == 1000 and budget.free == 0
    assert not later.entered.is_set()
    huge.finish()
    assert later.entered.wait(10)
    later.finish()
    assert log == ["small in", "small out", "huge in", "huge out", "later in", "later out"]


@pytest.mark.parametrize("settings_overrides", [{"edit_workers": 2, "edit_memory_mb": 1}], indirect=True)
def test_workers_of_one_process_wait_for_the_budget(client, context, backend) -> None:
    """With a budget smaller than any edit, two workers run two edits one after the other."""
    user = create_user(context, credits=50)
    headers = {"Authorization": f"Bearer {api_key_for(context, user.id)}"}
    buffer = io.BytesIO()
    Image.new("RGB", (160, 90), "teal").save(buffer, "PNG")
    backend.gate.clear()
    ids = [client.post("/api/v1/edits", headers=headers, data={"prompt": f"Brighter {n}"},
                       files=[("image", ("a.png", buffer.getvalue(), "image/png"))]).json()["id"] for n in range(2)]
    assert backend.started.wait(10)
    wait_until_waiting(memory.process_budget(1), 1)  # the second worker holds its edit, waiting for memory
    assert backend.calls == 1
    backend.gate.set()
    assert [wait_for_edit(client, edit_id, headers=headers)["status"] for edit_id in ids] == ["succeeded"] * 2
    assert backend.calls == 2


@pytest.mark.nodb
def test_the_estimate_follows_the_output_not_the_upload() -> None:
    near_limit = memory.StoredInput("png", NEAR_LIMIT, 500_000)
    at_1k = memory.edit_bytes([near_limit], (1024, 1024))
    at_4k = memory.edit_bytes([near_limit], (3840, 3840))
    small_jpeg = memory.edit_bytes([memory.StoredInput("jpeg", (8000, 6000), 20_000_000)], (1024, 768))
    assert at_1k < at_4k < 2 * at_1k + 2**30
    assert small_jpeg < at_1k  # a JPEG is decoded at a DCT scale near the output's
    nine = memory.edit_bytes([near_limit] * 9, (1024, 1024))
    assert nine < at_1k + 9 * 8 * 2**20  # nine inputs cost their working sizes, not nine full decodes
