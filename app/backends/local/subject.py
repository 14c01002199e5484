"""Finding the subject of a photo, whichever way works: its own transparency, a person, or a plain backdrop.

The result is a soft matte at the work resolution of the quality level, with what the later steps need:
the subject's box (for framing), the faces (for centring portraits), the backdrop model (for extending a
plain backdrop seamlessly) and edge colours (for refining and decontaminating the edge at output size).
When a background edit needs a subject and none can be found with confidence, the edit is refused with a
message saying what would work; colour and framing edits never need one. Every matte found is judged
(`matte_check.py`) before it is used, so a matte that is a speck, slivers or at odds with the picture is
never cut out.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from app.backends.base import BackendRefused
from app.backends.local.backdrop import BackdropModel, segment_backdrop
from app.backends.local.matte_check import judge_matte
from app.backends.local.matting import (
    EdgeColours,
    boundary_band,
    edge_colours,
    estimate_foreground,
    guided_filter,
    local_colours,
    sample,
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
PLAIN_BACKDROP_ADVICE = (
    "A backdrop that contrasts with the subject works (a mid-grey or coloured one for a white or clear "
    "object, a light one for a dark object); colour and framing edits work on any photo."
)
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

    def colours(self) -> EdgeColours:
        """Subject and background colours near every work pixel (computed once).

        For a person the background's are estimated over the soft matte by blur fusion (busy backgrounds)
        and the person's from where they surely are; for a product on a plain backdrop, both from the
        confident parts on either side (a smooth backdrop).
        """
        if self._colours is None:
            image = self.work_rgb.astype(np.float32) / 255.0
            if self.kind == "person":
                # The background's colour by blur fusion; the person's from where they surely are: their
                # alpha is the model's, not a colour mix, so at a soft edge the colour "recovered" from it
                # brings the background back (a red fringe off a flag on a dark shoulder).
                sure = cv2.erode((self.alpha > 0.95).astype(np.uint8), np.ones((3, 3), np.uint8), iterations=2)
                fore = local_colours(image, sure.astype(np.float32), 1.5)
                self._colours = EdgeColours(fore, estimate_foreground(image, self.alpha).back)
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


# The feather of an unrefined (low quality) matte, in work pixels. Its outline comes from colour unmixing
# at work resolution, as at the other levels, so it lies where the subject's edge is to a fraction of a
# work pixel; the feather then rounds off the work grid's steps, which blown up 4–8× would read as notches.
LOW_FEATHER = 0.7


def _soften(alpha: np.ndarray, work: np.ndarray, quality: Quality) -> np.ndarray:
    """Soft edges at work resolution: colour unmixing along the boundary, feathered at low quality (where
    the edge is not refined again at output size)."""
    image = work.astype(np.float32) / 255.0
    colours = edge_colours(image, alpha)
    band = boundary_band(alpha, 1.0)
    ys, xs = np.nonzero(band)
    soft = alpha.copy()
    feathered = cv2.GaussianBlur(alpha, (0, 0), 0.8)
    soft[ys, xs] = unmix(image[ys, xs], colours.fore[ys, xs], colours.back[ys, xs], feathered[ys, xs])
    if not quality.refine:
        return cv2.GaussianBlur(soft, (0, 0), LOW_FEATHER)
    return soft


# The selfie model answers at 256×256, so its edge ramp is a few model pixels wide; the ramp is made this
# many times steeper around 0.5 before it is aligned with the picture's own edges.
PERSON_EDGE_CONTRAST = 3.0
# Guided filter that aligns the person's outline with the picture: radius as a share of the long edge, and
# a regularisation large enough that it follows real edges, not the texture of hair, stars or stripes.
PERSON_GUIDE_RADIUS = 0.006
PERSON_GUIDE_EPS = 1e-2
# The model's unsure range, how far (share of the long edge) the colours of its sure parts are gathered
# from to settle it, and the colour difference (ΔE) between person and background that settles it fully.
UNSURE_LOW, UNSURE_HIGH = 0.35, 0.9
SETTLE_REACH = 0.012
SETTLE_SEPARATION = 30.0
# How close to the frame's edge (share of the long edge) the model's unsure pixels are settled by colour.
FRAME_REACH = 0.05
# The share of sure background around an unsure pixel (within a few reaches) needed to trust its colour.
MIN_BACKGROUND_IN_SIGHT = 0.1
# Background enclosed by the person (a gap under an arm) is kept; an enclosed speck smaller than this share
# of the person is the model's noise, and is filled.
MAX_HOLE_SHARE = 0.002


def _settle_by_colour(work: np.ndarray, probability: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Near the frame's edge, where the model sees no context beyond and leaves strips of background it
    is unsure of (a flag beside a shoulder), let an unsure pixel's colour vote: its distance to the
    background's colour nearby against its distance to the person's, where the model is sure of each.
    Only those pixels change, and only as far as the two colours clearly differ; elsewhere the model's
    answer stands (a badge or a visor unlike the suit around it is still the person)."""
    height, width = probability.shape
    reach = max(2, round(FRAME_REACH * max(height, width)))
    # The sides and the top: a person is cut by the bottom of the frame, where the body fills the edge.
    near_frame = np.zeros((height, width), bool)
    near_frame[:reach] = True
    near_frame[:, :reach] = near_frame[:, -reach:] = True
    unsure = (probability > UNSURE_LOW) & (probability < UNSURE_HIGH) & near_frame
    if not unsure.any():
        return alpha
    # Colours averaged over a reach of many pixels are smooth: gathered at a reduced size (a few pixels
    # per reach), then sampled at the unsure pixels.
    sigma = max(2.0, SETTLE_REACH * max(height, width))
    factor = max(1.0, sigma / 3.0)
    small = (max(1, round(width / factor)), max(1, round(height / factor)))
    lab = cv2.cvtColor(work.astype(np.float32) / 255.0, cv2.COLOR_RGB2Lab)
    small_lab = cv2.resize(lab, small, interpolation=cv2.INTER_AREA)
    small_p = cv2.resize(probability, small, interpolation=cv2.INTER_AREA)
    sure_back = (small_p <= UNSURE_LOW).astype(np.float32)
    ys, xs = np.nonzero(unsure)
    at_x, at_y = (xs + 0.5) * small[0] / width - 0.5, (ys + 0.5) * small[1] / height - 0.5
    fore = sample(local_colours(small_lab, (small_p >= UNSURE_HIGH).astype(np.float32), 3.0), at_x, at_y)
    back = sample(local_colours(small_lab, sure_back, 3.0), at_x, at_y)
    # The background's colour counts only where some of it is in sight: filled in from far away (across
    # the person), it would be a guess.
    in_sight = sample(cv2.GaussianBlur(sure_back, (0, 0), 9.0)[..., None], at_x, at_y)[:, 0]
    pixels = lab[ys, xs]
    to_fore = np.linalg.norm(pixels - fore, axis=1)
    to_back = np.linalg.norm(pixels - back, axis=1)
    vote = to_back / np.maximum(to_fore + to_back, 1e-6)
    voted = np.clip((vote - 0.5) * PERSON_EDGE_CONTRAST + 0.5, 0.0, 1.0)
    # Trusted in full once the two colours differ by SETTLE_SEPARATION (ΔE), not at all when they match.
    trust = np.clip(np.linalg.norm(fore - back, axis=1) / SETTLE_SEPARATION, 0.0, 1.0)
    trust *= np.clip(in_sight / MIN_BACKGROUND_IN_SIGHT, 0.0, 1.0)
    settled = alpha.copy()
    settled[ys, xs] = trust * voted + (1 - trust) * alpha[ys, xs]
    return settled


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
    alpha = _settle_by_colour(work, probability, alpha)
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
        if found is not None and judge_matte(found[0], work, plain_backdrop=False).ok:
            return Subject("person", found[0], work, scale, faces=source_faces, undecided=found[1])
        if required:
            raise BackendRefused(
                f"A person was found, but their outline is too unclear to separate from the background. {WHAT_WORKS}",
                code=UNCLEAR_SUBJECT,
            )
        return None

    result = segment_backdrop(work)
    if result.alpha is not None:
        verdict = judge_matte(result.alpha, work, plain_backdrop=True)
        if verdict.ok:
            return Subject("product", _soften(result.alpha, work, quality), work, scale, backdrop=result.model)
        if not required:
            return None
        raise BackendRefused(
            f"The subject could not be separated from its backdrop: {verdict.reason}. {PLAIN_BACKDROP_ADVICE}",
            code=UNCLEAR_SUBJECT,
        )
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
