"""The offline edit engine: `EDIT_BACKEND=local`.

`plan()` parses the instruction (see `parser.py`) and answers the steps and the aspect it asks for, or
refuses quoting the clause it cannot do. `edit()` runs the plan on CPU: geometry, finding the subject when
the edit needs one, framing to the exact output size, the subject's soft edge at output resolution, colour,
the new background and its shadow, compositing and sharpening. One instance serves all worker threads: it
keeps no per-edit state, and the only shared resources (the TFLite models) sit behind locks.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import cv2
import numpy as np
from PIL import Image

from app.backends.base import BackendRefused, Capabilities, EditRequest, EditResult, MadeSize, Plan, PlanRequest
from app.backends.local import background as bg
from app.backends.local import colour
from app.backends.local.focus import guess_focus, subject_focus
from app.backends.local.framing import (
    SLIVER,
    Focus,
    Framing,
    Rendered,
    Window,
    blurred_fill,
    choose_window,
    compose_affine,
    invert_affine,
    render,
    upscale_filter,
    warp,
)
from app.backends.local.matting import RefinedEdge, boundary_band, local_colours, refine_at_output, steepen
from app.backends.local.parser import parse
from app.backends.local.person import PersonFinder
from app.backends.local.plan import (
    CUTOUT_OPERATIONS,
    WIDEST_RATIO,
    Adjust,
    AutoLevels,
    BackgroundColour,
    BackgroundGradient,
    BackgroundImage,
    BlackAndWhite,
    BlurBackground,
    Denoise,
    EditPlan,
    Frame,
    FrameSubject,
    MatchColours,
    Mirror,
    NudgeSubject,
    RemoveBackground,
    Rotate,
    Sepia,
    Shadow,
    Sharpen,
    WhiteBalance,
    describe_ratio,
)
from app.backends.local.quality import Quality, quality_for
from app.backends.local.shadow import shadow_mask
from app.backends.local.subject import (
    LOW_FEATHER,
    MAX_UNDECIDED_CUTOUT,
    UNCLEAR_PERSON,
    UNCLEAR_SUBJECT,
    Subject,
    find_subject,
)

if TYPE_CHECKING:
    from app.config import Settings

MODEL_NAME = "local-engine"
RESAMPLE_NAMES = {
    Image.Resampling.BILINEAR: "bilinear",
    Image.Resampling.BICUBIC: "bicubic",
    Image.Resampling.LANCZOS: "Lanczos",
}
# Unsharp radius for the "sharpen" instruction, in output pixels per 1000 pixels of the long edge.
USER_SHARPEN_RADIUS = 1.2
# Width (10–90%) of the unrefined matte's soft edge: as made at work resolution (an unmixed edge about a
# work pixel wide, feathered by subject.LOW_FEATHER), and as shown, in work pixels but never under
# LOW_RAMP_MIN output pixels.
FEATHER_RAMP = float(np.hypot(1.0, 2.56 * LOW_FEATHER))
LOW_RAMP = 0.5
LOW_RAMP_MIN = 1.5
# The refined alpha of an enlarged photo is smoothed over this share of a source pixel (as a sigma).
ALPHA_SMOOTHING = 0.5


class LocalBackend:
    """Plain-language edits on CPU with no network and no keys."""

    name = "local"
    capabilities = Capabilities(plans=True, transparent_output=True)
    # What one edit holds at its peak, for the runner's memory budget (app/editor/memory.py): the subject
    # models and work-resolution masks, plus float copies of the picture at the larger of the output and
    # the main input's working size (measured: 45–90 bytes a pixel from 1K to 4K, ~150 MB at 1K).
    memory_fixed_bytes = 128 * 2**20
    memory_bytes_per_pixel = 60

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.people = PersonFinder(settings.resolved_model_dir)

    def plan(self, request: PlanRequest) -> Plan:
        """The steps and output aspect for an instruction; raises BackendRefused when it cannot be done.

        When the main image is given (at submit), the plan is made for it: an edit that needs a subject
        this picture does not have is refused, and a change of shape is framed as the edit will frame it,
        so that the plan says before the charge when it will extend instead of cropping, or cut a head or a
        product that cannot fit."""
        edit_plan = parse(request.prompt, request.image_count)
        steps = edit_plan.steps(request.main_size)
        aspect = edit_plan.aspect(request.main_size)
        shape = _planned_shape(edit_plan, request)
        # A shape that only the settings ask for is a step too: the person sees the crop before paying.
        from_settings = shape is not None and request.output_aspect is not None and not edit_plan.find(Frame)
        if from_settings and shape is not None:
            steps.append(_settings_fit_sentence(request.main_size, shape, extended=False))
        if request.load_main_image is None or not (_needs_subject(edit_plan) or shape is not None):
            return Plan(steps, aspect)
        split = _split_alpha(request.load_main_image(), bleed=False)
        source, alpha = split.flat, split.alpha
        if bool(edit_plan.find(Rotate)) or bool(edit_plan.find(Mirror)):
            source = _transpose(source, edit_plan)
            alpha = np.asarray(_transpose(Image.fromarray(alpha), edit_plan)) if alpha is not None else None
        quality = quality_for(request.quality or "medium")
        subject = _judged_subject(self, edit_plan, np.asarray(source), alpha, quality)
        if shape is not None:
            cutout = isinstance(edit_plan.background(), CUTOUT_OPERATIONS)
            framing, focus = _framed(self, edit_plan, source, subject, shape, cutout)
            if from_settings and framing.extended:
                steps[-1] = _settings_fit_sentence(request.main_size, shape, extended=True)
            steps = _planned_framing(steps, edit_plan, framing, focus, shape)
        return Plan(steps, aspect)

    def made_size(self, width: int, height: int) -> MadeSize:
        """The promised size itself: the engine works at any size."""
        return MadeSize(width, height)

    def edit(self, request: EditRequest) -> EditResult:
        """Run the instruction on request.images[0] and return exactly request.width × request.height."""
        if not request.images:
            raise BackendRefused("An edit needs at least one image.", code="no_image")
        plan = parse(request.prompt, len(request.images))
        if request.background == "transparent" and plan.background() is None:
            plan.operations.append(RemoveBackground())  # the caller asked for a transparent result
        run = _Run(self, plan, request)
        image = run.execute()
        return EditResult(image=image, plan=run.steps, model=MODEL_NAME, usage=run.frame_record())


def _planned_shape(plan: EditPlan, request: PlanRequest) -> tuple[int, int] | None:
    """The output's shape when planning for a picture, if it is another than the picture's own: the
    instruction's frame, else the settings' (the service refuses the two when they differ), else the
    widest frame for a panorama wider than it. None when the picture keeps its shape."""
    if request.main_size is None:
        return None
    width, height = request.main_size
    if plan.quarter_turns() % 2 == 1:
        width, height = height, width
    shape = plan.aspect(request.main_size) or request.output_aspect
    if shape is None and max(width / height, height / width) > WIDEST_RATIO:
        shape = (round(WIDEST_RATIO), 1) if width > height else (1, round(WIDEST_RATIO))
    return shape if shape is not None and _changes_shape((width, height), shape) else None


def _settings_fit_sentence(source_size: tuple[int, int] | None, shape: tuple[int, int], *, extended: bool) -> str:
    """The step for fitting the picture to the shape the aspect-ratio setting asks for, in the words the
    edit's own steps use ("Crop the sides to fit 16:9")."""
    named = f"{describe_ratio(*shape)} (the aspect-ratio setting)"
    if extended:
        return f"Extend the canvas to fit {named}, so the subject is not cut"
    wider = source_size is not None and source_size[0] / source_size[1] > shape[0] / shape[1]
    return f"Crop the {'sides' if wider else 'top and bottom'} to fit {named}, keeping the subject in the frame"


def _changes_shape(source_size: tuple[int, int], shape: tuple[int, int]) -> bool:
    """Whether an output of `shape` is noticeably another shape than the source (it is framed anew)."""
    return abs(math.log((source_size[0] / source_size[1]) / (shape[0] / shape[1]))) > 0.01


def _framed(
    backend: LocalBackend,
    plan: EditPlan,
    source: Image.Image,
    subject: Subject | None,
    size: tuple[int, int],
    cutout: bool,
) -> tuple[Framing, Focus | None]:
    """The window of `source` an output of `size` shows, and the focus it respects (None: nothing to keep)."""
    frames = plan.find(Frame)
    subject_frames = plan.find(FrameSubject)
    mode = frames[0].mode if frames else ("extend" if plan.no_crop else "auto")
    extendable = cutout or (subject is not None and subject.kind in ("product", "transparent"))
    subject_frame = None
    if subject_frames:
        subject_frame = "tight" if subject_frames[0].tight else "centre"
    focus: Focus | None = None
    if subject_frame is not None or (_changes_shape(source.size, size) and mode != "extend"):
        # What the frame must respect; with no subject found, the heads or the object a photographer keeps.
        focus = subject_focus(subject) if subject is not None else guess_focus(np.asarray(source), backend.people)
    framing = choose_window(
        source.size, size, mode=mode, focus=focus, subject_frame=subject_frame, extendable=extendable
    )
    return framing, focus


def _extend_sentence(frame: Frame, shape: str, focus: Focus | None) -> str:
    """The frame's step when a crop is extended instead, so that the subject is not cut."""
    named = f" ({frame.label})" if frame.label else ""
    whole = focus.name if focus is not None else "subject"
    return f"Extend to {shape}{named} instead of cropping, so the {whole} is not cut"


def _cut_sentence(focus: Focus, framing: Framing, shape: str, *, planned: bool = False) -> str | None:
    """The step saying what a crop has to cut of what it should keep, e.g. "The head does not fit in 21:9:
    its top is cut"; planned, it says what will be cut and how to keep it all. None when nothing is cut."""
    if not framing.cut and not framing.left_out:
        return None
    future = "will be" if planned else None
    if framing.left_out:
        count = len(focus.parts)
        sides = [side for side in ("left", "right", "top", "bottom") if side in framing.left_out]
        where = " and ".join(sides)
        if len(framing.left_out) == 1:
            who = f"the one on the {where}"
        elif len(sides) == 1:
            who = f"{len(framing.left_out)} on the {where}"
        else:
            who = f"the ones on the {where}"
        verb = future or ("is" if len(framing.left_out) == 1 else "are")
        text = f"The {count} {focus.label} do not all fit in {shape}: {who} {verb} cut"
        if framing.cut:
            named = _sides_named(framing.cut)
            text += f", and the {named} of the {_kept(focus, framing)} {future or _are(named)} cut"
    else:
        plural = focus.label.endswith("s")
        named = _sides_named(framing.cut)
        does, its = ("do", "their") if plural else ("does", "its")
        text = f"The {focus.label} {does} not fit in {shape}: {its} {named} {future or _are(named)} cut"
    if planned:
        them = "them all" if focus.label.endswith("s") else "all of it"
        text += f"; say 'extend to {shape}' to keep {them}"
    return text


def _sides_named(sides: tuple[str, ...]) -> str:
    return "sides" if set(sides) == {"left", "right"} else " and ".join(sides)


def _are(named: str) -> str:
    """The verb for sides named by `_sides_named`: "the top is", "the top and left are"."""
    return "are" if named == "sides" or " and " in named else "is"


def _kept(focus: Focus, framing: Framing) -> str:
    """What a crop that leaves parts out keeps of them, e.g. "one kept"."""
    return "one kept" if len(focus.parts) - len(framing.left_out) == 1 else "ones kept"


def _planned_framing(
    steps: list[str], plan: EditPlan, framing: Framing, focus: Focus | None, shape: tuple[int, int]
) -> list[str]:
    """The plan's steps with what framing will do to the subject: an extension instead of the crop asked
    for, and what will be cut of what cannot fit, after the step that frames (or last)."""
    steps = list(steps)
    named = describe_ratio(*shape)
    frames = plan.find(Frame)
    framing_steps = [op.sentence() for op in frames] + [op.sentence() for op in plan.find(FrameSubject)]
    after = [steps.index(sentence) + 1 for sentence in framing_steps if sentence in steps]
    at = max(after) if after else len(steps)
    if framing.extended and frames and frames[0].mode == "crop":
        index = steps.index(frames[0].sentence())
        steps[index] = _extend_sentence(frames[0], named, focus)
    if focus is not None:
        note = _cut_sentence(focus, framing, named, planned=True)
        if note is not None:
            steps.insert(at, note)
    return steps


def _transpose(image: Image.Image, plan: EditPlan) -> Image.Image:
    turns = plan.quarter_turns()
    # PIL rotates counter-clockwise; our degrees are clockwise.
    methods = {1: Image.Transpose.ROTATE_270, 2: Image.Transpose.ROTATE_180, 3: Image.Transpose.ROTATE_90}
    if turns:
        image = image.transpose(methods[turns])
    for op in plan.find(Mirror):
        image = image.transpose(
            Image.Transpose.FLIP_LEFT_RIGHT if op.axis == "horizontal" else Image.Transpose.FLIP_TOP_BOTTOM
        )
    return image


@dataclass
class _Source:
    """The main image split for processing."""

    flat: Image.Image
    """RGB flattened on white (what a JPEG or an opaque result shows)."""
    alpha: np.ndarray | None = None
    """H×W uint8 when the image has real transparency."""
    bled: Image.Image | None = None
    """RGB with the colours of the visible part carried out under the transparent part, so resampling,
    sharpening and colour changes never pull in the arbitrary colour hidden there (a dark or white fringe)."""


def _needs_subject(plan: EditPlan) -> bool:
    """Whether the edit cannot be done without finding the subject (a new or blurred background); other
    edits use one only when there is one (framing on the subject falls back to the heads or the main object
    `focus.guess_focus` finds, or to the middle of the picture)."""
    return plan.background() is not None


def _judged_subject(
    backend: LocalBackend, plan: EditPlan, source: np.ndarray, source_alpha: np.ndarray | None, quality: Quality
) -> Subject | None:
    """The subject, judged fit for the edit: required when the edit needs one, and for a cut-out of a
    person, an outline clear enough to show on a new background. Raises BackendRefused otherwise."""
    subject = find_subject(source, quality, backend.people, required=_needs_subject(plan), source_alpha=source_alpha)
    cutout = isinstance(plan.background(), CUTOUT_OPERATIONS)
    if cutout and subject is not None and subject.kind == "person" and subject.undecided > MAX_UNDECIDED_CUTOUT:
        raise BackendRefused(UNCLEAR_PERSON, code=UNCLEAR_SUBJECT)
    return subject


def _split_alpha(image: Image.Image, *, bleed: bool = True) -> _Source:
    """The picture flattened on white, and its alpha (with bled colours, unless `bleed` is False) when it
    has real transparency."""
    if image.mode not in ("RGBA", "LA", "PA") and "transparency" not in image.info:
        return _Source(image.convert("RGB"))
    rgba = image if image.mode == "RGBA" else image.convert("RGBA")
    alpha = rgba.getchannel("A")
    extrema = alpha.getextrema()
    low = extrema[0] if isinstance(extrema[0], (int, float)) else 0
    if low >= 250:
        return _Source(rgba.convert("RGB"))
    flat = Image.new("RGB", rgba.size, (255, 255, 255))
    flat.paste(rgba, mask=alpha)
    alpha_array = np.asarray(alpha)
    if not bleed:
        return _Source(flat, alpha_array)
    # keep·rgb + (1 − keep)·nearby, computed in place: at 4K each full-size float array is 180 MB.
    rgb = np.asarray(rgba.convert("RGB"), dtype=np.float32)
    rgb *= 1 / 255.0
    weight = alpha_array.astype(np.float32)
    weight *= 4.0 / 255.0
    weight -= 1.0
    np.clip(weight, 0.0, 1.0, out=weight)  # the clearly visible part
    nearby = local_colours(rgb, weight, 2.0)
    del weight
    keep = alpha_array.astype(np.float32)
    keep *= 1 / 32.0
    np.clip(keep, 0.0, 1.0, out=keep)
    rgb -= nearby
    rgb *= keep[..., None]
    rgb += nearby
    del nearby, keep
    rgb *= 255.0
    np.round(rgb, out=rgb)
    np.clip(rgb, 0, 255, out=rgb)
    return _Source(flat, alpha_array, Image.fromarray(rgb.astype(np.uint8), "RGB"))


class _Run:
    """One edit in progress: the inputs, the working images and the steps done so far."""

    def __init__(self, backend: LocalBackend, plan: EditPlan, request: EditRequest) -> None:
        self.backend = backend
        self.plan = plan
        self.request = request
        self.quality: Quality = quality_for(request.quality)
        self.size = (request.width, request.height)
        self.steps: list[str] = []
        self.transparent_ok = request.output_format.lower() in ("png", "webp") and request.background != "opaque"

    # -- the pipeline ------------------------------------------------------------------------------------

    def execute(self) -> Image.Image:
        plan, quality = self.plan, self.quality
        split = _split_alpha(self.request.images[0])
        background = plan.background()
        cutout = isinstance(background, CUTOUT_OPERATIONS)
        source_alpha = split.alpha
        # A transparent picture stays transparent through any edit that leaves its background alone, when
        # the format can carry it; a cut-out of it uses its own alpha. Either way its colours are the
        # visible ones carried under the transparent part, never the flattening white.
        keep_alpha = source_alpha is not None and self.transparent_ok and not cutout
        source = split.bled if split.bled is not None and (keep_alpha or cutout) else split.flat
        if bool(plan.find(Rotate)) or bool(plan.find(Mirror)):
            source = _transpose(source, plan)
            if source_alpha is not None:
                source_alpha = np.asarray(_transpose(Image.fromarray(source_alpha), plan))
            self.steps.extend(op.sentence() for op in plan.ordered() if isinstance(op, (Rotate, Mirror)))
        source_array = np.asarray(source)

        subject: Subject | None = None
        reframed = bool(plan.find(Frame)) or bool(plan.find(FrameSubject)) or _changes_shape(source.size, self.size)
        if _needs_subject(plan) or reframed:
            subject = _judged_subject(self.backend, plan, source_array, source_alpha, quality)
        rendered, window = self._frame(source, subject, cutout)
        photo = rendered.pixels
        # The input's own alpha, through exactly the same window and filter (extended areas are clear).
        own_alpha = (
            render(Image.fromarray(source_alpha, "L"), window, self.size, quality.resample).pixels
            if source_alpha is not None
            else None
        )
        edge: RefinedEdge | None = None
        alpha: np.ndarray | None = None
        if subject is not None and (cutout or isinstance(background, BlurBackground)):
            if subject.kind == "transparent" and own_alpha is not None:
                alpha = own_alpha.astype(np.float32) / 255.0  # exact: nothing to estimate or clean
            else:
                alpha, edge = self._matte(subject, rendered, photo)
        if rendered.covered is not None and not cutout:
            photo = self._fill_extension(rendered, subject, window, source.size)

        if plan.find(Denoise):
            photo = colour.denoise(photo)
            self.steps.append(Denoise().sentence())

        canvas, transparent = self._canvas(background, photo, alpha)
        fore = edge.fore if edge is not None else None
        photo, fore = self._colours(photo, fore, alpha, canvas)
        if isinstance(background, BlurBackground) and alpha is not None:
            canvas = bg.portrait_blur(photo, alpha, background.strength)
            self.steps.append(background.sentence())

        if alpha is None:
            result = photo
        else:
            if edge is not None and edge.ys.size:
                photo = photo.copy()
                photo[edge.ys, edge.xs] = fore
            shade = None
            shadows = plan.find(Shadow)
            if shadows:
                grounded = not bool((alpha[-2:] > 0.5).mean() > 0.02)
                shade = shadow_mask(alpha, shadows[0].strength, grounded=grounded)
                self.steps.append(shadows[0].sentence())
            if transparent:
                result = self._transparent(photo, alpha, shade)
            else:
                assert canvas is not None
                if shade is not None:
                    canvas = bg.darken(canvas, shade)
                result = bg.composite(photo, canvas, alpha)

        if keep_alpha and own_alpha is not None:
            result = np.dstack([result[..., :3], own_alpha])
        self._framing_steps(rendered, window, subject, source.size)
        result = self._sharpen(result)
        return Image.fromarray(result, "RGBA" if result.shape[-1] == 4 else "RGB")

    # -- steps of the pipeline -------------------------------------------------------------------------

    def _frame(self, source: Image.Image, subject: Subject | None, cutout: bool) -> tuple[Rendered, Window]:
        self.framing, self.focus = _framed(self.backend, self.plan, source, subject, self.size, cutout)
        window = self.framing.window
        return render(source, window, self.size, self.quality.resample), window

    def frame_record(self) -> dict[str, dict[str, float]] | None:
        """Which part of the main image the result shows, as fractions of its width and height (beyond 0..1
        where the canvas was extended), for the before/after comparison; None when the picture was turned
        or mirrored (the original no longer lines up with the result)."""
        if bool(self.plan.find(Rotate)) or bool(self.plan.find(Mirror)):
            return None
        window = self.framing.window
        width, height = self.request.images[0].size
        return {
            "frame": {
                "x": round(float(window.x0) / width, 5),
                "y": round(float(window.y0) / height, 5),
                "width": round(float(window.width) / width, 5),
                "height": round(float(window.height) / height, 5),
            }
        }

    def _matte(self, subject: Subject, rendered: Rendered, photo: np.ndarray) -> tuple[np.ndarray, RefinedEdge]:
        """The subject's matte at output size, with its edge refined and its colours cleaned there."""
        scale = subject.scale
        work_to_source = np.array([[1 / scale, 0, 0.5 / scale - 0.5], [0, 1 / scale, 0.5 / scale - 0.5]])
        work_to_output = compose_affine(rendered.source_to_output, work_to_source)
        coarse = warp(subject.alpha, work_to_output, self.size)
        if not self.quality.refine and subject.kind == "product":
            # Unrefined, the feathered work matte is several output pixels soft at the scale of the output:
            # keep it soft, but centred on the outline, not spilling the subject's colour past it.
            per_work = float(np.sqrt(abs(np.linalg.det(work_to_output[:, :2]))))
            coarse = steepen(coarse, FEATHER_RAMP * per_work, max(LOW_RAMP_MIN, LOW_RAMP * per_work))
        band_work = boundary_band(subject.alpha, self.quality.band).astype(np.uint8)
        band = warp(band_work, work_to_output, self.size, nearest=True) > 0
        edge = refine_at_output(
            photo,
            coarse,
            band,
            subject.colours(),
            invert_affine(work_to_output),
            # A person's alpha is the model's, aligned by the guided filter: unmixing against one local
            # background colour tears it on a busy background. Their edge colours are still cleaned.
            unmix_alpha=self.quality.refine and subject.kind != "person",
        )
        enlargement = float(np.sqrt(abs(np.linalg.det(rendered.source_to_output[:, :2]))))
        if self.quality.refine and subject.kind != "person" and enlargement > 1.0:
            # An enlarged photo has no detail finer than its own pixels, but unmixing answers pixel by
            # pixel: along an edge it leaves a second, detached line of alpha (a notched outline at 4K
            # from a 1K photo). Alpha is smoothed over half a source pixel.
            smooth = cv2.GaussianBlur(edge.alpha, (0, 0), ALPHA_SMOOTHING * enlargement)
            edge.alpha[band] = smooth[band]
        return np.clip(edge.alpha, 0.0, 1.0), edge

    def _fill_extension(
        self, rendered: Rendered, subject: Subject | None, window: Window, source_size: tuple[int, int]
    ) -> np.ndarray:
        covered = rendered.covered
        assert covered is not None
        photo = rendered.pixels
        if subject is not None and subject.backdrop is not None:
            # Continue the modelled backdrop: evaluate it small (it is smooth) and scale up, with dither.
            width, height = self.size
            src_w, src_h = source_size

            def norm(value: float, extent: int) -> float:
                return value / max(1, extent - 1) * 2 - 1

            output_to_source = invert_affine(rendered.source_to_output)
            u0, v0 = output_to_source @ np.array([0, 0, 1.0])
            u1, v1 = output_to_source @ np.array([width - 1, height - 1, 1.0])
            small_w, small_h = max(8, width // 8), max(8, height // 8)
            surface = subject.backdrop.evaluate(
                small_w, small_h, (norm(u0, src_w), norm(v0, src_h), norm(u1, src_w), norm(v1, src_h))
            )
            full = cv2.resize(surface, (width, height), interpolation=cv2.INTER_LINEAR) * 255.0
            full += np.random.default_rng(1).random((height, width, 1), dtype=np.float32) - 0.5
            fill = np.clip(np.round(full), 0, 255).astype(np.uint8)
            result = photo.copy()
            result[~covered] = fill[~covered]
            return result
        return blurred_fill(photo, covered)

    def _canvas(
        self, background: object, photo: np.ndarray, alpha: np.ndarray | None
    ) -> tuple[np.ndarray | None, bool]:
        """The new background (None with a transparent result) and whether the result is transparent."""
        size, resample = self.size, self.quality.resample
        if isinstance(background, RemoveBackground):
            if self.transparent_ok:
                self.steps.append("Remove the background (transparent)")
                return None, True
            reason = (
                "JPEG has no transparency"
                if self.request.output_format.lower() not in ("png", "webp")
                else "an opaque result was asked for"
            )
            self.steps.append(f"Remove the background (white: {reason})")
            return bg.solid(size, (255, 255, 255)), False
        if isinstance(background, BackgroundColour):
            self.steps.append(background.sentence())
            return bg.solid(size, background.colour), False
        if isinstance(background, BackgroundGradient):
            self.steps.append(background.sentence())
            return bg.gradient(size, background.start, background.end, background.direction), False
        if isinstance(background, BackgroundImage):
            self.steps.append(background.sentence())
            return bg.image_backdrop(self.request.images[background.index - 1], size, resample), False
        return None, False

    def _colours(
        self, photo: np.ndarray, fore: np.ndarray | None, alpha: np.ndarray | None, canvas: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """Apply the colour operations to the photo and, identically, to the cleaned edge colours."""
        for op in self.plan.ordered():
            transform = None
            if isinstance(op, NudgeSubject) and canvas is not None and alpha is not None:
                inside = photo[alpha > 0.5]
                if inside.size:
                    transform = colour.nudge_toward(inside[:, None, :], canvas)
            elif isinstance(op, MatchColours):
                reference = np.asarray(
                    self.request.images[op.index - 1].convert("RGB").reduce(4)
                    if min(self.request.images[op.index - 1].size) >= 64
                    else self.request.images[op.index - 1].convert("RGB")
                )
                transform = colour.match_colours(photo, reference, op.strength)
            elif isinstance(op, WhiteBalance):
                transform = colour.white_balance(photo, op.direction, op.strength)
            elif isinstance(op, AutoLevels):
                transform = colour.auto_levels(photo)
            elif isinstance(op, Adjust):
                transform = {
                    "brightness": colour.brightness,
                    "contrast": colour.contrast,
                    "saturation": colour.saturation,
                    "warmth": colour.warmth,
                    "tint": colour.tint,
                }[op.kind](op.amount)
            elif isinstance(op, BlackAndWhite):
                transform = colour.black_and_white()
            elif isinstance(op, Sepia):
                transform = colour.sepia(op.strength)
            if transform is None:
                continue
            photo = transform(photo)
            if fore is not None and fore.size:
                fore = transform(fore[:, None, :])[:, 0, :]
            self.steps.append(op.sentence())
        return photo, fore

    def _transparent(self, photo: np.ndarray, alpha: np.ndarray, shade: np.ndarray | None) -> np.ndarray:
        if shade is None:
            a8 = np.clip(np.round(alpha * 255), 0, 255).astype(np.uint8)
            return np.dstack([photo, a8])
        # A black shadow under the subject: alpha adds up, colour is the subject's share of the mix.
        total = alpha + (1.0 - alpha) * shade
        share = np.where(total > 1e-4, alpha / np.maximum(total, 1e-4), 0.0).astype(np.float32)
        rgb = bg.composite(photo, np.zeros_like(photo), share)
        a8 = np.clip(np.round(total * 255), 0, 255).astype(np.uint8)
        return np.dstack([rgb, a8])

    def _framing_steps(
        self, rendered: Rendered, window: Window, subject: Subject | None, source_size: tuple[int, int]
    ) -> None:
        width, height = self.size
        on_subject = subject is not None
        for subject_frame in self.plan.find(FrameSubject):
            if on_subject:
                self.steps.append(subject_frame.sentence())
            elif self.focus is not None:
                self.steps.append(subject_frame.sentence().replace("subject", self.focus.name))
            else:
                self.steps.append("Centre the picture (no subject found)")
        frames = self.plan.find(Frame)
        shape = f"{frames[0].aspect[0]}:{frames[0].aspect[1]}" if frames else describe_ratio(width, height)
        for frame in frames:
            text = frame.sentence()
            if self.framing.extended:
                text = _extend_sentence(frame, shape, self.focus)
            elif not on_subject and frame.mode == "crop":
                guessed = f"centred on the {self.focus.name}" if self.focus is not None else "centred"
                text = text.replace("centred on the subject", guessed)
            self.steps.append(text)
        if not self.plan.find(Frame) and not self.plan.find(FrameSubject):
            fit = self._fit_text(rendered, window, on_subject, source_size)
            if fit is not None:
                self.steps.append(fit)
        cut = _cut_sentence(self.focus, self.framing, shape) if self.focus is not None else None
        if cut is not None:
            self.steps.append(cut)
        name = RESAMPLE_NAMES.get(upscale_filter(self.quality.resample, width / window.width), "bicubic")
        self.steps.append(f"Output at {width}×{height} ({name} resampling)")

    def _fit_text(
        self, rendered: Rendered, window: Window, on_subject: bool, source_size: tuple[int, int]
    ) -> str | None:
        """The step that fitting the picture to the output frame took, when the instruction named no frame;
        None when only the rounding of the output size was taken up (a sliver, cover-fitted silently)."""
        width, height = self.size
        src_w, src_h = source_size
        shape = describe_ratio(width, height)
        if max(width / height, height / width) > WIDEST_RATIO - 0.1 and max(src_w / src_h, src_h / src_w) > 3.05:
            shape += " (the widest frame)" if width > height else " (the tallest frame)"
        if rendered.covered is not None:
            if max(window.width / src_w, window.height / src_h) - 1 <= SLIVER:
                return None
            keeping = "keeping the whole picture" if self.plan.no_crop else "so the subject is not cut"
            return f"Extend the canvas to fit {shape}, {keeping}"
        cut_w, cut_h = 1 - window.width / src_w, 1 - window.height / src_h
        if max(cut_w, cut_h) <= SLIVER:
            return None
        sides = "sides" if cut_w >= cut_h else "top and bottom"
        where = ", centred on the subject" if on_subject else ""
        return f"Crop the {sides} to fit {shape}{where}"

    def _sharpen(self, result: np.ndarray) -> np.ndarray:
        long_edge = max(self.size)
        rgb = result[..., :3]
        sharpened = rgb
        for op in self.plan.find(Sharpen):
            sharpened = colour.sharpen(sharpened, op.strength, max(0.8, USER_SHARPEN_RADIUS * long_edge / 1000))
            self.steps.append(op.sentence())
        if self.quality.sharpen > 0:
            radius = max(0.5, self.quality.sharpen_radius * long_edge / 1000)
            sharpened = colour.sharpen(sharpened, self.quality.sharpen, radius)
        if sharpened is rgb:
            return result
        if result.shape[-1] == 4:
            return np.dstack([sharpened, result[..., 3]])
        return sharpened
