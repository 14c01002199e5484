"""Benchmarks of the offline edit engine (`make bench`).

Each case runs in a fresh Python process, so its peak memory is its own: the process's maximum resident
size (ru_maxrss, which includes the interpreter, the libraries and the decoded input) is reported as is,
the honest upper bound of what one edit needs. Times are the median of several runs after one warm-up
(the warm-up loads the TFLite models and fills caches, as the first edit of a server does).

Inputs are realistic uploads: the product shot enlarged to a 12-megapixel (4000×3000) photo for every
tier, and a portrait enlarged to 4000×4000 for the 4K portrait blur. Decoding the upload is the runner's
work and is not timed; everything `LocalBackend.edit` does is.

Run alone: `python -m bench.engine` (prints the rows as JSON lines).
"""

from __future__ import annotations

import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PHOTOS = ROOT / "tests" / "fixtures"
RUNS = 5

# name -> (photo, input size, instruction, output size, floor in seconds or None)
CASES: dict[str, tuple[str, tuple[int, int], str, tuple[int, int], float | None]] = {
    "product swap to white with shadow, 1K": (
        "product_bottle.jpg",
        (4000, 3000),
        "white background with a soft shadow",
        (1024, 768),
        0.8,
    ),
    "product swap to white with shadow, 2K": (
        "product_bottle.jpg",
        (4000, 3000),
        "white background with a soft shadow",
        (2048, 1536),
        None,
    ),
    "product swap to white with shadow, 4K": (
        "product_bottle.jpg",
        (4000, 3000),
        "white background with a soft shadow",
        (3840, 2880),
        3.5,
    ),
    "portrait blur, 4K": ("astronaut.png", (4000, 4000), "blur the background", (3840, 3840), None),
}
MEMORY_FLOOR_MB = {"product swap to white with shadow, 4K": 1536.0}


def _child(name: str) -> dict[str, float]:
    """Run one case in this process and return its timings and peak memory."""
    from PIL import Image

    from app.backends.base import EditRequest
    from app.backends.local.engine import LocalBackend
    from app.backends.local.models import ensure_models
    from app.config import Settings

    settings = Settings()
    ensure_models(settings.resolved_model_dir)
    backend = LocalBackend(settings)
    photo, input_size, prompt, (width, height), _ = CASES[name]
    source = Image.open(PHOTOS / photo).convert("RGB").resize(input_size, Image.Resampling.BICUBIC)
    request = EditRequest(
        images=[source], prompt=prompt, quality="medium", width=width, height=height, output_format="png"
    )
    result = backend.edit(request)  # warm-up
    assert result.image.size == (width, height)
    times = []
    for _ in range(RUNS):
        start = time.perf_counter()
        backend.edit(request)
        times.append(time.perf_counter() - start)
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"median_s": statistics.median(times), "peak_mb": peak_kb / 1024}


def run() -> list[dict]:
    """One row per measurement: name, value, unit, floor (None when none is set) and ok (None likewise)."""
    rows: list[dict] = []
    for name, (_, _, _, _, floor) in CASES.items():
        completed = subprocess.run(
            [sys.executable, "-m", "bench.engine", "--child", name],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
        if completed.returncode != 0:
            detail = (completed.stderr.strip().splitlines() or ["failed"])[-1]
            rows.append(
                {"name": f"{name}: failed ({detail})", "value": float("nan"), "unit": "s", "floor": floor, "ok": False}
            )
            continue
        measured = json.loads(completed.stdout.strip().splitlines()[-1])
        seconds = measured["median_s"]
        rows.append(
            {
                "name": f"{name}: median time",
                "value": round(seconds, 3),
                "unit": "s",
                "floor": floor,
                "ok": None if floor is None else seconds <= floor,
            }
        )
        memory_floor = MEMORY_FLOOR_MB.get(name)
        rows.append(
            {
                "name": f"{name}: peak memory",
                "value": round(measured["peak_mb"], 1),
                "unit": "MB",
                "floor": memory_floor,
                "ok": None if memory_floor is None else measured["peak_mb"] <= memory_floor,
            }
        )
    return rows


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--child":
        print(json.dumps(_child(sys.argv[2])))
    else:
        for row in run():
            print(json.dumps(row))
