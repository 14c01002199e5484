"""Hard cases for the subject check (`python -m bench hardcases`): does a background edit ever destroy
the subject?

Each case is a photo, its true subject mask (when there is one to keep) and the outcome it must get:
"accept" (the cut-out then keeps the subject: IoU of the result's alpha with the true mask at least
`MIN_IOU`) or "refuse" (no cut-out can be trusted: white on white, glass, a busy backdrop, low contrast,
a subject cut by the frame on several sides, a speck). The engine is right when it does what the case
expects; "wrong" counts an accepted edit that lost the subject or should have been refused, and an
ordinary photo refused. It must be 0.

The set is test data (tests/fixtures/hardcases/, checked by tests/backends/local/test_subject_check.py).
It is made reproducibly by this module: `python -m bench.hardcases --write` renders the synthetic cases
(seeded) and composites the bottle fixture onto other backdrops with its true mask.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures"
CASES_DIR = FIXTURES / "hardcases"
PROMPT = "Remove the background"
MIN_IOU = 0.9
SIZE = (800, 600)
SUPERSAMPLE = 4


@dataclass
class Case:
    name: str
    what: str
    expected: str
    """"accept" or "refuse"."""
    photo: str
    """File name in tests/fixtures/ (fixture photos) or tests/fixtures/hardcases/."""
    truth: str | None = None
    """The true mask's file name, white = subject (None: no IoU to check, e.g. a portrait)."""


# -- rendering -------------------------------------------------------------------------------------------


def _grid(size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Pixel-centre coordinates, supersampled, in output pixels."""
    width, height = size
    ys, xs = np.mgrid[0 : height * SUPERSAMPLE, 0 : width * SUPERSAMPLE].astype(np.float32)
    return (xs + 0.5) / SUPERSAMPLE, (ys + 0.5) / SUPERSAMPLE


def _down(array: np.ndarray) -> np.ndarray:
    """Average the supersampled array back to output pixels (anti-aliasing)."""
    height, width = array.shape[0] // SUPERSAMPLE, array.shape[1] // SUPERSAMPLE
    return cv2.resize(array, (width, height), interpolation=cv2.INTER_AREA)


def _backdrop(
    xs: np.ndarray, ys: np.ndarray, colour: tuple[float, float, float], shadow_at: tuple[float, float, float] | None
) -> np.ndarray:
    """A studio sweep: a plain colour, a gentle vignette and an optional soft floor shadow (cx, cy, rx)."""
    width, height = xs.max(), ys.max()
    light = 1.0 - 0.06 * (((xs / width - 0.5) ** 2 + (ys / height - 0.35) ** 2) * 2.5)
    canvas = np.stack([np.full(xs.shape, c, np.float32) for c in colour], -1) * light[..., None]
    if shadow_at is not None:
        cx, cy, rx = shadow_at
        shade = np.exp(-(((xs - cx) / rx) ** 2 + ((ys - cy) / (0.03 * height)) ** 2))
        canvas *= (1.0 - 0.25 * shade)[..., None]
    return canvas


def _finish(canvas: np.ndarray, seed: int) -> np.ndarray:
    """Back to output pixels, with sensor noise."""
    small = _down(canvas)
    noise = np.random.default_rng(seed).normal(0, 1.5, small.shape)
    return np.clip(small + noise, 0, 255).astype(np.uint8)


def _mug(xs: np.ndarray, ys: np.ndarray, body: tuple[float, float, float], *, glass: bool = False) -> tuple:
    """A mug (or a drinking glass) standing on the floor: its coverage and colour, supersampled."""
    cx, top, bottom, rx, ry = 400.0, 190.0, 450.0, 95.0, 18.0
    u = np.clip((xs - cx) / rx, -1.0, 1.0)
    side = (np.abs(xs - cx) <= rx) & (ys >= top) & (ys <= bottom)
    base = ((xs - cx) / rx) ** 2 + ((ys - bottom) / ry) ** 2 <= 1
    rim = ((xs - cx) / rx) ** 2 + ((ys - top) / ry) ** 2 <= 1
    inner = ((xs - cx) / (rx - 6)) ** 2 + ((ys - top) / (ry - 3)) ** 2 <= 1
    handle = np.zeros(xs.shape, bool)
    if not glass:
        ring = ((xs - (cx + rx)) / 55) ** 2 + ((ys - 310) / 70) ** 2
        hole = ((xs - (cx + rx)) / 33) ** 2 + ((ys - 310) / 48) ** 2
        handle = (ring <= 1) & (hole > 1) & (xs > cx + rx - 4)
    cover = side | base | rim | handle
    # Soft studio light from the front-left: a cylinder is brightest left of centre, a little darker at
    # its sides (the only part of a white mug that differs from a white backdrop).
    normal_x, normal_z = u, np.sqrt(np.clip(1 - u * u, 0, 1))
    shade = 0.74 + 0.26 * np.clip(-0.35 * normal_x + 0.94 * normal_z, 0, 1)
    colour = np.stack([np.full(xs.shape, c, np.float32) for c in body], -1) * shade[..., None]
    colour[inner] *= 0.9
    colour[handle] = np.array(body, np.float32) * 0.9
    if not glass:
        # Where the glaze curves away it mirrors the dark room: a thin grey line down each side.
        colour[(np.abs(u) > 0.93) & side] = np.array(body, np.float32) * 0.4
    return cover, colour


def _render_mug(backdrop: tuple[float, float, float], body: tuple[float, float, float], seed: int) -> tuple:
    xs, ys = _grid(SIZE)
    canvas = _backdrop(xs, ys, backdrop, (400, 452, 130))
    cover, colour = _mug(xs, ys, body)
    canvas[cover] = colour[cover]
    return _finish(canvas, seed), _down(cover.astype(np.float32))


def _render_glass(seed: int) -> tuple:
    """A clear drinking glass: the backdrop seen through it, faint dark outlines and a highlight."""
    xs, ys = _grid(SIZE)
    backdrop = (226.0, 228.0, 232.0)
    canvas = _backdrop(xs, ys, backdrop, (400, 452, 130))
    cover, _ = _mug(xs, ys, backdrop, glass=True)
    seen = canvas * np.array([0.97, 0.985, 1.0], np.float32)
    edge = np.abs(np.abs(xs - 400) - 92) < 3
    seen[edge & cover] *= 0.8
    highlight = np.abs(xs - 360) < 5
    seen[highlight & cover] = np.minimum(seen[highlight & cover] * 1.1, 255)
    canvas[cover] = seen[cover]
    return _finish(canvas, seed), _down(cover.astype(np.float32))


def _render_stick(thickness: float, seed: int) -> tuple:
    """A dark pen (or a wire) lying diagonally on a light backdrop."""
    xs, ys = _grid(SIZE)
    canvas = _backdrop(xs, ys, (224.0, 225.0, 228.0), None)
    start, end = np.array([180.0, 430.0]), np.array([620.0, 170.0])
    direction = (end - start) / np.linalg.norm(end - start)
    along = (xs - start[0]) * direction[0] + (ys - start[1]) * direction[1]
    across = np.abs(-(xs - start[0]) * direction[1] + (ys - start[1]) * direction[0])
    cover = (across <= thickness / 2) & (along >= 0) & (along <= np.linalg.norm(end - start))
    colour = np.array([40.0, 48.0, 92.0], np.float32) * (1.0 + 0.4 * (1 - across / (thickness / 2)))[..., None]
    canvas[cover] = colour[cover]
    return _finish(canvas, seed), _down(cover.astype(np.float32))


def _render_box(
    backdrop: tuple[float, float, float], product: tuple[float, float, float], box: tuple[float, ...], seed: int
) -> tuple:
    """A rounded box (a parcel, a phone) in `box` (fractions of the frame; may run past it)."""
    xs, ys = _grid(SIZE)
    width, height = SIZE
    x0, y0, x1, y1 = box[0] * width, box[1] * height, box[2] * width, box[3] * height
    canvas = _backdrop(xs, ys, backdrop, ((x0 + x1) / 2, y1, (x1 - x0) * 0.6))
    radius = 0.08 * (x1 - x0)
    dx = np.maximum(np.maximum(x0 + radius - xs, xs - (x1 - radius)), 0)
    dy = np.maximum(np.maximum(y0 + radius - ys, ys - (y1 - radius)), 0)
    cover = np.hypot(dx, dy) <= radius
    shading = np.clip(0.9 + 0.2 * (xs - x0) / max(1.0, x1 - x0), 0.8, 1.1)
    colour = np.stack([np.full(xs.shape, c, np.float32) for c in product], -1) * shading[..., None]
    canvas[cover] = colour[cover]
    return _finish(canvas, seed), _down(cover.astype(np.float32))


def _bottle() -> tuple[np.ndarray, np.ndarray]:
    """The bottle fixture and its true mask, at SIZE."""
    photo = cv2.cvtColor(cv2.imread(str(FIXTURES / "product_bottle.jpg")), cv2.COLOR_BGR2RGB)
    truth = cv2.imread(str(FIXTURES / "product_bottle_gt.png"), cv2.IMREAD_GRAYSCALE).astype(np.float32) / 255
    return cv2.resize(photo, SIZE, interpolation=cv2.INTER_AREA), cv2.resize(truth, SIZE, interpolation=cv2.INTER_AREA)


def _composite(backdrop: np.ndarray, scale: float, centre: tuple[float, float], seed: int) -> tuple:
    """The bottle cut out with its true mask, scaled and placed on another backdrop (uint8 H×W×3)."""
    photo, truth = _bottle()
    width, height = SIZE
    matrix = np.array(
        [[scale, 0, centre[0] * width - scale * width / 2], [0, scale, centre[1] * height - scale * height / 2]]
    )
    moved = cv2.warpAffine(photo.astype(np.float32), matrix, SIZE, flags=cv2.INTER_AREA)
    alpha = cv2.warpAffine(truth, matrix, SIZE, flags=cv2.INTER_AREA)[..., None]
    mixed = moved * alpha + backdrop.astype(np.float32) * (1 - alpha)
    noise = np.random.default_rng(seed).normal(0, 1.0, mixed.shape)
    return np.clip(mixed + noise, 0, 255).astype(np.uint8), alpha[..., 0]


def _texture(seed: int) -> np.ndarray:
    """A busy backdrop: a wooden table (coffee.png) stretched over the frame."""
    table = cv2.cvtColor(cv2.imread(str(FIXTURES / "coffee.png")), cv2.COLOR_BGR2RGB)
    return cv2.resize(table[:120, :], SIZE, interpolation=cv2.INTER_CUBIC)


def _plain(colour: tuple[int, int, int]) -> np.ndarray:
    canvas = np.empty((SIZE[1], SIZE[0], 3), np.uint8)
    canvas[:] = colour
    return canvas


SYNTHETIC = {
    # name: (what, expected, renderer)
    "white_mug_on_white": (
        "the issue's case: a white mug on a near-white backdrop",
        "refuse",
        lambda: _render_mug((240, 240, 242), (244, 244, 245), 1),
    ),
    "white_mug_on_grey": (
        "a white mug on a mid-grey backdrop",
        "accept",
        lambda: _render_mug((150, 152, 156), (248, 248, 248), 2),
    ),
    "glass_on_light": ("a clear drinking glass on a light backdrop", "refuse", lambda: _render_glass(3)),
    "pen": ("a thin dark pen lying diagonally", "accept", lambda: _render_stick(18, 4)),
    "wire": ("a wire two pixels thick: too thin to cut out", "refuse", lambda: _render_stick(2, 5)),
    "low_contrast_box": (
        "a grey box barely darker than its grey backdrop",
        "refuse",
        lambda: _render_box((200, 202, 206), (192, 194, 198), (0.36, 0.25, 0.64, 0.85), 6),
    ),
    "box_on_three_sides": (
        "a box running off the top, left and right of the frame",
        "refuse",
        lambda: _render_box((214, 216, 220), (180, 40, 40), (-0.1, -0.1, 1.1, 0.7), 7),
    ),
    "box_cut_at_bottom": (
        "a box running off the bottom only (normal for a product)",
        "accept",
        lambda: _render_box((214, 216, 220), (40, 90, 170), (0.3, 0.35, 0.7, 1.2), 8),
    ),
    "speck": (
        "a speck of a product, 0.1% of the frame",
        "refuse",
        lambda: _render_box((214, 216, 220), (180, 40, 40), (0.49, 0.48, 0.51, 0.51), 9),
    ),
    "bottle_small": (
        "the bottle at a quarter of its size on its own backdrop",
        "accept",
        lambda: _composite(_plain((208, 209, 211)), 0.25, (0.5, 0.55), 10),
    ),
    "bottle_busy_backdrop": (
        "the bottle on a wooden table",
        "refuse",
        lambda: _composite(_texture(11), 1.0, (0.5, 0.5), 11),
    ),
    "bottle_on_its_own_green": (
        "the bottle on a backdrop of its own green",
        "refuse",
        lambda: _composite(_plain((40, 110, 55)), 1.0, (0.5, 0.5), 12),
    ),
    "bottle_cropped_close": (
        "a close crop: the bottle runs off the top and bottom, its light label into the frame's edge, where "
        "it cannot be told from the backdrop",
        "refuse",
        lambda: _composite(_plain((208, 209, 211)), 2.6, (0.5, 0.5), 13),
    ),
    "bottle_on_white": (
        "the bottle on pure white",
        "accept",
        lambda: _composite(_plain((255, 255, 255)), 0.9, (0.5, 0.5), 15),
    ),
    "bottle_on_black": (
        "the bottle on black: its black cap shows only as two highlights",
        "refuse",
        lambda: _composite(_plain((30, 30, 30)), 0.9, (0.5, 0.5), 16),
    ),
    "white_box_on_dark": (
        "a white box on a dark backdrop",
        "accept",
        lambda: _render_box((40, 40, 45), (230, 230, 230), (0.3, 0.2, 0.7, 0.85), 17),
    ),
    "red_mug_on_white": (
        "a red mug on a near-white backdrop",
        "accept",
        lambda: _render_mug((240, 240, 242), (200, 40, 40), 18),
    ),
    "bottle_off_the_bottom": (
        "the bottle enlarged to run off the bottom only",
        "accept",
        lambda: _composite(_plain((208, 209, 211)), 1.5, (0.5, 0.62), 14),
    ),
}

FIXTURE_CASES = [
    Case(
        "product_bottle",
        "the bottle fixture (rendered product shot)",
        "accept",
        "product_bottle.jpg",
        "product_bottle_gt.png",
    ),
    Case("grace_hopper", "a portrait on a flag", "accept", "grace_hopper.jpg"),
    Case("astronaut", "a portrait on a busy studio backdrop", "accept", "astronaut.png"),
    Case("coffee", "a cup on a wooden table, no plain backdrop and no person", "refuse", "coffee.png"),
]


def write() -> None:
    """Render the synthetic cases into tests/fixtures/hardcases/ with cases.json (deterministic)."""
    CASES_DIR.mkdir(parents=True, exist_ok=True)
    listing = [vars(case) for case in FIXTURE_CASES]
    for name, (what, expected, renderer) in SYNTHETIC.items():
        image, cover = renderer()
        photo, truth = f"hardcases/{name}.jpg", f"hardcases/{name}_gt.png"
        # A high-quality JPEG, as a camera or a shop's product photo arrives (and small enough to keep).
        cv2.imwrite(str(FIXTURES / photo), cv2.cvtColor(image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 92])
        cv2.imwrite(str(FIXTURES / truth), np.round(np.clip(cover, 0, 1) * 255).astype(np.uint8))
        listing.append(vars(Case(name, what, expected, photo, truth)))
    (CASES_DIR / "cases.json").write_text(json.dumps(listing, indent=1) + "\n")


# -- judging ---------------------------------------------------------------------------------------------


def load_cases() -> list[Case]:
    return [Case(**entry) for entry in json.loads((CASES_DIR / "cases.json").read_text())]


@dataclass
class Outcome:
    case: Case
    accepted: bool
    iou: float | None
    message: str

    @property
    def right(self) -> bool:
        if self.case.expected == "refuse":
            return not self.accepted
        return self.accepted and (self.iou is None or self.iou >= MIN_IOU)


def judge(backend: object, case: Case, quality: str = "medium") -> Outcome:
    """Run PROMPT on the case's photo through `backend` (a LocalBackend) and compare with what it expects."""
    from PIL import Image

    from app.backends.base import BackendRefused, EditRequest

    photo = Image.open(FIXTURES / case.photo).convert("RGB")
    request = EditRequest(
        images=[photo], prompt=PROMPT, quality=quality, width=photo.width, height=photo.height, output_format="png"
    )
    try:
        result = backend.edit(request)  # type: ignore[attr-defined]
    except BackendRefused as exc:
        return Outcome(case, False, None, exc.message)
    iou = None
    if case.truth is not None:
        truth = np.asarray(Image.open(FIXTURES / case.truth).convert("L")) > 127
        kept = np.asarray(result.image.convert("RGBA"))[..., 3] > 127
        iou = float((kept & truth).sum() / max(1, (kept | truth).sum()))
    return Outcome(case, True, iou, "")


def run() -> list[dict]:
    """The hard-case table: one row per case and the three counts (wrong has a floor of 0)."""
    from app.backends.local.engine import LocalBackend
    from app.backends.local.models import ensure_models
    from app.config import Settings

    settings = Settings()
    ensure_models(settings.resolved_model_dir)
    backend = LocalBackend(settings)
    rows: list[dict] = []
    counts = {"accepted correctly": 0, "refused correctly": 0, "wrong": 0}
    for quality in ("low", "medium", "high"):
        for case in load_cases():
            outcome = judge(backend, case, quality)
            verdict = "accepted" if outcome.accepted else "refused"
            detail = f"IoU {outcome.iou:.3f}" if outcome.iou is not None else ""
            key = "wrong" if not outcome.right else f"{verdict} correctly"
            counts[key] += 1
            rows.append(
                {
                    "name": f"{case.name} ({quality}): expected {case.expected}, {verdict} {detail}".rstrip(),
                    "value": 1.0 if outcome.right else 0.0,
                    "unit": "right",
                    "floor": None,
                    "ok": outcome.right,
                }
            )
    for key, value in counts.items():
        wrong = key == "wrong"
        rows.append(
            {
                "name": f"hard cases {key}",
                "value": float(value),
                "unit": "cases",
                "floor": 0 if wrong else None,
                "ok": value == 0 if wrong else None,
            }
        )
    return rows


if __name__ == "__main__":
    if sys.argv[1:] == ["--write"]:
        write()
    else:
        for row in run():
            print(json.dumps(row))
