"""Finding the subject of a photo, whichever way works: its own transparency, a person, or a plain backdrop.

The result is a soft matte at the work resolution of the quality level, with what the later steps need:
the subject's box (for framing), the faces (for centring portraits), the backdrop model (for extending a
plain backdrop seamlessly) and edge colours (for refining and decontaminating the edge at output size).
When a background edit needs a subject and none can be found with confidence, the edit is refused with a
message saying what would work; colour and framing edits never need one.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from app.backends.base import BackendRefused
from app.backends.local.backdrop import BackdropModel, segment_backdrop
from app.backends.local.matting import (
    EdgeColours,
    boundary_band,
    edge_colours,
    estimate_foreground,
    guided_filter,
    unmix,
)
from app.backends.local.models import INSTALL_HINT
from app.backends.local.person import Face, PersonFinder
from app.backends.local.quality import Quality

NO_SUBJECT = "no_subject_found"
UNCLEAR_SUBJECT = "subject_unclear"
MODEL_MISSING = "model_missing"

WHAT_WORKS = (
    "Background edits work on a product or object on a plain backdrop, or on a photo of a person; "
    "colour and framing edits work on any photo."
)
# A face smaller than this share of the short side is a face in the scenery, not the subject.
MIN_FACE_SHARE = 0.06
# Share of the person mask that may be undecided (between 0.25 and 0.75 in the model's answer) before the
# outline is unclear: for portrait blur, which forgives a soft outline, and for a cut-out (a new or removed
# background), which shows every error of the outline. Clear portraits measure about 0.04 to 0.06; a
# blurred, tiny or very dark one 0.12 and more.
MAX_UNDECIDED = 0.3
MAX_UNDECIDED_CUTOUT = 0.12
UNCLEAR_PERSON = (
    "The person's outline is not clear enough for a clean cut-out, so the background cannot be replaced or "
    "removed; blurring it still works, and a sharper photo or a plainer backdrop helps."
)


@dataclass
class Subject:
    """The subject at work resolution."""

    kind: str
    """"transparent" (the input's own alpha), "person" or "product"."""
    alpha: np.ndarray
    """Work-resolution soft matte, H×W float32 0..1."""
    work_rgb: np.ndarray
    """The work-resolution image the matte belongs to (uint8)."""
    scale: float
    """Work pixels per source pixel."""
    backdrop: BackdropModel | None = None
    faces: list[Face] = field(default_factory=list)
    """In source pixels."""
    undecided: float = 0.0
    """For a person: the share of their area the model was unsure of (see MAX_UNDECIDED_CUTOUT)."""
    _colours: EdgeColours | None = None

    def box(self) -> tuple[float, float, float, float]:
        """The subject's bounding box (x0, y0, x1, y1) in source pixels."""
        ys, xs = np.nonzero(self.alpha > 0.5)
        if ys.size == 0:
            height, width = self.alpha.shape
            return (0.0, 0.0, width / self.scale, height / self.scale)
        return (xs.min() / self.scale, ys.min() / self.scale, (xs.max() + 1) / self.scale, (ys.max() + 1) / self.scale)

    def focus(self) -> tuple[float, float]:
        """Where framing should centre, in source pixels: the faces for people, else the subject's middle."""
        if self.faces:
            face = self.faces[0]
            x0, y0, x1, y1 = self.box()
            # Centre between the face and the body's middle: heads stay in frame without being cut at the chin.
            return (face.cx * 0.6 + (x0 + x1) / 2 * 0.4, face.cy * 0.7 + (y0 + y1) / 2 * 0.3)
        x0, y0, x1, y1 = self.box()
        return ((x0 + x1) / 2, (y0 + y1) / 2)

    def colours(self) -> EdgeColours:
        """Subject and background colours near every work pixel (computed once).

        For a person they are estimated over the soft matte by blur fusion (busy backgrounds); for a
        product on a plain backdrop, from the confident parts on either side (a smooth backdrop).
        """
        if self._colours is None:
            image = self.work_rgb.astype(np.float32) / 255.0
            if self.kind == "person":
                self._colours = estimate_foreground(image, self.alpha)
            else:
                self._colours = edge_colours(image, self.alpha)
        return self._colours


def work_image(source: np.ndarray, edge: int) -> tuple[np.ndarray, float]:
    """The source reduced to a long edge of at most `edge` pixels, and the scale used."""
    height, width = source.shape[:2]
    scale = min(1.0, edge / max(height, width))
    if scale >= 1.0:
        return source, 1.0
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return cv2.resize(source, size, interpolation=cv2.INTER_AREA), size[0] / width


def _soften(alpha: np.ndarray, work: np.ndarray, quality: Quality) -> np.ndarray:
    """Soft edges at work resolution: colour unmixing along the boundary, or a plain feather at low quality."""
    if not quality.refine:
        return cv2.GaussianBlur(alpha, (0, 0), 0.8)
    image = work.astype(np.float32) / 255.0
    colours = edge_colours(image, alpha)
    band = boundary_band(alpha, 1.0)
    ys, xs = np.nonzero(band)
    soft = alpha.copy()
    feathered = cv2.GaussianBlur(alpha, (0, 0), 0.8)
    soft[ys, xs] = unmix(image[ys, xs], colours.fore[ys, xs], colours.back[ys, xs], feathered[ys, xs])
    return soft


# The selfie model answers at 256×256, so its edge ramp is a few model pixels wide; the ramp is made this
# many times steeper around 0.5 before it is aligned with the picture's own edges.
PERSON_EDGE_CONTRAST = 3.0
# Guided filter that aligns the person's outline with the picture: radius as a share of the long edge, and
# a regularisation large enough that it follows real edges, not the texture of hair, stars or stripes.
PERSON_GUIDE_RADIUS = 0.006
PERSON_GUIDE_EPS = 1e-2
# Background enclosed by the person (a gap under an arm) is kept; an enclosed speck smaller than this share
# of the person is the model's noise, and is filled.
MAX_HOLE_SHARE = 0.002


def _person(
    finder: PersonFinder, work: np.ndarray, faces: list[Face], quality: Quality
) -> tuple[np.ndarray, float] | None:
    """The person's soft matte at work resolution and the share of it the model was unsure of, or None
    when their outline is too unclear even for portrait blur.

    The model's probability is scaled up smoothly (bicubic), steepened around 0.5 and, at medium and high
    quality, aligned with the picture's edges by a guided filter with a colour guide. It is not recomputed
    by colour unmixing: behind a person there is usually a room, a flag or a street, where a pixel's
    colour says little about whether it is background, and unmixing there tears the outline.
    """
    height, width = work.shape[:2]
    probability = np.clip(cv2.resize(finder.segment(work), (width, height), interpolation=cv2.INTER_CUBIC), 0, 1)
    alpha = np.clip((probability - 0.5) * PERSON_EDGE_CONTRAST + 0.5, 0.0, 1.0).astype(np.float32)
    if quality.refine:
        radius = max(2, round(PERSON_GUIDE_RADIUS * max(height, width)))
        alpha = np.clip(guided_filter(work.astype(np.float32) / 255.0, alpha, radius, PERSON_GUIDE_EPS), 0.0, 1.0)
    # Keep the regions that hold a face: the model also lights up on people-like shapes nearby.
    solid = (alpha > 0.5).astype(np.uint8)
    count, labels = cv2.connectedComponents(solid, connectivity=8)
    keep = np.zeros(count, bool)
    for face in faces:
        x0, y0, x1, y1 = face.box
        region = labels[max(0, y0) : max(0, y1), max(0, x0) : max(0, x1)]
        keep[np.unique(region)] = True
    keep[0] = False
    if not keep.any():
        return None
    person = keep[labels].astype(np.uint8)
    # Fill specks of background inside the person (noise, not a real gap).
    inverse = (1 - person).astype(np.uint8)
    holes, hole_labels, stats, _ = cv2.connectedComponentsWithStats(inverse, connectivity=4)
    limit = MAX_HOLE_SHARE * float(person.sum())
    for index in range(1, holes):
        x, y, w, h, area = stats[index]
        touches_border = x == 0 or y == 0 or x + w >= width or y + h >= height
        if not touches_border and area < limit:
            person[hole_labels == index] = 1
            alpha[hole_labels == index] = 1.0
    # Fade out, rather than cut, whatever lies beyond the kept regions' soft edge.
    radius = max(2, round(0.004 * max(height, width)))
    reach = cv2.dilate(person, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1,) * 2))
    fade = cv2.GaussianBlur(reach.astype(np.float32), (0, 0), radius / 2)
    alpha = (alpha * np.maximum(fade, person)).astype(np.float32)
    undecided = ((probability > 0.25) & (probability < 0.75)).sum() / max(1, (probability > 0.5).sum())
    if undecided > MAX_UNDECIDED:
        return None
    return alpha, float(undecided)


def find_subject(
    source: np.ndarray,
    quality: Quality,
    finder: PersonFinder,
    *,
    required: bool,
    source_alpha: np.ndarray | None = None,
) -> Subject | None:
    """The subject of `source` (RGB uint8), or None when there is none and `required` is False.

    With `required`, failures raise BackendRefused saying why and what would work.
    """
    work, scale = work_image(source, quality.mask_edge)
    if source_alpha is not None:
        alpha = cv2.resize(source_alpha, (work.shape[1], work.shape[0]), interpolation=cv2.INTER_AREA)
        alpha = alpha.astype(np.float32) / 255.0
        if (alpha > 0.5).any():
            return Subject("transparent", alpha, work, scale)

    faces: list[Face] = []
    models_ready = finder.available()
    if models_ready:
        short = min(work.shape[:2])
        faces = [f for f in finder.faces(work) if f.width >= MIN_FACE_SHARE * short]
    if faces:
        found = _person(finder, work, faces, quality)
        source_faces = [Face(f.cx / scale, f.cy / scale, f.width / scale, f.height / scale, f.score) for f in faces]
        if found is not None:
            return Subject("person", found[0], work, scale, faces=source_faces, undecided=found[1])
        if required:
            raise BackendRefused(
                f"A person was found, but their outline is too unclear to separate from the background. {WHAT_WORKS}",
                code=UNCLEAR_SUBJECT,
            )
        return None

    result = segment_backdrop(work)
    if result.alpha is not None:
        return Subject("product", _soften(result.alpha, work, quality), work, scale, backdrop=result.model)
    if not required:
        return None
    if not models_ready:
        raise BackendRefused(
            f"No plain backdrop was found ({result.reason}), and the person-segmentation model that handles "
            f"photos of people is not installed on this server (an administrator can install it with "
            f"`{INSTALL_HINT}`). {WHAT_WORKS}",
            code=MODEL_MISSING,
        )
    if result.confidence > 0:
        raise BackendRefused(
            f"The subject could not be separated with confidence: {result.reason}. {WHAT_WORKS}", code=UNCLEAR_SUBJECT
        )
    raise BackendRefused(
        f"No clear subject was found for the background change: {result.reason}, and no "
        f"person is visible. {WHAT_WORKS}",
        code=NO_SUBJECT,
    )
