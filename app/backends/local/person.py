"""Finding a person: MediaPipe's face detector says whether there is one, its selfie-segmentation model
says which pixels are theirs.

Both models are small TFLite files (see `models.py`) run with `ai-edge-litert`. A LiteRT interpreter is not
safe to call from two threads at once, so each model has one interpreter, created on first use and guarded
by a lock; a call takes a few milliseconds, so the lock is never held for long.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from app.backends.local.models import FACE_DETECTION, SELFIE_SEGMENTATION, missing_models

FACE_INPUT = 128
SEGMENTATION_INPUT = 256
# The detector's score a face needs: seen in the whole picture, as the detector is made to look; seen in
# one of many tiles, more (each look is another chance for a blotch to pass for a face: at 0.6, 44 of 60
# pictures of noise showed one somewhere, against 4 of 60 in one look; real faces score 0.85 or more in a
# tile of their size, and no noise picture reached 0.75).
MIN_FACE_SCORE = 0.6
MIN_TILE_FACE_SCORE = 0.8
NMS_OVERLAP = 0.3
# A face smaller than this share of the short side is a face in the scenery, not the subject.
MIN_FACE_SHARE = 0.06
# The detector finds faces from about 16 of its FACE_INPUT pixels: in tiles of this share of the short side,
# a face of MIN_FACE_SHARE is about 19. Tiles start every TILE_STEP of a tile (a face up to half a tile lies
# whole in one), and the detector runs at most MAX_TILES times for a picture (`python -m bench faces`:
# 10-40 ms a picture, 4K and 24 MP included).
FINE_TILE = 0.4
TILE_STEP = 0.5
MAX_TILES = 64
# A face within this many input pixels of a tile's inner side may be cut by it.
EDGE_SLACK = 1.0
# A face mostly inside another one's box is the same face seen at another scale.
MAX_COVERED = 0.6


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

    def scaled(self, factor: float) -> Face:
        """The same face in pixels `factor` times as large."""
        return Face(self.cx * factor, self.cy * factor, self.width * factor, self.height * factor, self.score)


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
        """Faces of at least MIN_FACE_SHARE of the short side in an RGB uint8 image, best first.

        The detector sees FACE_INPUT-pixel squares and misses a face under about 16 of their pixels. So it
        is shown the picture whole and in overlapping square tiles of two sizes, the short side and
        FINE_TILE of it: a face of the smallest size that counts is as findable in a wide strip as in a
        square photo, in at most MAX_TILES runs of the detector. A face seen only in a tile needs the
        higher MIN_TILE_FACE_SCORE.
        """
        self._require()
        height, width = image.shape[:2]
        tiles = _tiles(width, height)
        # Reduce the picture once, so that the finest tiles are FACE_INPUT pixels across.
        reduce = min(1.0, FACE_INPUT / min(side for _, _, side in tiles))
        small = image
        if reduce < 1.0:
            size = (max(1, round(width * reduce)), max(1, round(height * reduce)))
            small = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
            reduce = size[0] / width
        found: list[tuple[Face, bool]] = []
        for x0, y0, side in tiles:
            least = MIN_FACE_SCORE if side >= max(width, height) else MIN_TILE_FACE_SCORE
            found.extend(
                (face.scaled(1 / reduce), clipped)
                for face, clipped in self._detect(small, x0 * reduce, y0 * reduce, side * reduce)
                if face.score >= least
            )
        smallest = MIN_FACE_SHARE * min(width, height)
        return _suppressed([(face, clipped) for face, clipped in found if face.width >= smallest])

    def _detect(self, image: np.ndarray, x0: float, y0: float, side: float) -> list[tuple[Face, bool]]:
        """Faces in the square (x0, y0, side) of `image` (reaching past the picture: grey there), each with
        whether it touches a side of the square inside the picture (a face the tile cuts, to be seen whole
        in a neighbouring tile)."""
        height, width = image.shape[:2]
        scale = FACE_INPUT / side
        # The picture's whole pixels inside the square.
        px0, py0 = max(0, math.ceil(x0 - 0.01)), max(0, math.ceil(y0 - 0.01))
        px1, py1 = min(width, math.floor(x0 + side + 0.01)), min(height, math.floor(y0 + side + 0.01))
        offset_x, offset_y = round((px0 - x0) * scale), round((py0 - y0) * scale)
        new_w = max(1, min(FACE_INPUT - offset_x, round((px1 - px0) * scale)))
        new_h = max(1, min(FACE_INPUT - offset_y, round((py1 - py0) * scale)))
        interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
        part = cv2.resize(image[py0:py1, px0:px1], (new_w, new_h), interpolation=interpolation)
        canvas = np.zeros((FACE_INPUT, FACE_INPUT, 3), np.float32)
        canvas[offset_y : offset_y + new_h, offset_x : offset_x + new_w] = part.astype(np.float32) / 127.5 - 1.0
        outputs = self._faces.run(canvas[None])
        boxes, scores = sorted(outputs, key=lambda array: array.shape[-1], reverse=True)[:2]
        raw = boxes[0]
        logits = np.clip(scores[0, :, 0], -80, 80)
        probability = 1.0 / (1.0 + np.exp(-logits))
        # Input pixels to image pixels, through the resized part (so rounding its size shifts nothing).
        sx, sy = (px1 - px0) / new_w, (py1 - py0) / new_h
        inner_left, inner_top, inner_right, inner_bottom = px0 > 0, py0 > 0, px1 < width, py1 < height
        found = []
        for index in np.nonzero(probability >= MIN_FACE_SCORE)[0]:
            cx = raw[index, 0] + ANCHORS[index, 0] * FACE_INPUT
            cy = raw[index, 1] + ANCHORS[index, 1] * FACE_INPUT
            w, h = float(raw[index, 2]), float(raw[index, 3])
            clipped = (
                (inner_left and cx - w / 2 <= offset_x + EDGE_SLACK)
                or (inner_top and cy - h / 2 <= offset_y + EDGE_SLACK)
                or (inner_right and cx + w / 2 >= offset_x + new_w - EDGE_SLACK)
                or (inner_bottom and cy + h / 2 >= offset_y + new_h - EDGE_SLACK)
            )
            face = Face(
                px0 + (cx - offset_x) * sx, py0 + (cy - offset_y) * sy, w * sx, h * sy, float(probability[index])
            )
            found.append((face, bool(clipped)))
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


def _grid(length: float, side: float) -> list[float]:
    """Where tiles of `side` start along an axis `length` long: evenly spread, each overlapping the next by
    at least 1 - TILE_STEP of a tile, the first at 0 and the last at the end."""
    if length <= side:
        return [(length - side) / 2]
    count = math.ceil((length - side) / (TILE_STEP * side) - 1e-9) + 1
    return [float(v) for v in np.linspace(0.0, length - side, count)]


def _squares(width: int, height: int, side: float) -> list[tuple[float, float, float]]:
    return [(x, y, side) for y in _grid(height, side) for x in _grid(width, side)]


def _tiles(width: int, height: int) -> list[tuple[float, float, float]]:
    """The squares (x0, y0, side) the detector looks at: the whole picture (letterboxed), squares of its
    short side, and squares of FINE_TILE of it. When those would be more than MAX_TILES (a very long strip),
    the squares grow until they are not, and the smallest face found grows with them."""
    short, long = min(width, height), max(width, height)
    whole = [((width - long) / 2, (height - long) / 2, float(long))] if long > short * 1.05 else []
    grow = 1.0
    while True:
        sides = sorted({min(float(long), share * short * grow) for share in (FINE_TILE, 1.0)})
        squares = whole + [square for side in sides for square in _squares(width, height, side)]
        if len(squares) <= MAX_TILES:
            return squares
        grow *= 1.1


def _suppressed(found: list[tuple[Face, bool]]) -> list[Face]:
    """One face per person, best first: among detections of the same face (from overlapping tiles, or
    scales) the one seen whole, then the surest."""
    kept: list[Face] = []
    for face, _ in sorted(found, key=lambda item: (item[1], -item[0].score)):
        if all(_overlap(face, other) < NMS_OVERLAP and _covered(face, other) < MAX_COVERED for other in kept):
            kept.append(face)
    return sorted(kept, key=lambda face: -face.score)


def _covered(first: Face, second: Face) -> float:
    """The share of the smaller of two faces' boxes that lies inside the other."""
    ax0, ay0, ax1, ay1 = first.box
    bx0, by0, bx1, by1 = second.box
    inter = max(0, min(ax1, bx1) - max(ax0, bx0)) * max(0, min(ay1, by1) - max(ay0, by0))
    smaller = min((ax1 - ax0) * (ay1 - ay0), (bx1 - bx0) * (by1 - by0))
    return inter / smaller if smaller > 0 else 0.0


def _overlap(first: Face, second: Face) -> float:
    ax0, ay0, ax1, ay1 = first.box
    bx0, by0, bx1, by1 = second.box
    inter = max(0, min(ax1, bx1) - max(ax0, bx0)) * max(0, min(ay1, by1) - max(ay0, by0))
    union = (ax1 - ax0) * (ay1 - ay0) + (bx1 - bx0) * (by1 - by0) - inter
    return inter / union if union > 0 else 0.0
