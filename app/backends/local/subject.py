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
from app.backends.local.matting import EdgeColours, boundary_band, edge_colours, guided_filter, unmix
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
# Share of the person mask that may be undecided (between 0.25 and 0.75) before the outline is unclear.
MAX_UNDECIDED = 0.3


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

    def touches_bottom(self) -> bool:
        """Whether the subject runs off the bottom of the frame (a portrait, a cropped product)."""
        return bool((self.alpha[-2:] > 0.5).mean() > 0.02)

    def colours(self) -> EdgeColours:
        """Subject and background colours near every work pixel (computed once)."""
        if self._colours is None:
            self._colours = edge_colours(self.work_rgb.astype(np.float32) / 255.0, self.alpha)
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


def _person(finder: PersonFinder, work: np.ndarray, faces: list[Face], quality: Quality) -> np.ndarray | None:
    height, width = work.shape[:2]
    raw = cv2.resize(finder.segment(work), (width, height), interpolation=cv2.INTER_LINEAR)
    if quality.refine:
        radius = max(2, round(0.008 * max(height, width)))
        alpha = np.clip(guided_filter(work.astype(np.float32) / 255.0, raw, radius, 1e-4), 0.0, 1.0)
    else:
        alpha = raw
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
    person = keep[labels]
    grown = cv2.dilate(person.astype(np.uint8), np.ones((5, 5), np.uint8), iterations=2).astype(bool)
    alpha = np.where(grown, alpha, 0.0).astype(np.float32)
    undecided = ((alpha > 0.25) & (alpha < 0.75)).sum() / max(1, (alpha > 0.5).sum())
    if undecided > MAX_UNDECIDED:
        return None
    return alpha


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
        alpha_person = _person(finder, work, faces, quality)
        source_faces = [Face(f.cx / scale, f.cy / scale, f.width / scale, f.height / scale, f.score) for f in faces]
        if alpha_person is not None:
            return Subject("person", alpha_person, work, scale, faces=source_faces)
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
