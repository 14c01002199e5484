"""Issue 8's memory rows: the peak resident memory a near-limit upload adds to a process that validates and
edits it with the offline engine. The upload is a 7000×7000 16-bit RGBA PNG (49 megapixels, about half a
megabyte), the worst the limits let in. Each scenario runs in its own process, so one cannot leave memory
behind for the next; the figure is the process's high-water mark minus its size once warmed up.

`python -m bench memory`, or one scenario: `python -m bench.memory <scenario> <png path>` (prints JSON).
"""

from __future__ import annotations

import hashlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BUDGET_MB = 1024  # EDIT_MEMORY_MB's default
# name: (what it does, resolution, quality, prompt, images per edit, edits at once, floor in MB)
SCENARIOS: dict[str, tuple[str, str, str, str, int, int, float | None]] = {
    "one-1k": ("one edit at 1K (low)", "1K", "low", "Make it brighter", 1, 1, 1024),
    "one-4k": ("one edit at 4K (high, background removed)", "4K", "high", "Remove the background", 1, 1, 1536),
    "two-1k": ("two edits at once at 1K, budget 1024 MB", "1K", "high", "Remove the background", 1, 2, BUDGET_MB),
    "two-4k": ("two edits at once at 4K, budget 1024 MB", "4K", "high", "Remove the background", 1, 2, BUDGET_MB),
    "nine-1k": ("nine images in one edit at 1K", "1K", "low", "Make it brighter", 9, 1, 1024),
}


def _row(name: str, value: float, unit: str, floor: float | None) -> dict[str, Any]:
    return {"name": name, "value": value, "unit": unit, "floor": floor,
            "ok": None if floor is None else value <= floor}


def run() -> list[dict[str, Any]]:
    sys.path.insert(0, str(ROOT))
    from tests.security.test_memory import rgba16_png

    rows = []
    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / "near-limit.png"
        source.write_bytes(rgba16_png())
        for scenario, (title, *_, floor) in SCENARIOS.items():
            done = subprocess.run([sys.executable, "-m", "bench.memory", scenario, str(source)], cwd=ROOT,
                                  env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True,
                                  check=True)
            figures = json.loads(done.stdout.strip().splitlines()[-1])
            if figures["statuses"] != ["succeeded"] * len(figures["statuses"]):
                raise RuntimeError(f"{scenario}: the edits ended {figures['statuses']}")
            label = f"memory: 49 MP 16-bit PNG, {title}"
            rows.append(_row(f"{label}, edit peak growth", figures["edit_mb"], "MB", floor))
            if scenario == "one-1k":
                rows.append(_row("memory: 49 MP 16-bit PNG, validating the upload, peak growth", figures["submit_mb"],
                                 "MB", None))
    return rows


def measure(scenario: str, source: Path) -> dict[str, Any]:
    """Submit and run one scenario's edits in this process; peak growth of the submit and of the edits."""
    from app.accounts.service import create_user
    from app.config import Settings
    from app.context import build_context
    from app.editor import service
    from app.editor.runner import Runner
    from app.migrations import upgrade
    from app.models import Edit

    _, resolution, quality, prompt, images, at_once, _ = SCENARIOS[scenario]
    data = source.read_bytes()
    with tempfile.TemporaryDirectory() as folder:
        settings = Settings(_env_file=None, data_dir=Path(folder), edit_backend="local", edit_workers=0,
                            model_dir=ROOT / "data" / "models", secret_key="bench", edit_memory_mb=BUDGET_MB)
        upgrade(settings.resolved_database_url)
        context = build_context(settings)
        with context.transaction() as db:
            user = create_user(db, email="bench@example.com", password="bench password", signup_credits=100_000)
        runner = Runner(context)
        _warm_up(context, runner, user.id)
        before_submit = _rss()
        edits = [service.submit(context, user.id, service.Submission(
            prompt=prompt, images=[_Upload(data) for _ in range(images)], resolution=resolution, quality=quality,
            output_format="png"))[0] for _ in range(at_once)]
        submit_peak = _peak()
        before_edits = _rss()
        threads = [threading.Thread(target=runner.run, args=(edit.id,)) for edit in edits]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        edit_peak = _peak()
        with context.transaction() as db:
            statuses = [db.get(Edit, edit.id).status for edit in edits]  # type: ignore[union-attr]
        context.queue.stop()
        context.engine.dispose()
    return {"submit_mb": (submit_peak - before_submit) / 2**20, "edit_mb": (edit_peak - before_edits) / 2**20,
            "statuses": statuses}


def _warm_up(context: Any, runner: Any, user_id: str) -> None:
    """One small edit first, so libraries, models and thread pools are loaded before anything is counted."""
    import io

    from PIL import Image

    from app.editor import service

    buffer = io.BytesIO()
    Image.new("RGBA", (64, 64), (200, 100, 50, 128)).save(buffer, "PNG")
    edit, _ = service.submit(context, user_id, service.Submission(prompt="Remove the background",
                                                                  images=[_Upload(buffer.getvalue())]))
    runner.run(edit.id)


def _rss() -> int:
    import psutil

    return int(psutil.Process().memory_info().rss)


def _peak() -> int:
    """The process's high-water mark of resident memory so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


class _Upload:
    """What the multipart parser hands the service, for a file already in memory."""

    def __init__(self, data: bytes) -> None:
        self._data = data
        self.sha256 = hashlib.sha256(data).hexdigest() + str(time.perf_counter_ns())  # each submit is new

    def read(self) -> bytes:
        return self._data


if __name__ == "__main__":
    print(json.dumps(measure(sys.argv[1], Path(sys.argv[2]))))
