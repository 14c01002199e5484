"""Issue 2's rows: submitting 9 × 12-megapixel JPEGs (p50 time, peak memory growth of the server), and the
pipeline's own cost per tier with a pass-through backend, as a ratio to the floor (Pillow decoding the
main input, resizing to the target and encoding the chosen format, measured in the same run)."""

from __future__ import annotations

import io
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from bench.server import PASSTHROUGH, PeakGrowth, serving

ROOT = Path(__file__).resolve().parent.parent
SUBMIT_ROUNDS = 7


def twelve_megapixel_jpeg(seed: int) -> bytes:
    """A camera-like 4000×3000 JPEG: a real photo scaled up with sensor-like noise (so it compresses like one)."""
    rng = np.random.default_rng(seed)
    base = Image.open(ROOT / "tests" / "fixtures" / "coffee.png").convert("RGB")
    base = base.resize((4000, 3000), Image.Resampling.BICUBIC)
    pixels = np.asarray(base, dtype=np.int16) + rng.normal(0, 6, (3000, 4000, 3)).astype(np.int16)
    buffer = io.BytesIO()
    Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def _row(name: str, value: float, unit: str, floor: float | None) -> dict[str, Any]:
    return {"name": name, "value": value, "unit": unit, "floor": floor,
            "ok": None if floor is None else value <= floor}


def bench_submit() -> list[dict[str, Any]]:
    import httpx

    images = [twelve_megapixel_jpeg(seed) for seed in range(9)]
    # Eight submissions stay queued (no workers): the per-person cap must let them in.
    with serving(EDIT_MAX_ACTIVE_PER_USER="100") as server:
        base_url, key = server.url, server.api_key
        files = [("image", (f"photo{n}.jpg", data, "image/jpeg")) for n, data in enumerate(images)]
        with httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {key}"}, timeout=120) as http:
            http.post("/api/v1/edits", data={"prompt": "Brighter"}, files=files).raise_for_status()  # warm-up
            times = []
            with PeakGrowth(server.pid) as growth:
                for _ in range(SUBMIT_ROUNDS):
                    started = time.perf_counter()
                    http.post("/api/v1/edits", data={"prompt": "Brighter"}, files=files).raise_for_status()
                    times.append(time.perf_counter() - started)
    upload_mb = sum(len(data) for data in images) / 1e6
    return [
        _row(f"submit 9 × 12 MP JPEG ({upload_mb:.0f} MB) p50", statistics.median(times), "s", 1.5),
        _row("submit 9 × 12 MP JPEG peak memory growth", growth.mb, "MB", 400),
    ]


def bench_pipeline_cost() -> list[dict[str, Any]]:
    """Runner with a pass-through backend vs the floor, on a 12 MP JPEG, PNG out (the default format)."""
    sys.path.insert(0, str(ROOT))
    from app.config import Settings
    from app.context import build_context
    from app.editor import service
    from app.editor.output import decode_input, encode, fit
    from app.editor.runner import Runner
    from app.migrations import upgrade

    source = twelve_megapixel_jpeg(42)
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        settings = Settings(_env_file=None, data_dir=Path(folder), edit_backend=PASSTHROUGH, edit_workers=0,
                            secret_key="bench")
        upgrade(settings.resolved_database_url)
        context = build_context(settings)
        from app.accounts.service import create_user

        with context.transaction() as db:
            user = create_user(db, email="bench@example.com", password="bench password", signup_credits=10_000)
        runner = Runner(context)
        for resolution in ("1K", "2K", "4K"):
            pipeline_times, floor_times = [], []
            for _ in range(5):
                upload = _Upload(source)
                edit, _ = service.submit(context, user.id, service.Submission(
                    prompt="Pass through", images=[upload], resolution=resolution, output_format="png"))
                started = time.perf_counter()
                runner.run(edit.id)
                pipeline_times.append(time.perf_counter() - started)
                started = time.perf_counter()
                image = decode_input(source, at_least=(edit.width, edit.height))
                encode(fit(image, edit.width, edit.height), "png")
                floor_times.append(time.perf_counter() - started)
            pipeline, floor = statistics.median(pipeline_times), statistics.median(floor_times)
            rows.append(_row(f"pipeline {resolution} PNG, pass-through ({pipeline:.2f} s vs floor {floor:.2f} s)",
                             pipeline / floor, "x floor", 1.3 if resolution == "4K" else None))
        context.queue.stop()
        context.engine.dispose()
    return rows


class _Upload:
    """What the multipart parser hands the service, for a file already in memory."""

    def __init__(self, data: bytes) -> None:
        import hashlib

        self._data = data
        self.sha256 = hashlib.sha256(data).hexdigest() + str(time.perf_counter_ns())  # each submit is new
        self.size = len(data)

    def read(self) -> bytes:
        return self._data




def run() -> list[dict[str, Any]]:
    return bench_submit() + bench_pipeline_cost()
