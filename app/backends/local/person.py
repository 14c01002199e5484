"""Finding a person: MediaPipe's face detector says whether there is one, its selfie-segmentation model
says which pixels are theirs.

Both models are small TFLite files (see `models.py`) run with `ai-edge-litert`. A LiteRT interpreter is not
safe to call from two threads at once, so each model has one interpreter, created on first use and guarded
by a lock; a call takes a few milliseconds, so the lock is never held for long.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from app.backends.local.models import FACE_DETECTION, SELFIE_SEGMENTATION, missing_models

FACE_INPUT = 128
SEGMENTATION_INPUT = 256
MIN_FACE_SCORE = 0.6
NMS_OVERLAP = 0.3


class ModelMissing(RuntimeError):
    """The model files are not installed."""


@dataclass(frozen=True)
class Face:
    """A detected face in image pixels: centre, size and the detector's score."""

    cx: float
    cy: float
    width: float
    height: float
    score: float

    @property
    def box(self) -> tuple[int, int, int, int]:
        """(x0, y0, x1, y1) in pixels."""
        return (
            round(self.cx - self.width / 2),
            round(self.cy - self.height / 2),
            round(self.cx + self.width / 2),
            round(self.cy + self.height / 2),
        )


def _anchors() -> np.ndarray:
    # The short-range detector's SSD anchors: a 16×16 grid with 2 anchors per cell, then 8×8 with 6.
    centres = []
    for grid, per_cell in ((16, 2), (8, 6)):
        for y in range(grid):
            for x in range(grid):
                centres.extend([((x + 0.5) / grid, (y + 0.5) / grid)] * per_cell)
    return np.array(centres, np.float32)


ANCHORS = _anchors()


class _Model:
    """One TFLite model with a lazily created interpreter behind a lock."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lock = threading.Lock()
        self._interpreter: Any = None

    def run(self, tensor: np.ndarray) -> list[np.ndarray]:
        with self.lock:
            if self._interpreter is None:
                from ai_edge_litert.interpreter import Interpreter

                interpreter = Interpreter(model_path=str(self.path), num_threads=2)
                interpreter.allocate_tensors()
                self._interpreter = interpreter
            interpreter = self._interpreter
            interpreter.set_tensor(interpreter.get_input_details()[0]["index"], tensor)
            interpreter.invoke()
            return [interpreter.get_tensor(detail["index"]).copy() for detail in interpreter.get_output_details()]


class PersonFinder:
    """Face detection and person segmentation for one model folder; one instance serves all threads."""

    def __init__(self, model_dir: Path) -> None:
        self.model_dir = Path(model_dir)
        self._faces = _Model(self.model_dir / FACE_DETECTION.name)
        self._segmenter = _Model(self.model_dir / SELFIE_SEGMENTATION.name)
        self._checked = False
        self._check_lock = threading.Lock()

    def available(self) -> bool:
        """Whether the model files are installed (checked once, then remembered while they are)."""
        with self._check_lock:
            if not self._checked:
                self._checked = not missing_models(self.model_dir)
            return self._checked

    def _require(self) -> None:
        if not self.available():
            raise ModelMissing(f"person-segmentation models are not installed in {self.model_dir}")

    def faces(self, image: np.ndarray) -> list[Face]:
        """Faces in an RGB uint8 image, best first (letterboxed to the detector's square input)."""
        self._require()
        height, width = image.shape[:2]
        scale = FACE_INPUT / max(height, width)
        new_w, new_h = max(1, round(width * scale)), max(1, round(height * scale))
        offset_x, offset_y = (FACE_INPUT - new_w) // 2, (FACE_INPUT - new_h) // 2
        canvas = np.zeros((FACE_INPUT, FACE_INPUT, 3), np.float32)
        small = cv2.resize(image, (new_w, new_h), interpolation=cv2.INTER_AREA)
        canvas[offset_y : offset_y + new_h, offset_x : offset_x + new_w] = small.astype(np.float32) / 127.5 - 1.0
        outputs = self._faces.run(canvas[None])
        boxes, scores = sorted(outputs, key=lambda array: array.shape[-1], reverse=True)[:2]
        raw = boxes[0]
        logits = np.clip(scores[0, :, 0], -80, 80)
        probability = 1.0 / (1.0 + np.exp(-logits))
        candidates = np.nonzero(probability >= MIN_FACE_SCORE)[0]
        found: list[Face] = []
        for index in candidates[np.argsort(-probability[candidates])]:
            cx = (raw[index, 0] / FACE_INPUT + ANCHORS[index, 0]) * FACE_INPUT
            cy = (raw[index, 1] / FACE_INPUT + ANCHORS[index, 1]) * FACE_INPUT
            w, h = raw[index, 2], raw[index, 3]
            face = Face(
                (cx - offset_x) / scale, (cy - offset_y) / scale, w / scale, h / scale, float(probability[index])
            )
            if all(_overlap(face, kept) < NMS_OVERLAP for kept in found):
                found.append(face)
        return found

    def segment(self, image: np.ndarray) -> np.ndarray:
        """The person-probability mask (H×W float32 0..1 at the model's 256×256, to be resized).

        The model runs on the picture and on its mirror image, and the two answers are averaged: a
        person is the same either way round, while the model's slips (a patch of background taken for
        a sleeve) mostly are not, so they are halved.
        """
        self._require()
        tensor = cv2.resize(image, (SEGMENTATION_INPUT, SEGMENTATION_INPUT), interpolation=cv2.INTER_AREA)
        tensor = tensor.astype(np.float32) / 255.0
        direct = self._segmenter.run(tensor[None])[0][0, :, :, 0]
        mirrored = self._segmenter.run(np.ascontiguousarray(tensor[:, ::-1])[None])[0][0, :, ::-1, 0]
        return np.clip((direct + mirrored) / 2, 0.0, 1.0).astype(np.float32)


def _overlap(first: Face, second: Face) -> float:
    ax0, ay0, ax1, ay1 = first.box
    bx0, by0, bx1, by1 = second.box
    inter = max(0, min(ax1, bx1) - max(ax0, bx0)) * max(0, min(ay1, by1) - max(ay0, by0))
    union = (ax1 - ax0) * (ay1 - ay0) + (bx1 - bx0) * (by1 - by0) - inter
    return inter / union if union > 0 else 0.0
