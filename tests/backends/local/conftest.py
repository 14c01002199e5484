"""Fixtures for the offline engine's tests: the model files (fetched once per run), a backend, photos."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from app.backends.base import EditRequest, EditResult
from app.backends.local.engine import LocalBackend
from app.backends.local.models import ModelFetchError, ensure_models
from app.config import Settings

ROOT = Path(__file__).resolve().parents[3]
FIXTURES = ROOT / "tests" / "fixtures"
SHARED_MODELS = ROOT / "data" / "models"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


@pytest.fixture(scope="session")
def model_dir() -> Path:
    """The person-segmentation models, fetched into data/models (gitignored) once for the whole run."""
    try:
        ensure_models(SHARED_MODELS)
    except ModelFetchError as exc:
        if IN_CI:
            pytest.fail(f"the person-segmentation models could not be fetched: {exc} (CI=true: required)")
        pytest.skip(f"the person-segmentation models could not be fetched: {exc}")
    return SHARED_MODELS


@pytest.fixture(scope="session")
def backend(model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> LocalBackend:
    """One engine for the session, as the app shares one between its worker threads."""
    settings = Settings(_env_file=None, data_dir=tmp_path_factory.mktemp("data"), model_dir=model_dir)
    return LocalBackend(settings)


@pytest.fixture(scope="session")
def bare_backend(tmp_path_factory: pytest.TempPathFactory) -> LocalBackend:
    """An engine whose model folder is empty: the person models were never installed."""
    empty = tmp_path_factory.mktemp("no-models")
    return LocalBackend(Settings(_env_file=None, data_dir=empty, model_dir=empty / "models"))


def photo(name: str) -> Image.Image:
    """A fixture photo, RGB."""
    return Image.open(FIXTURES / name).convert("RGB")


def studio_product(
    size: tuple[int, int] = (900, 700),
    *,
    backdrop: tuple[int, int, int] = (214, 216, 220),
    product: tuple[int, int, int] = (180, 40, 40),
    box: tuple[float, float, float, float] = (0.38, 0.25, 0.62, 0.85),
) -> Image.Image:
    """A synthetic product shot: a rounded box on a softly lit plain backdrop with a soft floor shadow."""
    return studio_product_with_coverage(size, backdrop=backdrop, product=product, box=box)[0]


def studio_product_with_coverage(
    size: tuple[int, int] = (900, 700),
    *,
    backdrop: tuple[int, int, int] = (214, 216, 220),
    product: tuple[int, int, int] = (180, 40, 40),
    box: tuple[float, float, float, float] = (0.38, 0.25, 0.62, 0.85),
) -> tuple[Image.Image, np.ndarray]:
    """The synthetic product shot and its exact anti-aliased coverage (the true alpha, H×W float 0..1)."""
    width, height = size
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    light = 1.0 - 0.08 * (((xs / width - 0.5) ** 2 + (ys / height - 0.3) ** 2) * 2.5)
    canvas = np.stack([np.full((height, width), c, np.float32) for c in backdrop], -1) * light[..., None]
    x0, y0, x1, y1 = (box[0] * width, box[1] * height, box[2] * width, box[3] * height)
    shadow = np.exp(-(((xs - (x0 + x1) / 2) / ((x1 - x0) * 0.6)) ** 2 + ((ys - y1) / (0.03 * height)) ** 2))
    canvas *= (1.0 - 0.35 * shadow)[..., None]
    radius = 0.08 * (x1 - x0)
    dx = np.maximum(np.maximum(x0 + radius - xs, xs - (x1 - radius)), 0)
    dy = np.maximum(np.maximum(y0 + radius - ys, ys - (y1 - radius)), 0)
    inside = np.clip(radius - np.hypot(dx, dy) + 0.5, 0, 1)  # anti-aliased rounded corners
    shading = 0.85 + 0.3 * (xs - x0) / max(1.0, x1 - x0)
    body = (
        np.stack([np.full((height, width), c, np.float32) for c in product], -1)
        * np.clip(shading, 0.6, 1.15)[..., None]
    )
    canvas = canvas * (1 - inside[..., None]) + body * inside[..., None]
    noise = np.random.default_rng(7).normal(0, 1.2, canvas.shape)
    return Image.fromarray(np.clip(canvas + noise, 0, 255).astype(np.uint8)), inside


Edit = Callable[..., EditResult]


@pytest.fixture
def edit(backend: LocalBackend) -> Edit:
    """Run an edit: edit(prompt, images, width=, height=, quality=, fmt=)."""

    def run(
        prompt: str,
        images: list[Image.Image],
        *,
        width: int | None = None,
        height: int | None = None,
        quality: str = "medium",
        fmt: str = "png",
        background: str = "auto",
    ) -> EditResult:
        w = width or images[0].width
        h = height or images[0].height
        return backend.edit(
            EditRequest(
                images=images,
                prompt=prompt,
                quality=quality,
                width=w,
                height=h,
                output_format=fmt,
                background=background,
            )
        )

    return run


def pixels(image: Image.Image) -> np.ndarray:
    """An image as a float array."""
    return np.asarray(image).astype(np.float32)
