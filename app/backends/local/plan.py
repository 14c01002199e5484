"""What the offline engine will do: operations with parameters, the constraints it honours, and the short
sentences a person reads before paying.

The parser builds an `EditPlan`; the engine runs it. Operations run in a fixed order whatever the order of
the sentence (geometry first, then the subject and its background, colour, framing, sharpening), so the
same instruction always gives the same picture.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from math import gcd
from typing import TypeVar


def hex_colour(rgb: tuple[int, int, int]) -> str:
    """#RRGGBB for an (r, g, b) triple."""
    return "#{:02X}{:02X}{:02X}".format(*rgb)


def percent(value: float) -> str:
    """A fraction as a whole percentage: 0.2 -> '20%'."""
    return f"{round(abs(value) * 100)}%"


def ordinal_image(index: int) -> str:
    """'image 2' for index 2 (1-based, as people count)."""
    return f"image {index}"


def reduce_ratio(width: int, height: int) -> tuple[int, int]:
    """(16, 9) for (1920, 1080)."""
    divisor = gcd(width, height) or 1
    return width // divisor, height // divisor


# The output frame is at most 3:1 (or 1:3); a crop that cuts away less than this share of either side of the
# picture is rounding of the output size, not worth a step in the plan.
WIDEST_RATIO = 3.0
NOTICEABLE_CUT = 0.03
NAMED_RATIOS = (
    (1, 1),
    (5, 4),
    (4, 5),
    (4, 3),
    (3, 4),
    (3, 2),
    (2, 3),
    (16, 9),
    (9, 16),
    (2, 1),
    (1, 2),
    (21, 9),
    (9, 21),
    (3, 1),
    (1, 3),
)


def describe_ratio(width: float, height: float) -> str:
    """A shape as people name it: "16:9" when it is that to within 1%, else "2.63:1" (or "1:2.63")."""
    ratio = width / height
    for a, b in NAMED_RATIOS:
        if abs(ratio / (a / b) - 1) < 0.01:
            return f"{a}:{b}"
    return f"{ratio:.2f}:1" if ratio >= 1 else f"1:{1 / ratio:.2f}"


@dataclass(frozen=True)
class Rotate:
    """Rotate clockwise by 90, 180 or 270 degrees."""

    degrees: int

    def sentence(self) -> str:
        if self.degrees == 90:
            return "Rotate 90° clockwise"
        if self.degrees == 270:
            return "Rotate 90° counter-clockwise"
        return "Rotate 180°"


@dataclass(frozen=True)
class Mirror:
    """Mirror left-right ("horizontal") or top-bottom ("vertical")."""

    axis: str

    def sentence(self) -> str:
        return "Mirror horizontally" if self.axis == "horizontal" else "Flip vertically"


@dataclass(frozen=True)
class RemoveBackground:
    """Cut the subject out: transparent in PNG/WebP, white in JPEG."""

    def sentence(self) -> str:
        return "Remove the background (transparent in PNG and WebP, white in JPEG)"


@dataclass(frozen=True)
class BackgroundColour:
    """Put the subject on one flat colour."""

    colour: tuple[int, int, int]

    def sentence(self) -> str:
        return f"Replace the background with {hex_colour(self.colour)}"


@dataclass(frozen=True)
class BackgroundGradient:
    """Put the subject on a two-colour gradient (direction: vertical, horizontal, diagonal or radial)."""

    start: tuple[int, int, int]
    end: tuple[int, int, int]
    direction: str = "vertical"

    def sentence(self) -> str:
        return (
            f"Replace the background with a {self.direction} gradient from {hex_colour(self.start)} "
            f"to {hex_colour(self.end)}"
        )


@dataclass(frozen=True)
class BackgroundImage:
    """Put the subject in front of another of the uploaded images (1-based index)."""

    index: int

    def sentence(self) -> str:
        return f"Replace the background with {ordinal_image(self.index)} (cover-fit, lightly defocused)"


@dataclass(frozen=True)
class BlurBackground:
    """Portrait mode: keep the subject sharp, blur what is behind it."""

    strength: float = 0.6
    DEFAULT = 0.6

    def sentence(self) -> str:
        text = "Blur the background (portrait mode)"
        return text if self.strength == self.DEFAULT else f"{text} at {percent(self.strength)} strength"


@dataclass(frozen=True)
class Shadow:
    """A soft contact shadow under a cut-out subject."""

    strength: float = 0.5
    DEFAULT = 0.5

    def sentence(self) -> str:
        if self.strength == self.DEFAULT:
            return "Add a soft shadow"
        return f"Add a soft shadow at {percent(self.strength)} strength"


@dataclass(frozen=True)
class NudgeSubject:
    """Shift the subject's colours a little toward a new backdrop image so it sits in the scene."""

    index: int

    def sentence(self) -> str:
        return f"Nudge the subject's colours toward {ordinal_image(self.index)}"


ADJUSTMENT_KINDS = ("brightness", "contrast", "saturation", "warmth", "tint")


@dataclass(frozen=True)
class Adjust:
    """A signed change of brightness, contrast, saturation or warmth; amount 0.2 means +20%."""

    kind: str
    amount: float

    def sentence(self) -> str:
        size = percent(self.amount)
        up = self.amount > 0
        if self.kind == "brightness":
            return f"Brighten by {size}" if up else f"Darken by {size}"
        if self.kind == "warmth":
            return f"Make the colours {'warmer' if up else 'cooler'} by {size}"
        if self.kind == "tint":
            return f"Shift the colours toward {'magenta' if up else 'green'} by {size}"
        return f"{'Increase' if up else 'Reduce'} {self.kind} by {size}"


@dataclass(frozen=True)
class WhiteBalance:
    """Neutralise a colour cast measured in the photo: any cast, or only one toward a named colour.

    direction: the named colour's (a, b) direction in Lab, unit length; None for any cast.
    """

    cast: str | None = None
    direction: tuple[float, float] | None = None
    strength: float = 1.0

    def sentence(self) -> str:
        text = f"Neutralise the {self.cast} colour cast" if self.cast else "Correct the white balance"
        text += " (as measured in the photo)"
        return text if self.strength == 1.0 else f"{text} at {percent(self.strength)} strength"


@dataclass(frozen=True)
class AutoLevels:
    """Stretch the tones so the darkest and brightest parts use the full range."""

    def sentence(self) -> str:
        return "Auto-adjust the levels"


@dataclass(frozen=True)
class BlackAndWhite:
    """Convert to black and white (luminance)."""

    def sentence(self) -> str:
        return "Convert to black and white"


@dataclass(frozen=True)
class Sepia:
    """A warm brown monochrome tone; strength 1.0 is full sepia."""

    strength: float = 1.0
    DEFAULT = 1.0

    def sentence(self) -> str:
        if self.strength == self.DEFAULT:
            return "Apply a sepia tone"
        return f"Apply a sepia tone at {percent(self.strength)} strength"


@dataclass(frozen=True)
class MatchColours:
    """Transfer the colour statistics (the mood) of another uploaded image."""

    index: int
    strength: float = 0.7
    DEFAULT = 0.7

    def sentence(self) -> str:
        text = f"Match the colours and mood of {ordinal_image(self.index)}"
        return text if self.strength == self.DEFAULT else f"{text} at {percent(self.strength)} strength"


@dataclass(frozen=True)
class Denoise:
    """A light, edge-preserving noise reduction."""

    def sentence(self) -> str:
        return "Reduce noise (light)"


@dataclass(frozen=True)
class Sharpen:
    """Unsharp masking; strength 0.6 is the default."""

    strength: float = 0.6
    DEFAULT = 0.6

    def sentence(self) -> str:
        return "Sharpen" if self.strength == self.DEFAULT else f"Sharpen at {percent(self.strength)} strength"


@dataclass(frozen=True)
class Frame:
    """Crop ("crop") or extend ("extend") to an aspect ratio, centred on the subject when one is found."""

    aspect: tuple[int, int]
    mode: str = "crop"
    label: str | None = None

    def sentence(self) -> str:
        ratio = f"{self.aspect[0]}:{self.aspect[1]}"
        named = f" ({self.label})" if self.label else ""
        if self.mode == "extend":
            return f"Extend to {ratio}{named} without cropping"
        return f"Crop to {ratio}{named}, centred on the subject"


@dataclass(frozen=True)
class FrameSubject:
    """Re-frame around the subject: "tight" crops close to it, otherwise it is centred with a margin."""

    tight: bool

    def sentence(self) -> str:
        if self.tight:
            return "Crop close around the subject"
        return "Centre the subject"


@dataclass(frozen=True)
class Resize:
    """Nothing but the output size: the explicit "just resize" instruction."""

    def sentence(self) -> str:
        return "Resize to the chosen output size, with no other change"


Operation = (
    Rotate
    | Mirror
    | RemoveBackground
    | BackgroundColour
    | BackgroundGradient
    | BackgroundImage
    | BlurBackground
    | Shadow
    | NudgeSubject
    | Adjust
    | WhiteBalance
    | AutoLevels
    | BlackAndWhite
    | Sepia
    | MatchColours
    | Denoise
    | Sharpen
    | Frame
    | FrameSubject
    | Resize
)

OpT = TypeVar("OpT")

BACKGROUND_OPERATIONS = (RemoveBackground, BackgroundColour, BackgroundGradient, BackgroundImage, BlurBackground)
CUTOUT_OPERATIONS = (RemoveBackground, BackgroundColour, BackgroundGradient, BackgroundImage)
COLOUR_OPERATIONS = (Adjust, WhiteBalance, AutoLevels, BlackAndWhite, Sepia, MatchColours)

# The order the engine runs things in; the plan lists its steps in the same order.
EXECUTION_ORDER: tuple[type, ...] = (
    Rotate,
    Mirror,
    Denoise,
    RemoveBackground,
    BackgroundColour,
    BackgroundGradient,
    BackgroundImage,
    BlurBackground,
    NudgeSubject,
    MatchColours,
    WhiteBalance,
    AutoLevels,
    Adjust,
    BlackAndWhite,
    Sepia,
    Shadow,
    FrameSubject,
    Frame,
    Resize,
    Sharpen,
)


@dataclass
class EditPlan:
    """A parsed instruction: the operations to run and the constraints to honour."""

    operations: list[Operation] = field(default_factory=list)
    keep_colours: bool = False
    keep_background: bool = False
    keep_subject: bool = False
    keep_sharp: bool = False
    no_crop: bool = False
    keep_aspect: bool = False

    def ordered(self) -> list[Operation]:
        """The operations in the order the engine runs them."""
        rank = {kind: position for position, kind in enumerate(EXECUTION_ORDER)}
        return sorted(self.operations, key=lambda op: rank[type(op)])

    def find(self, kind: type[OpT]) -> list[OpT]:
        """The operations of one kind."""
        return [op for op in self.operations if isinstance(op, kind)]

    def background(self) -> Operation | None:
        """The one background operation, if any."""
        found = [op for op in self.operations if isinstance(op, BACKGROUND_OPERATIONS)]
        return found[0] if found else None

    def quarter_turns(self) -> int:
        """How many clockwise quarter turns the rotations add up to."""
        return sum(op.degrees // 90 for op in self.find(Rotate)) % 4

    def steps(self, main_size: tuple[int, int] | None = None) -> list[str]:
        """The sentences shown to a person: operations in running order, then the constraints kept.

        With the main image's size, a frame the picture must be fitted to although the instruction names
        none (a panorama wider than 3:1) is a step too.
        """
        ordered = self.ordered()
        sentences = [op.sentence() for op in ordered]
        fit = self.fit_sentence(main_size)
        if fit is not None:
            rank = {kind: position for position, kind in enumerate(EXECUTION_ORDER)}
            after = next((i for i, op in enumerate(ordered) if rank[type(op)] > rank[Frame]), len(ordered))
            sentences.insert(after, fit)
        if self.keep_colours:
            sentences.append("Keep the colours unchanged")
        if self.keep_background:
            sentences.append("Keep the background unchanged")
        if self.keep_subject and not self.keep_colours:
            sentences.append("Keep the subject unchanged")
        elif self.keep_sharp:
            sentences.append("Keep the subject sharp")
        if self.no_crop and not self.find(Frame) and fit is None:
            sentences.append("Keep the whole picture (extend rather than crop if the shape changes)")
        if self.keep_aspect:
            sentences.append("Keep the aspect ratio of the original")
        return sentences

    def fit_sentence(self, main_size: tuple[int, int] | None) -> str | None:
        """The step that fits a picture wider than 3:1 (or taller than 1:3) into the widest frame, when the
        instruction names no frame of its own; None when nothing noticeable is cut or added."""
        if main_size is None or self.find(Frame):
            return None
        width, height = main_size
        if self.quarter_turns() % 2 == 1:
            width, height = height, width
        source = width / height
        target = min(max(source, 1 / WIDEST_RATIO), WIDEST_RATIO)
        if 1 - min(target / source, source / target) <= NOTICEABLE_CUT:
            return None
        wide = source > 1
        shape = "3:1 (the widest frame)" if wide else "1:3 (the tallest frame)"
        if self.no_crop:
            return f"Extend the canvas to fit {shape}, keeping the whole picture"
        sides = "sides" if wide else "top and bottom"
        if isinstance(self.background(), CUTOUT_OPERATIONS):
            return f"Crop the {sides} to fit {shape}, or extend the new background if that would cut the subject"
        return f"Crop the {sides} to fit {shape}"

    def aspect(self, main_size: tuple[int, int] | None) -> tuple[int, int] | None:
        """The output aspect the instruction asks for, given the main image's size when known."""
        frames = self.find(Frame)
        if frames:
            return frames[-1].aspect
        if main_size is None:
            return None
        width, height = main_size
        if self.quarter_turns() % 2 == 1:
            return reduce_ratio(height, width)
        if self.keep_aspect:
            return reduce_ratio(width, height)
        return None
