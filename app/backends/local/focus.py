"""What a frame must respect: a person's head, a product's outline, or the main object of a busy photo.

Framing (`framing.py`) only moves and sizes rectangles; this module says which rectangles matter. For a
person it is the head: the face detector's box runs from the brows to the chin, so the hair or hat above
it is found in the person matte (or, without one, assumed to reach a fixed share of a face above it). For
a product on a plain backdrop or a transparent input it is the subject's box. For a photo in which no
subject was found (a cup on a wooden table) it is the object GrabCut separates from the photo's border,
when that separation is clear; otherwise there is nothing to respect and crops stay centred.
"""

from __future__ import annotations

import cv2
import numpy as np

from app.backends.local.framing import Box, Focus, union
from app.backends.local.person import Face, PersonFinder
from app.backends.local.subject import Subject, work_image

# Hair or a hat reaches at most this many face heights above the detector's box (a tall hat, a bun), and
# the forehead at least this many, whatever the matte says (it can miss dark hair on a dark background).
MAX_HAIR = 1.0
MIN_HAIR = 0.3
# Without a matte to find it, the top of the head is taken this many face heights above the box (measured
# on the fixture portraits: 0.6 for a cap, 0.7 for full hair).
ASSUMED_HAIR = 0.75
# Ears and hair beside the face, as a share of its width, when no matte says where the head ends.
ASSUMED_SIDES = 0.3
# Below the detector's box: the chin, as a share of the face height.
CHIN = 0.1
# The matte within this share of a face width beside the face still counts as the head (hair, not shoulders).
HEAD_REACH = 0.5

# GrabCut for photos without a found subject: its work size, and what makes its answer an object.
GUESS_EDGE = 160
GUESS_INSET = 0.04
GUESS_ITERATIONS = 4
MIN_OBJECT_SHARE = 0.03
MAX_OBJECT_SHARE = 0.7
MAX_OBJECT_BOX = 0.85
"""The object's box may cover at most this share of GrabCut's rectangle: more is the whole scene."""


def head_box(face: Face, alpha: np.ndarray | None) -> Box:
    """The head around a detected face, in the face's pixels: from the top of the hair to the chin.

    With the person's matte (same pixels as the face), the head is the matte connected above the face and
    beside it; without, it is assumed to reach ASSUMED_HAIR above and ASSUMED_SIDES beside the face.
    """
    x0, y0, x1, y1 = (float(v) for v in face.box)
    width, height = face.width, face.height
    top, left, right = y0 - ASSUMED_HAIR * height, x0 - ASSUMED_SIDES * width, x1 + ASSUMED_SIDES * width
    if alpha is not None:
        rows, cols = alpha.shape
        c0, c1 = max(0, round(x0)), min(cols, round(x1))
        # Walk up from the face while the matte continues above it (hair, a hat), at most MAX_HAIR faces.
        row = min(rows - 1, max(0, round(y0)))
        limit = max(0, round(y0 - MAX_HAIR * height))
        while row > limit and c1 > c0 and (alpha[row - 1, c0:c1] > 0.5).any():
            row -= 1
        top = min(float(row), y0 - MIN_HAIR * height)
        # The head's width: the matte beside the face, from the top of the head down to the eyes.
        r0, r1 = row, max(row + 1, min(rows, round(face.cy)))
        reach0, reach1 = max(0, round(x0 - HEAD_REACH * width)), min(cols, round(x1 + HEAD_REACH * width))
        columns = np.nonzero((alpha[r0:r1, reach0:reach1] > 0.5).any(axis=0))[0]
        if columns.size:
            left, right = min(x0, reach0 + float(columns.min())), max(x1, reach0 + float(columns.max()) + 1)
        else:
            left, right = x0, x1
    return (left, top, right, y1 + CHIN * height)


def _scaled(box: Box, factor: float) -> Box:
    return (box[0] * factor, box[1] * factor, box[2] * factor, box[3] * factor)


def _clipped(box: Box, width: float, height: float) -> Box:
    return (max(0.0, box[0]), max(0.0, box[1]), min(width, box[2]), min(height, box[3]))


def _people(faces: list[Face], alpha: np.ndarray | None, shape: tuple[int, int], whole: Box | None) -> Focus:
    """Focus on people: their heads must stay in (when they cannot all fit, the head of the largest face, the
    person the photo is of, and as many others as fit with it; when not even that head fits, its face); the
    visual centre lies between the heads and the body."""
    rows, cols = shape
    faces = sorted(faces, key=lambda face: -face.width)
    heads = [_clipped(head_box(face, alpha), cols, rows) for face in faces]
    keep = union(*heads)
    main = faces[0]
    core = _clipped((main.box[0], main.box[1], main.box[2], main.box[3]), cols, rows)
    head_cx, head_cy = (keep[0] + keep[2]) / 2, (keep[1] + keep[3]) / 2
    if alpha is not None and (alpha > 0.5).any():
        ys, xs = np.nonzero(alpha > 0.5)
        body_cx, body_cy = float(xs.mean()), float(ys.mean())
    else:
        body_cx, body_cy = head_cx, head_cy
    box = union(keep, whole) if whole is not None else keep
    label, name = ("head", "person") if len(faces) == 1 else ("heads", "people")
    centre = ((head_cx + body_cx) / 2, (head_cy + body_cy) / 2)
    return Focus(centre, box, keep, core, label, name, tuple(heads) if len(heads) > 1 else ())


def subject_focus(subject: Subject) -> Focus:
    """The focus of a found subject, in source pixels."""
    box = subject.box()
    if subject.kind == "person" and subject.faces:
        # The faces are in source pixels and the matte in work pixels: find the heads at work size.
        scale = subject.scale
        faces = [face.scaled(scale) for face in subject.faces]
        work_box = _scaled(box, scale)
        return _people(faces, subject.alpha, subject.alpha.shape[:2], work_box).scaled(1 / scale)
    centre = ((box[0] + box[2]) / 2, (box[1] + box[3]) / 2)
    return Focus(centre, box, box, None, "subject")


def guess_focus(source: np.ndarray, finder: PersonFinder) -> Focus | None:
    """The focus of a photo in which no subject was found: its people's heads, else its main object when
    GrabCut separates one clearly from the photo's border; None when neither (crops stay centred)."""
    if finder.available():
        faces = finder.faces(source)
        if faces:
            return _people(faces, None, source.shape[:2], None)
    return main_object(source)


def main_object(source: np.ndarray) -> Focus | None:
    """The object GrabCut separates from the border of the photo, or None when what it separates is too
    small, too large or scattered to be one object."""
    work, scale = work_image(source, GUESS_EDGE)
    rows, cols = work.shape[:2]
    inset = max(1, round(GUESS_INSET * min(rows, cols)))
    rect = (inset, inset, cols - 2 * inset, rows - 2 * inset)
    if rect[2] < 8 or rect[3] < 8:
        return None
    mask = np.zeros((rows, cols), np.uint8)
    cv2.setRNGSeed(0)  # GrabCut seeds its colour models with k-means: the same photo frames the same way
    cv2.grabCut(
        np.ascontiguousarray(work[..., ::-1]),
        mask,
        rect,
        np.zeros((1, 65), np.float64),
        np.zeros((1, 65), np.float64),
        GUESS_ITERATIONS,
        cv2.GC_INIT_WITH_RECT,
    )
    foreground = ((mask == cv2.GC_FGD) | (mask == cv2.GC_PR_FGD)).astype(np.uint8)
    share = float(foreground.mean())
    if not MIN_OBJECT_SHARE <= share <= MAX_OBJECT_SHARE:
        return None
    _, _, stats, _ = cv2.connectedComponentsWithStats(foreground, connectivity=8)
    largest = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    x, y, w, h, area = (int(v) for v in stats[largest])
    if area < 0.6 * foreground.sum() or w * h > MAX_OBJECT_BOX * rect[2] * rect[3]:
        return None
    box = (float(x), float(y), float(x + w), float(y + h))
    centre = (x + w / 2, y + h / 2)
    return Focus(centre, box, box, None, "main object", "main object").scaled(1 / scale)
