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
# The model's unsure range, and how much nearer (ΔE) a pixel's colour must be to one side's colours than
# to the other's for the colour vote to settle it fully.
UNSURE_LOW, UNSURE_HIGH = 0.35, 0.9
SETTLE_SEPARATION = 15.0
# How close to the frame's edge (share of the long edge) the model's answer is settled by colour, and the
# long edge (pixels) at which the colours vote.
FRAME_REACH = 0.05
SETTLE_EDGE = 512
# A backdrop or a person is often of several colours (a flag's red and white stripes, a suit and its
# badges): each side is described by its commonest colours (Lab bins of this size, at most this many, each
# at least this share of the side), and a pixel is compared with the nearest of those in sight, not with
# their average (pink, for a flag).
PALETTE_BIN = 12.0
PALETTE_SIZE = 8
PALETTE_MIN_SHARE = 0.01
# "In sight" along the frame's edge: within this many reaches along it (the backdrop beyond a shoulder
# continues along the frame) and two reaches across it.
SIGHT_ALONG = 16
# The share of sure background in sight of a pixel needed to trust the background's colours there.
MIN_BACKGROUND_IN_SIGHT = 0.05
# Near the frame the model sees no context beyond, so even its confident answer there is open to the
# colour vote; the vote is trusted only when it is this clear (share of the distance to the nearer side).
SURE_OVERRULE_MARGIN = 0.25
# How steeply the vote (the share of a pixel's distance to both sides that is to the background's colour)
# becomes alpha: half as far from the background's colour as from the person's is background.
VOTE_CONTRAST = 5.0
# Background enclosed by the person (a gap under an arm) is kept; an enclosed speck smaller than this share
# of the person is the model's noise, and is filled.
MAX_HOLE_SHARE = 0.002


def _palette(lab: np.ndarray, sure: np.ndarray) -> np.ndarray:
    """The commonest colours (K×3 Lab) of the pixels where `sure` is set, by coarse Lab bins."""
    colours = lab[sure]
    if colours.shape[0] == 0:
        return np.zeros((0, 3), np.float32)
    # One number per bin (L 0..100, a and b -128..127), counted and averaged with bincount.
    bins = np.floor(colours / PALETTE_BIN).astype(np.int64) + np.array([0, 11, 11])
    keys = (bins[:, 0] * 23 + bins[:, 1]) * 23 + bins[:, 2]
    counts = np.bincount(keys)
    order = [k for k in np.argsort(-counts)[:PALETTE_SIZE] if counts[k] >= PALETTE_MIN_SHARE * colours.shape[0]]
    sums = np.stack([np.bincount(keys, weights=colours[:, c], minlength=counts.size) for c in range(3)], axis=1)
    return (sums[order] / counts[order][:, None]).astype(np.float32).reshape(-1, 3)


def _nearest_in_sight(
    lab: np.ndarray, sure: np.ndarray, window: tuple[int, int], at: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """For the pixels `at` (a mask) of a strip along the frame: the distance to the nearest of one side's
    colours in sight of each (its commonest colours present within `window`, and its average colour close
    by, which catches a shade too rare to be among the commonest; inf when the side has no pixels), and
    the share of that side in sight."""
    pixels = lab[at]
    weight = sure.astype(np.float32)
    in_sight = cv2.boxFilter(weight, -1, window, borderType=cv2.BORDER_REPLICATE)[at]
    if not sure.any():
        return np.full(pixels.shape[0], np.inf, np.float32), in_sight
    best = np.linalg.norm(pixels - local_colours(lab, weight, max(1.0, window[0] / 8))[at], axis=1)
    for colour in _palette(lab, sure):
        member = (sure & (np.linalg.norm(lab - colour, axis=2) < PALETTE_BIN)).astype(np.float32)
        present = cv2.boxFilter(member, -1, window, borderType=cv2.BORDER_REPLICATE)[at] > 0.005
        distance = np.linalg.norm(pixels - colour, axis=1)
        best = np.where(present, np.minimum(best, distance), best)
    return best, in_sight


def _settle_by_colour(work: np.ndarray, probability: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Near the frame's edge, where the model sees no context beyond and leaves strips of background
    (a flag beside a shoulder), let a pixel's colour vote: its distance to the nearest background colour
    in sight against its distance to the nearest of the person's, where the model is sure of each. Unsure
    pixels follow the vote as far as the two colours clearly differ; pixels the model is sure of only when
    the vote is clear. Elsewhere the model's answer stands (a badge or a visor unlike the suit around it is
    still the person)."""
    height, width = probability.shape
    # The vote is taken at a reduced size (a fine outline is the guided filter's job, later) and its
    # answer and weight scaled back up.
    factor = min(1.0, SETTLE_EDGE / max(height, width))
    size = (max(1, round(width * factor)), max(1, round(height * factor)))
    small_p = cv2.resize(probability, size, interpolation=cv2.INTER_AREA)
    small = cv2.resize(work, size, interpolation=cv2.INTER_AREA)
    lab = cv2.cvtColor(small.astype(np.float32) / 255.0, cv2.COLOR_RGB2Lab)
    target, weight = _colour_vote(lab, small_p)
    if not weight.any():
        return alpha
    if factor < 1.0:
        target = cv2.resize(target, (width, height), interpolation=cv2.INTER_LINEAR)
        weight = cv2.resize(weight, (width, height), interpolation=cv2.INTER_LINEAR)
    return (weight * target + (1 - weight) * alpha).astype(np.float32)


def _colour_vote(lab: np.ndarray, probability: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The colour vote's alpha near the frame's edge and how much it counts (0 where it has no say)."""
    height, width = probability.shape
    reach = max(2, round(FRAME_REACH * max(height, width)))
    target = np.zeros((height, width), np.float32)
    weight = np.zeros((height, width), np.float32)
    # The sides and the top, each with a band of four reaches along it, where the colours of each side
    # are gathered: a person is cut by the bottom of the frame, where the body fills the edge.
    band = min(width, height, 4 * reach)
    strips = {"left": np.s_[:, :band], "right": np.s_[:, width - band :], "top": np.s_[:band, :]}
    for side, region in strips.items():
        strip_p, strip_lab = probability[region], lab[region]
        near = np.zeros(strip_p.shape, bool)
        edge = {"left": np.s_[:, :reach], "right": np.s_[:, -reach:], "top": np.s_[:reach, :]}[side]
        near[edge] = True
        voting = near & (strip_p > UNSURE_LOW)
        if not voting.any():
            continue
        # boxFilter's window is (width, height): long along the frame's edge.
        window = (SIGHT_ALONG * reach, band) if side == "top" else (band, SIGHT_ALONG * reach)
        # The person's colours from beyond the reach: within it, a strip of backdrop the model is sure of
        # would vote for itself.
        to_fore, _ = _nearest_in_sight(strip_lab, (strip_p >= UNSURE_HIGH) & ~near, window, voting)
        to_back, in_sight = _nearest_in_sight(strip_lab, strip_p <= UNSURE_LOW, window, voting)
        found = np.isfinite(to_fore) & np.isfinite(to_back)
        vote = np.where(found, to_back / np.maximum(np.where(found, to_fore + to_back, 1.0), 1e-6), 1.0)
        # Trusted in full once the pixel is nearer one side than the other by SETTLE_SEPARATION (ΔE), not
        # at all when it is as near to both (the greys of a helmet's ring before a grey backdrop), and only
        # with some background in sight.
        trust = np.clip(np.abs(np.where(found, to_fore - to_back, 0.0)) / SETTLE_SEPARATION, 0.0, 1.0)
        trust *= np.clip(in_sight / MIN_BACKGROUND_IN_SIGHT, 0.0, 1.0)
        sure = strip_p[voting] >= UNSURE_HIGH
        trust[sure] *= np.clip((0.5 - vote[sure]) / SURE_OVERRULE_MARGIN, 0.0, 1.0)
        voted = np.clip((vote - 0.5) * VOTE_CONTRAST + 0.5, 0.0, 1.0)
        # A texture votes pixel by pixel both ways (folds, greys of a helmet's ring before a grey wall):
        # a median over a few pixels keeps what votes as one region and its straight edges, and drops the
        # specks and slivers. The model's own answer (steepened) fills in where the vote has no say.
        strip_target, strip_weight = target[region], weight[region]
        model = np.clip((strip_p - 0.5) * PERSON_EDGE_CONTRAST + 0.5, 0.0, 1.0)
        model[voting] = trust * voted + (1 - trust) * model[voting]
        size = max(3, round(reach / 10) * 2 + 1)
        median = cv2.medianBlur(np.round(model * 255).astype(np.uint8), size).astype(np.float32) / 255
        strip_target[voting] = median[voting]
        strip_weight[voting] = 1.0
    return target, weight


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

    source_faces: list[Face] = []
    models_ready = finder.available()
    if models_ready:
        # In the source, not the work image: a small face in a wide strip needs the source's pixels.
        source_faces = finder.faces(source)
    faces = [face.scaled(scale) for face in source_faces]
    if faces:
        found = _person(finder, work, faces, quality)
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
