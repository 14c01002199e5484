"""What finding faces and planning a frame cost (`python -m bench faces`).

Faces are looked for in tiles (app/backends/local/person.py), so that a small face is as findable in a wide
strip as in a square photo: the cost grows with the picture's length in short sides, up to MAX_TILES runs
of the detector. Rows: the median time of `PersonFinder.faces` for pictures of several shapes and sizes
(with the detector runs it took), and of the plan made at submit for a crop that must frame a subject
(the picture is judged there, so the plan can say what the crop will cut).
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures"
MODELS = ROOT / "data" / "models"
REPEATS = 5
# Floors, for a 2-CPU machine that may be busy (at a load of 8, the times are 3-5 times those when idle:
# 10-40 ms for faces, 150-350 ms for a plan). The detector runs are bounded by MAX_TILES whatever the load.
FACES_FLOOR_MS = 1000.0
PLAN_FLOOR_MS = 2000.0
SHAPES = {
    "1:1 512": (512, 512),
    "3:2 24 MP": (6000, 4000),
    "16:9 4K": (3840, 2160),
    "2.7:1 strip": (1400, 512),
    "4:1 strip": (4096, 1024),
    "12:1 strip": (6144, 512),
}


def _median_ms(action: Callable[[], object]) -> float:
    action()  # warm: the interpreter is made on first use
    times = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        action()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def _row(name: str, value: float, unit: str, floor: float | None) -> dict[str, Any]:
    return {"name": name, "value": value, "unit": unit, "floor": floor, "ok": None if floor is None else value <= floor}


def _picture(size: tuple[int, int]) -> np.ndarray:
    """The astronaut photo carried out to `size` (its edges repeated), with her at the height of its short
    side: a real face and real texture at every shape."""
    astronaut = np.asarray(Image.open(FIXTURES / "astronaut.png").convert("RGB"))
    width, height = size
    short = min(width, height)
    person = cv2.resize(astronaut, (short, short), interpolation=cv2.INTER_AREA)
    left, top = (width - short) // 2, (height - short) // 2
    return cv2.copyMakeBorder(person, top, height - short - top, left, width - short - left, cv2.BORDER_REPLICATE)


def run() -> list[dict[str, Any]]:
    from app.backends.base import PlanRequest
    from app.backends.local.engine import LocalBackend
    from app.backends.local.models import ensure_models
    from app.backends.local.person import PersonFinder, _tiles
    from app.config import Settings

    ensure_models(MODELS)
    finder = PersonFinder(MODELS)
    rows = []
    for label, size in SHAPES.items():
        image = _picture(size)
        found = len(finder.faces(image))
        ms = _median_ms(lambda image=image: finder.faces(image))
        runs = len(_tiles(*size))
        rows.append(_row(f"faces: {label} ({runs} detector runs, {found} found)", ms, "ms", FACES_FLOOR_MS))
    backend = LocalBackend(Settings(_env_file=None, model_dir=MODELS))
    for name, prompt in (("grace_hopper.jpg", "Crop to 21:9"), ("product_bottle.jpg", "Crop to 21:9"),
                         ("coffee.png", "Make it a YouTube thumbnail")):
        photo = Image.open(FIXTURES / name).convert("RGB")
        request = PlanRequest(prompt, main_size=photo.size, load_main_image=lambda photo=photo: photo,
                              quality="medium")
        ms = _median_ms(lambda request=request: backend.plan(request))
        rows.append(_row(f"plan at submit: {name} '{prompt}' (medium)", ms, "ms", PLAN_FLOOR_MS))
    return rows


if __name__ == "__main__":
    from bench.__main__ import print_table

    table = run()
    print_table(table)
    sys.exit(1 if any(row["ok"] is False for row in table) else 0)
