"""The instruction parser: plain language in, an `EditPlan` out, or a refusal that quotes the clause.

It is deterministic and all-or-nothing. The text is cut into words and numbers (keeping their place in
the original, so a refusal can quote it exactly), phrases are read longest-first into concept tags (see
`vocabulary.py`), the tags are split into clauses at punctuation and conjunctions, and each clause must be
wholly accounted for by one family of operations: the background, the shadow, rotation, mirroring,
framing, colour matching, tone looks, detail, or colour adjustments; or be a negation ("don't crop") or a
constraint ("keep the colours"). A clause with a word that is neither filler nor understood refuses the
whole instruction, before anything is charged.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

from app.backends.base import BackendRefused
from app.backends.local import vocabulary as vocab
from app.backends.local.plan import (
    BACKGROUND_OPERATIONS,
    COLOUR_OPERATIONS,
    CUTOUT_OPERATIONS,
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
    Operation,
    RemoveBackground,
    Resize,
    Rotate,
    Sepia,
    Shadow,
    Sharpen,
    WhiteBalance,
    reduce_ratio,
)

# A refusal is one or two short sentences: why, and a few things that do work. The clause it is about is
# quoted separately (BackendRefused.clause), and the editor links the help page under it.
EXAMPLES = "Try e.g. “white background”, “make it warmer” or “crop to 16:9”."
GENERATIVE_MESSAGE = (
    "Adding, removing or restyling things in the picture needs a generative model, which the offline engine "
    "does not have; it changes backgrounds, colours and framing."
)

# Refusal codes (BackendRefused.code), stable for the API and the pages.
NOT_UNDERSTOOD = "instruction_not_understood"
GENERATIVE = "needs_generative_model"
CONTRADICTION = "contradictory_instruction"
BAD_REFERENCE = "bad_image_reference"
OUT_OF_RANGE = "value_out_of_range"
USE_SETTINGS = "use_settings"
NOTHING_TO_DO = "nothing_to_do"

INTENSITY_ADJUST = {vocab.SLIGHT: 0.1, vocab.NORMAL: 0.2, vocab.STRONG: 0.4, vocab.EXTREME: 0.6}
INTENSITY_BLUR = {vocab.SLIGHT: 0.3, vocab.NORMAL: 0.6, vocab.STRONG: 0.85, vocab.EXTREME: 1.0}
INTENSITY_SHADOW = {vocab.SLIGHT: 0.3, vocab.NORMAL: 0.5, vocab.STRONG: 0.7, vocab.EXTREME: 0.9}
INTENSITY_SHARPEN = {vocab.SLIGHT: 0.3, vocab.NORMAL: 0.6, vocab.STRONG: 1.0, vocab.EXTREME: 1.5}
INTENSITY_MATCH = {vocab.SLIGHT: 0.4, vocab.NORMAL: 0.7, vocab.STRONG: 0.9, vocab.EXTREME: 1.0}
INTENSITY_SEPIA = {vocab.SLIGHT: 0.5, vocab.NORMAL: 1.0, vocab.STRONG: 1.0, vocab.EXTREME: 1.0}
INTENSITY_SCALE = {vocab.SLIGHT: 0.5, vocab.NORMAL: 1.0, vocab.STRONG: 1.6, vocab.EXTREME: 2.2}

# Looks that expand into plain adjustments (the plan lists the expansion, so nothing is hidden).
RECIPES: dict[str, list[tuple[str, float]]] = {
    "vibrant": [("saturation", 0.25), ("contrast", 0.1)],
    "dramatic": [("contrast", 0.35), ("saturation", -0.1), ("brightness", -0.05)],
    "moody": [("brightness", -0.15), ("saturation", -0.2), ("warmth", -0.1), ("contrast", 0.1)],
    "vintage": [("sepia", 0.35), ("contrast", -0.15), ("saturation", -0.15)],
    "golden": [("warmth", 0.35), ("saturation", 0.1), ("brightness", 0.05)],
}

DETERMINERS = frozenset(["the", "my", "this", "our", "your", "his", "her", "their", "these", "those", "its"])
SUBJECT_SLOTS = frozenset(
    [
        "put",
        "place",
        "set",
        "move",
        "position",
        "show",
        "cut",
        "out",
        "isolate",
        "extract",
        "separate",
        "centre",
        "center",
        "keep",
        "leave",
        "preserve",
        "around",
        "behind",
        "under",
        "beneath",
        "below",
        "underneath",
        "of",
        "frame",
        "on",
        "crop",
        "zoom",
    ]
)
DELETE_VERBS = frozenset(
    ["remove", "removed", "removing", "delete", "deleted", "erase", "get", "rid", "take", "eliminate", "clear", "drop"]
)

TOKEN_RE = re.compile(
    r"""
    (?P<hex>\#[0-9a-f]{6}(?![0-9a-z])|\#[0-9a-f]{3}(?![0-9a-z]))
    |(?P<rgb>rgb\s*\(\s*\d{1,3}\s*,\s*\d{1,3}\s*,\s*\d{1,3}\s*\))
    |(?P<ratio>\d{1,3}(?:\.\d+)?\s*(?::|x|×|/)\s*\d{1,3}(?:\.\d+)?)(?![\d.%°])
    |(?P<tech>\d+(?:k|p|px|mp|dpi)\b)
    |(?P<number>[+\-−]?\d+(?:\.\d+)?)\s*(?P<unit>%|percent\b|per\s*cent\b|pct\b|°|degrees?\b|deg\b)?
    |(?P<word>[a-z]+(?:['’&/][a-z]+)*)
    |(?P<sep>[.;!?\n\r,()\[\]{}"“”|–—]+)
    |(?P<other>\S)
    """,
    re.VERBOSE,
)


@dataclass
class Token:
    """A tagged piece of the instruction with its span in the original text."""

    tag: str
    value: Any
    start: int
    end: int
    words: tuple[str, ...] = ()


@dataclass
class Clause:
    """A run of tokens between separators; `text` is the original wording, for quoting."""

    tokens: list[Token]
    text: str

    def tags(self, tag: str) -> list[Token]:
        return [token for token in self.tokens if token.tag == tag]

    def has(self, *tags: str) -> bool:
        return any(token.tag in tags for token in self.tokens)

    def words(self) -> list[str]:
        return [word for token in self.tokens for word in token.words]

    def content(self) -> list[Token]:
        """The tokens that ask for something (a destination such as "for amazon" is context, not a request)."""
        return [token for token in self.tokens if token.tag not in ("FILLER", "CONJ", "PURPOSE")]


@dataclass
class _Context:
    image_count: int
    prompt: str
    plan: EditPlan = field(default_factory=EditPlan)
    last_image: int | None = None
    last_direction: int | None = None
    last_intensity: list[Token] = field(default_factory=list)
    forbidden: dict[str, str] = field(default_factory=dict)
    """Operation family -> the clause that forbade it."""
    sources: dict[int, str] = field(default_factory=dict)
    """id(operation) -> the clause it came from, for quoting contradictions."""
    explicit_crop: set[int] = field(default_factory=set)
    constraint_clause: dict[str, str] = field(default_factory=dict)
    from_recipe: set[int] = field(default_factory=set)

    def add(self, operation: Operation, clause: Clause) -> None:
        self.plan.operations.append(operation)
        self.sources[id(operation)] = clause.text


def _refuse(message: str, code: str, clause: str | None) -> BackendRefused:
    return BackendRefused(message, code=code, clause=clause)


# ---------------------------------------------------------------------------------------------- lexing


def _lower_keep_length(text: str) -> str:
    # Offsets into the lowered text must be offsets into the original, so no character may change length.
    return "".join(ch.lower() if len(ch.lower()) == 1 else ch for ch in text)


def _number(text: str) -> float:
    return float(text.replace("−", "-"))


def _lex(prompt: str) -> list[Token]:
    text = _lower_keep_length(prompt)
    raw: list[Token] = []
    for match in TOKEN_RE.finditer(text):
        kind = next(
            name
            for name in ("hex", "rgb", "ratio", "tech", "number", "word", "sep", "other")
            if match.group(name) is not None
        )
        start, end = match.start(), match.end()
        if kind == "hex":
            code = match.group("hex")[1:]
            if len(code) == 3:
                code = "".join(ch * 2 for ch in code)
            rgb = tuple(int(code[i : i + 2], 16) for i in (0, 2, 4))
            raw.append(Token("COLOUR", rgb, start, end, (match.group("hex"),)))
        elif kind == "rgb":
            values = tuple(int(v) for v in re.findall(r"\d+", match.group("rgb")))
            if any(v > 255 for v in values):
                raw.append(Token("WORD", None, start, end, (match.group("rgb"),)))
            else:
                raw.append(Token("COLOUR", values, start, end, (match.group("rgb"),)))
        elif kind == "ratio":
            first, second = re.split(r"\s*(?::|x|×|/)\s*", match.group("ratio"))
            raw.append(Token("RATIO", (float(first), float(second)), start, end, (match.group("ratio"),)))
        elif kind == "number":
            value = _number(match.group("number"))
            unit = (match.group("unit") or "").replace(" ", "")
            signed = match.group("number")[0] in "+-−"
            if unit in ("%", "percent", "percent", "pct", "percent") or unit.startswith("per"):
                raw.append(Token("PCT", value, start, end, (match.group(0),)))
            elif unit:
                raw.append(Token("DEG", value, start, end, (match.group(0),)))
            else:
                raw.append(
                    Token(
                        "NUM",
                        value,
                        start,
                        end,
                        (match.group(0),),
                    )
                )
            if signed:
                raw[-1].words = ("signed",)
        elif kind == "tech":
            raw.append(Token("WORD", match.group("tech"), start, end, (match.group("tech"),)))
        elif kind == "word":
            word = match.group("word").replace("’", "'")
            if word.endswith("'s"):
                word = word[:-2]
            word = word.replace("'", "")
            if word in ("b&w", "b/w", "black&white"):
                raw.append(Token("WORD", word, start, end, ("bw",)))
            elif "&" in word or "/" in word:
                # "red&blue", "and/or": read the parts as separate words.
                for part in re.split(r"[&/]", word):
                    raw.append(Token("WORD", part, start, end, (part if part else "and",)))
            else:
                raw.append(Token("WORD", word, start, end, (word,)))
        elif kind == "sep":
            raw.append(Token("SEP", None, start, end, ()))
        elif match.group() == "&" or match.group() == "+":
            raw.append(Token("WORD", "and", start, end, ("and",)))
        else:
            raw.append(Token("WORD", match.group(), start, end, (match.group(),)))
    return raw


# --------------------------------------------------------------------------------------------- tagging


def _word(tokens: list[Token], index: int) -> str | None:
    if 0 <= index < len(tokens) and tokens[index].tag == "WORD":
        return tokens[index].words[0]
    return None


def _number_at(tokens: list[Token], index: int) -> float | None:
    if 0 <= index < len(tokens) and tokens[index].tag == "NUM":
        return float(tokens[index].value)
    word = _word(tokens, index)
    if word is not None and word in vocab.NUMBER_WORDS:
        return float(vocab.NUMBER_WORDS[word])
    return None


def _merge(tokens: list[Token], start: int, count: int, tag: str, value: object) -> Token:
    words = tuple(word for token in tokens[start : start + count] for word in token.words)
    return Token(tag, value, tokens[start].start, tokens[start + count - 1].end, words)


def _image_reference(tokens: list[Token], i: int) -> tuple[Token, int] | None:
    """An image reference starting at token i ("image 2", "the second photo", "the other one")."""
    word = _word(tokens, i)
    if word is None:
        return None
    nxt = _word(tokens, i + 1)
    if word in vocab.IMAGE_NOUNS - {"one", "reference", "upload", "file"}:
        offset = 2 if nxt in ("number", "no", "nr", "num") else 1
        if i + offset < len(tokens) and tokens[i + offset].tag == "WORD" and tokens[i + offset].words[0] == "#":
            offset += 1
        number = _number_at(tokens, i + offset)
        if number is not None and number == int(number):
            return _merge(tokens, i, offset + 1, "IMG", int(number)), offset + 1
    if word in vocab.ORDINALS and nxt in vocab.IMAGE_NOUNS:
        return _merge(tokens, i, 2, "IMG", vocab.ORDINALS[word]), 2
    if word in ("other", "another", "last", "final", "latter") and nxt in vocab.IMAGE_NOUNS:
        ref = "last" if word in ("last", "final", "latter") else "other"
        return _merge(tokens, i, 2, "IMG", ref), 2
    if word == "reference" and nxt in ("image", "photo", "picture", "pic", "one"):
        return _merge(tokens, i, 2, "IMG", "other"), 2
    return None


def _colour_at(tokens: list[Token], i: int) -> tuple[Token, int] | None:
    for length in (3, 2, 1):
        found = [_word(tokens, i + k) for k in range(length)]
        words = [w for w in found if w is not None]
        if len(words) < length:
            continue
        rgb = vocab.colour_from_words(words)
        if rgb is not None:
            return _merge(tokens, i, length, "COLOUR", rgb), length
    return None


def _phrase_at(tokens: list[Token], i: int) -> tuple[Token, int] | None:
    for length in range(vocab.MAX_PHRASE_WORDS, 0, -1):
        found = [_word(tokens, i + k) for k in range(length)]
        words = [w for w in found if w is not None]
        if len(words) < length:
            continue
        entry = vocab.PHRASES.get(" ".join(words))
        if entry is not None:
            return _merge(tokens, i, length, entry[0], entry[1]), length
    return None


EXCESS_TARGETS = frozenset(["ADJ", "BLUR", "NOISY", "SHARPEN", "SOFT", "STATE", "RECIPE"])


def _qualifies(raw: list[Token], i: int) -> bool:
    """Whether the words at i are something one can have too much of ("dark", "yellow", "blurry")."""
    phrase = _phrase_at(raw, i)
    if phrase is not None and phrase[0].tag in EXCESS_TARGETS:
        return True
    return _colour_at(raw, i) is not None


def _tag(raw: list[Token]) -> list[Token]:
    tagged: list[Token] = []
    i = 0
    while i < len(raw):
        token = raw[i]
        if token.tag != "WORD":
            # "16 by 9" is a ratio; "twenty percent" a percentage.
            if token.tag == "NUM" and _word(raw, i + 1) == "by" and _number_at(raw, i + 2) is not None:
                second = _number_at(raw, i + 2)
                tagged.append(_merge(raw, i, 3, "RATIO", (float(token.value), second)))
                i += 3
                continue
            if token.tag == "NUM" and _word(raw, i + 1) in ("percent", "pct", "per"):
                step = 3 if _word(raw, i + 1) == "per" and _word(raw, i + 2) == "cent" else 2
                tagged.append(_merge(raw, i, step, "PCT", token.value))
                i += step
                continue
            if token.tag == "NUM" and _word(raw, i + 1) in ("degrees", "degree", "deg"):
                tagged.append(_merge(raw, i, 2, "DEG", token.value))
                i += 2
                continue
            tagged.append(token)
            i += 1
            continue
        found = _image_reference(raw, i)
        if found is None:
            colour = _colour_at(raw, i)
            phrase = _phrase_at(raw, i)
            # The longer reading wins; on a tie a phrase ("white balance") beats a colour.
            found = colour if colour and (not phrase or colour[1] > phrase[1]) else phrase
        if found is not None:
            tagged.append(found[0])
            i += found[1]
            continue
        word = token.words[0]
        if word == "too" and _qualifies(raw, i + 1):
            # "too dark", "a bit too yellow": excess of what follows (elsewhere "too" means "also").
            tagged.append(Token("EXCESS", None, token.start, token.end, token.words))
            i += 1
            continue
        number = vocab.NUMBER_WORDS.get(word)
        if number is not None and _word(raw, i + 1) in ("percent", "pct"):
            tagged.append(_merge(raw, i, 2, "PCT", float(number)))
            i += 2
            continue
        if number is not None and _word(raw, i + 1) in ("degrees", "degree"):
            tagged.append(_merge(raw, i, 2, "DEG", float(number)))
            i += 2
            continue
        if word in vocab.CONJUNCTIONS:
            tagged.append(Token("CONJ", word, token.start, token.end, token.words))
        elif word in vocab.FILLER:
            tagged.append(Token("FILLER", word, token.start, token.end, token.words))
        elif number is not None:
            tagged.append(Token("NUM", float(number), token.start, token.end, token.words))
        else:
            tagged.append(token)
        i += 1
    return tagged


# ------------------------------------------------------------------------------------------- clauses


NEGATED_CONSTRAINTS = frozenset(["SHADOW", "CROP", "CHANGE", "BG", "SUBJECT", "WHOLE", "SOFT", "COLOURS", "INT"])


def _negated_constraint(before: list[Token], after: list[Token]) -> bool:
    """Whether a negation between `before` and `after` starts a constraint clause of its own."""
    asked = [t for t in before if t.tag not in ("FILLER", "PURPOSE", "SUBJECT")]
    if not asked or any(t.tag in ("NEG", "KEEP") for t in asked):
        return False
    rest = {t.tag for t in after if t.tag not in ("FILLER", "PURPOSE")}
    return bool(rest) and rest <= NEGATED_CONSTRAINTS and bool(rest & {"SHADOW", "CROP", "CHANGE", "SUBJECT"})


def _split(tokens: list[Token], prompt: str) -> list[Clause]:
    groups: list[list[Token]] = [[]]
    for index, token in enumerate(tokens):
        if token.tag == "SEP":
            groups.append([])
            continue
        if token.tag == "CONJ":
            before = next((t for t in reversed(tokens[:index]) if t.tag not in ("FILLER",)), None)
            after = next((t for t in tokens[index + 1 :] if t.tag not in ("FILLER",)), None)
            # "red and blue gradient": the conjunction joins two colours, not two clauses.
            if before is not None and after is not None and before.tag == after.tag == "COLOUR":
                groups[-1].append(Token("FILLER", token.value, token.start, token.end, token.words))
                continue
            groups.append([])
            continue
        groups[-1].append(token)
    # "white background with a soft shadow": the shadow is its own clause.
    split: list[list[Token]] = []
    for group in groups:
        cut = None
        for index, token in enumerate(group):
            # "Instagram story with a navy gradient background": what follows "with" is its own request,
            # unless the part before is the background itself ("replace the background with white").
            if (
                token.tag == "FILLER"
                and token.value == "with"
                and index > 0
                and not any(t.tag in ("BG", "REMOVE", "KEEP", "NEG") for t in group[:index])
                and any(t.tag not in ("FILLER", "SUBJECT") for t in group[:index])
                and any(t.tag in ("BG", "GRADIENT", "PORTRAIT") for t in group[index + 1 :])
            ):
                cut = index
                break
            if token.tag == "SHADOW":
                for back in range(index - 1, max(-1, index - 5), -1):
                    if group[back].tag == "FILLER" and group[back].value in ("with", "and", "plus"):
                        if any(t.tag not in ("FILLER",) for t in group[:back]):
                            cut = back
                        break
            # "white background without shadow", "warmer without changing the background": the negation
            # that follows a request is a constraint of its own.
            if token.tag == "NEG" and index > 0 and _negated_constraint(group[:index], group[index + 1 :]):
                cut = index - 1 if group[index - 1].tag == "FILLER" and group[index - 1].value == "with" else index
                break
        if cut is not None:
            split.extend([group[:cut], group[cut:]])
        else:
            split.append(group)
    clauses = []
    for group in split:
        if not any(t.tag != "FILLER" for t in group):
            continue
        text = prompt[group[0].start : group[-1].end].strip()
        clauses.append(Clause(group, text))
    return clauses


def _subject_slots(clause: Clause) -> None:
    """Read unknown nouns in a subject position as the subject: "put the bottle on white"."""
    tokens = clause.tokens
    for index, token in enumerate(tokens):
        if token.tag != "WORD":
            continue
        back = index - 1
        while back >= 0 and tokens[back].tag in ("WORD", "COLOUR", "SUBJECT") and back >= index - 3:
            back -= 1
        if back < 0 or tokens[back].tag != "FILLER" or tokens[back].value not in DETERMINERS:
            continue
        before = tokens[back - 1] if back >= 1 else None
        slot = (
            before is None
            or any(word in SUBJECT_SLOTS for word in before.words)
            or before.tag in ("REMOVE", "CENTRE", "CLOSE", "KEEP", "CROP", "SHADOW", "BG")
        )
        if not slot:
            continue
        # The noun phrase runs from the determiner to this word; it names the subject.
        for k in range(back + 1, index + 1):
            if tokens[k].tag in ("WORD", "COLOUR"):
                tokens[k] = Token("SUBJECT", None, tokens[k].start, tokens[k].end, tokens[k].words)


# ------------------------------------------------------------------------------------- interpretation


def _intensity(clause: Clause) -> str:
    levels = [token.value for token in clause.tags("INT")]
    if not levels:
        return vocab.NORMAL
    order = [vocab.SLIGHT, vocab.NORMAL, vocab.STRONG, vocab.EXTREME]
    # "very very" and "a lot more" stack; the strongest word wins.
    return max(levels, key=order.index)


def _percentage(clause: Clause, *, allow_numbers: bool = True) -> float | None:
    values = [token for token in clause.tokens if token.tag == "PCT" or (allow_numbers and token.tag == "NUM")]
    if not values:
        return None
    if len(values) > 1:
        raise _refuse(
            "It has more than one number; give one amount, e.g. “warmer by 20%”.", NOT_UNDERSTOOD, clause.text
        )
    return float(values[0].value)


def _strength(clause: Clause, table: dict[str, float], *, low: float = 0.05, high: float = 1.0) -> float:
    value = _percentage(clause)
    if value is None:
        return table[_intensity(clause)]
    if not 0 < abs(value) <= high * 100 or abs(value) < low * 100:
        raise _refuse(
            f"The amount must be between {round(low * 100)}% and {round(high * 100)}%.",
            OUT_OF_RANGE,
            clause.text,
        )
    return abs(value) / 100


def _leftover(clause: Clause, allowed: set[str]) -> None:
    extra = [token for token in clause.content() if token.tag not in allowed]
    if extra:
        raise _not_understood(clause, extra)


# Tags that name an operation the engine has: a clause with one of them and an unknown word is more likely
# a typo or an unknown qualifier ("square for instagrm") than a request for new content.
KNOWN_OPERATIONS = frozenset(
    [
        "ASPECT",
        "RATIO",
        "ADJ",
        "ATTR",
        "STATE",
        "BG",
        "CROP",
        "EXTEND",
        "ROTATE",
        "MIRROR",
        "BW",
        "SEPIA",
        "SHARPEN",
        "DENOISE",
        "BLUR",
        "PORTRAIT",
        "SHADOW",
        "ENHANCE",
        "WB",
    ]
)


def _generative(clause: Clause) -> BackendRefused:
    return _refuse(GENERATIVE_MESSAGE, GENERATIVE, clause.text)


def _not_understood(clause: Clause, extra: list[Token] | None = None) -> BackendRefused:
    words = clause.words()
    unknown = [t for t in (extra or []) if t.tag in ("WORD", "GENERATIVE")]
    transform = "into" in words and bool({"turn", "transform", "change", "convert"} & set(words))
    if any(t.tag == "GENERATIVE" for t in clause.tokens) or (
        unknown
        and (transform or (set(words) & vocab.GENERATIVE_VERBS and not clause.has(*KNOWN_OPERATIONS)))
    ):
        return _generative(clause)
    strange = [word for t in unknown for word in t.words if t.tag == "WORD"]
    if strange:
        listed = ", ".join(f"“{word}”" for word in dict.fromkeys(strange[:3]))
        return _refuse(f"The offline engine doesn't know {listed} here. {EXAMPLES}", NOT_UNDERSTOOD, clause.text)
    return _refuse(f"The offline engine can't tell what to do with this part. {EXAMPLES}", NOT_UNDERSTOOD, clause.text)


def _resolve_image(ctx: _Context, clause: Clause, token: Token | None, *, purpose: str) -> int:
    if token is None:
        if ctx.last_image is not None:
            return ctx.last_image
        if ctx.image_count == 2:
            return 2
        raise _refuse(
            f"Say which image to use for {purpose}, e.g. “image 2” (you sent {ctx.image_count}).",
            BAD_REFERENCE,
            clause.text,
        )
    ref = token.value
    if ref == "other":
        if ctx.image_count != 2:
            raise _refuse(
                f"“The other image” is clear only with exactly two images (you sent {ctx.image_count}); "
                f"name it by number, e.g. “image 2”.",
                BAD_REFERENCE,
                clause.text,
            )
        index = 2
    elif ref == "last":
        index = ctx.image_count
    else:
        index = int(ref)
    if (index == 1 or (ctx.image_count < 2 and index >= 1)) and index == 1:
        raise _refuse(
            f"Image 1 is the photo being edited; upload {purpose} as a second image and call it “image 2”.",
            BAD_REFERENCE,
            clause.text,
        )
    if not 1 <= index <= ctx.image_count:
        raise _refuse(
            f"There is no image {index}; you sent {ctx.image_count} image{'s' if ctx.image_count != 1 else ''}.",
            BAD_REFERENCE,
            clause.text,
        )
    ctx.last_image = index
    return index


def _background(ctx: _Context, clause: Clause) -> None:
    allowed = {
        "BG",
        "PORTRAIT",
        "TRANSPARENT",
        "REMOVE",
        "COLOUR",
        "GRADIENT",
        "GDIR",
        "BLUR",
        "IMG",
        "INT",
        "PCT",
        "NUM",
        "SUBJECT",
        "INC",
        "DEC",
        "SOFT",
        "PLAIN",
        "CHANGE",
        "MATCH",
    }
    images = clause.tags("IMG")
    colours = [token.value for token in clause.tags("COLOUR")]
    if clause.has("ADJ", "ATTR", "RECIPE", "BW", "SEPIA") and not clause.has("BLUR", "PORTRAIT", "IMG"):
        raise _refuse(
            "Colour changes apply to the whole photo; the background itself can be removed, replaced (a "
            "colour, a gradient or another image) or blurred.",
            NOT_UNDERSTOOD,
            clause.text,
        )
    formats_only = all(token.value == "format" for token in clause.tags("SETTING"))
    if clause.has("SETTING") and formats_only and clause.has("TRANSPARENT", "REMOVE"):
        allowed.add("SETTING")  # "a transparent PNG" asks for the cut-out, not for a format
    _leftover(clause, allowed)
    if images:
        if len(images) > 1 or colours or clause.has("BLUR", "GRADIENT", "TRANSPARENT"):
            raise _not_understood(clause)
        ctx.add(BackgroundImage(_resolve_image(ctx, clause, images[0], purpose="the background")), clause)
    elif clause.has("BLUR", "PORTRAIT"):
        if colours or clause.has("GRADIENT", "TRANSPARENT"):
            raise _not_understood(clause)
        if clause.has("DEC") and not clause.has("PCT", "NUM", "INT"):
            strength = INTENSITY_BLUR[vocab.SLIGHT]
        else:
            strength = _strength(clause, INTENSITY_BLUR)
        ctx.add(BlurBackground(strength), clause)
    elif clause.has("GRADIENT"):
        direction = next((str(t.value) for t in clause.tags("GDIR")), "vertical")
        if len(colours) == 2:
            ctx.add(BackgroundGradient(colours[0], colours[1], direction), clause)
        elif len(colours) == 1:
            base = colours[0]
            ctx.add(BackgroundGradient(vocab.lighter(base), base, direction), clause)
        else:
            raise _refuse(
                "Name the gradient's one or two colours, e.g. “a gradient from navy to teal”.",
                NOT_UNDERSTOOD,
                clause.text,
            )
    elif colours:
        if len(colours) > 1:
            words = clause.words()
            if len(colours) == 2 and "from" in words:
                colours = colours[1:]  # "change the background from white to blue"
            else:
                raise _refuse(
                    f"It names {len(colours)} colours; for a gradient say “a gradient from navy to teal”.",
                    NOT_UNDERSTOOD,
                    clause.text,
                )
        if clause.has("TRANSPARENT"):
            raise _not_understood(clause)
        ctx.add(BackgroundColour(colours[0]), clause)
    elif clause.has("TRANSPARENT") or clause.has("REMOVE"):
        ctx.add(RemoveBackground(), clause)
    elif clause.has("PLAIN"):
        ctx.add(BackgroundColour((255, 255, 255)), clause)
    else:
        raise _refuse(
            "Say what to do with the background, e.g. “remove the background”, “white background” or "
            "“blur the background”.",
            NOT_UNDERSTOOD,
            clause.text,
        )


def _shadow(ctx: _Context, clause: Clause) -> None:
    _leftover(clause, {"SHADOW", "INT", "PCT", "NUM", "SOFT", "INC", "DEC", "SUBJECT", "ADJ", "ATTR", "CHANGE"})
    for token in clause.tags("ADJ") + clause.tags("ATTR"):
        kind = token.value[0] if isinstance(token.value, tuple) else token.value
        if kind != "brightness":
            raise _not_understood(clause)
    level = _intensity(clause)
    # "a light shadow", "a darker shadow": the shade word is the intensity.
    for token in clause.tags("ADJ"):
        level = vocab.STRONG if token.value[1] < 0 else vocab.SLIGHT
    if clause.tags("ATTR"):
        level = vocab.SLIGHT
    value = _percentage(clause)
    strength = _strength(clause, INTENSITY_SHADOW) if value is not None else INTENSITY_SHADOW[level]
    ctx.add(Shadow(strength), clause)


def _rotate(ctx: _Context, clause: Clause) -> None:
    _leftover(clause, {"ROTATE", "DEG", "NUM", "DIR", "UPSIDE", "CHANGE"})
    numbers = [float(t.value) for t in clause.tokens if t.tag in ("DEG", "NUM")]
    if clause.has("UPSIDE"):
        degrees = 180.0
    elif numbers:
        degrees = numbers[0]
    else:
        degrees = 90.0
    if len(numbers) > 1 or degrees % 90 != 0 or degrees == 0:
        raise _refuse("Rotation works in steps of 90° (90, 180 or 270).", OUT_OF_RANGE, clause.text)
    turns = int(degrees // 90) % 4
    if any(t.value == "ccw" for t in clause.tags("DIR")):
        turns = (4 - turns) % 4
    if turns == 0:
        raise _refuse(
            "That turns the picture a full circle; nothing would change.", OUT_OF_RANGE, clause.text
        )
    ctx.add(Rotate(turns * 90), clause)


def _mirror(ctx: _Context, clause: Clause) -> None:
    _leftover(clause, {"MIRROR", "AXIS", "GDIR", "UPSIDE", "CHANGE", "SUBJECT"})
    axes = {str(t.value) for t in clause.tags("AXIS") + clause.tags("GDIR")}
    if clause.has("UPSIDE"):
        axes.add("vertical")
    if len(axes) > 1 or axes - {"horizontal", "vertical"}:
        raise _not_understood(clause)
    ctx.add(Mirror(axes.pop() if axes else "horizontal"), clause)


def _aspect_of(clause: Clause) -> tuple[tuple[int, int], str | None] | None:
    found: list[tuple[tuple[int, int], str | None]] = []
    for token in clause.tags("ASPECT"):
        found.append(token.value)
    for token in clause.tags("RATIO"):
        first, second = token.value
        if first <= 0 or second <= 0:
            raise _refuse("That is not an aspect ratio.", OUT_OF_RANGE, clause.text)
        if first != int(first) or second != int(second):
            ratio = reduce_ratio(round(first * 100), round(second * 100))
        else:
            ratio = (int(first), int(second))  # as written: "21:9" stays 21:9
        found.append((ratio, None))
    if not found:
        return None
    if len({item[0] for item in found}) > 1:
        raise _refuse("It names two different shapes; choose one.", CONTRADICTION, clause.text)
    (width, height), label = found[0]
    if max(width, height) / min(width, height) > 3.0001:
        named = f"{label} is" if label else "That is"
        raise _refuse(
            f"{named} {width}:{height}; shapes up to 3:1 (or 1:3) are supported.", OUT_OF_RANGE, clause.text
        )
    return (width, height), label


def _framing(ctx: _Context, clause: Clause) -> None:
    _leftover(
        clause,
        {
            "CROP",
            "EXTEND",
            "ASPECT",
            "RATIO",
            "SUBJECT",
            "CENTRE",
            "CLOSE",
            "MARGIN",
            "RATIO_WORD",
            "CHANGE",
            "NOOP",
            "INC",
            "WHOLE",
            "PLAIN",
        },
    )
    aspect = _aspect_of(clause)
    if aspect is not None:
        ratio, label = aspect
        mode = "extend" if clause.has("EXTEND") else "crop"
        if clause.has("CLOSE", "CENTRE", "MARGIN"):
            ctx.add(FrameSubject(tight=clause.has("CLOSE")), clause)
        elif label in vocab.CENTRED_PRESETS:
            ctx.add(FrameSubject(tight=False), clause)  # a profile photo is about the face
        frame = Frame(ratio, mode, label)
        ctx.add(frame, clause)
        if clause.has("CROP"):
            ctx.explicit_crop.add(id(frame))
        return
    if clause.has("CLOSE"):
        ctx.add(FrameSubject(tight=True), clause)
    elif clause.has("CENTRE") or (clause.has("MARGIN") and clause.has("SUBJECT", "EXTEND", "INC")):
        ctx.add(FrameSubject(tight=False), clause)
    elif clause.has("NOOP"):
        ctx.add(Resize(), clause)
    else:
        raise _refuse(
            "Say the shape, e.g. “crop to 16:9”, “square” or “Instagram story”, or “crop close around the "
            "subject”.",
            NOT_UNDERSTOOD,
            clause.text,
        )


def _match(ctx: _Context, clause: Clause) -> None:
    _leftover(clause, {"MATCH", "COLOURS", "MOOD", "IMG", "INT", "PCT", "NUM", "CHANGE", "INC", "KEEP"})
    images = clause.tags("IMG")
    if len(images) > 1:
        raise _not_understood(clause)
    index = _resolve_image(ctx, clause, images[0] if images else None, purpose="the colour reference")
    ctx.add(MatchColours(index, _strength(clause, INTENSITY_MATCH)), clause)


def _recipe(ctx: _Context, clause: Clause, name: str, scale: float) -> None:
    for kind, amount in RECIPES[name]:
        op: Operation
        if kind == "sepia":
            op = Sepia(round(min(1.0, amount * scale), 2))
        else:
            op = Adjust(kind, round(max(-1.0, min(1.0, amount * scale)), 2))
        ctx.add(op, clause)
        ctx.from_recipe.add(id(op))


def _tone(ctx: _Context, clause: Clause) -> None:
    _leftover(
        clause, {"BW", "SEPIA", "RECIPE", "ENHANCE", "INT", "PCT", "NUM", "CHANGE", "COLOURS", "MOOD", "INC", "CONVERT"}
    )
    families = sum(1 for tag in ("BW", "SEPIA", "RECIPE", "ENHANCE") if clause.has(tag))
    if families > 1 or len(clause.tags("RECIPE")) > 1:
        raise _not_understood(clause)
    if clause.has("BW"):
        if clause.has("PCT", "NUM") or _intensity(clause) != vocab.NORMAL:
            raise _refuse(
                "Black and white has no strength; for a partial effect say “reduce saturation by 50%”.",
                NOT_UNDERSTOOD,
                clause.text,
            )
        ctx.add(BlackAndWhite(), clause)
    elif clause.has("SEPIA"):
        ctx.add(Sepia(_strength(clause, INTENSITY_SEPIA)), clause)
    elif clause.has("ENHANCE"):
        _leftover(clause, {"ENHANCE", "CHANGE", "COLOURS"})
        ctx.add(AutoLevels(), clause)
    else:
        value = _percentage(clause)
        scale = value / 100 if value is not None else INTENSITY_SCALE[_intensity(clause)]
        if not 0 < scale <= 2.5:
            raise _refuse("The amount must be between 1% and 250%.", OUT_OF_RANGE, clause.text)
        _recipe(ctx, clause, str(clause.tags("RECIPE")[0].value), scale)


def _detail(ctx: _Context, clause: Clause) -> None:
    _leftover(
        clause,
        {
            "SHARPEN",
            "DENOISE",
            "NOISY",
            "ATTR",
            "INC",
            "DEC",
            "EXCESS",
            "LACK",
            "REMOVE",
            "INT",
            "PCT",
            "NUM",
            "CHANGE",
            "BLUR",
            "SOFT",
            "SUBJECT",
        },
    )
    kinds = {token.value for token in clause.tags("ATTR")}
    if kinds - {"sharpness", "noise"}:
        raise _not_understood(clause)
    if clause.has("DENOISE", "NOISY") or "noise" in kinds:
        if clause.has("SHARPEN"):
            raise _not_understood(clause)
        # "denoise", "too noisy", "remove grain", "noise reduction" reduce it; "more grain", "make it grainy"
        # would add it.
        if clause.has("DENOISE"):
            adds = False
        elif clause.has("INC", "LACK"):
            adds = True
        else:
            adds = clause.has("NOISY") and not clause.has("DEC", "EXCESS", "REMOVE")
        if adds:
            raise _refuse("Adding noise or grain is not supported; “reduce noise” is.", NOT_UNDERSTOOD, clause.text)
        if _intensity(clause) in (vocab.STRONG, vocab.EXTREME) or clause.has("PCT", "NUM"):
            raise _refuse(
                "Only a light noise reduction is available offline; say “reduce noise”.",
                OUT_OF_RANGE,
                clause.text,
            )
        ctx.add(Denoise(), clause)
        return
    # Sharpness goes up with "sharpen", "not sharp enough", "too blurry", "remove the blur", "more detail".
    target = next((i for i, t in enumerate(clause.tokens) if t.tag == "SHARPEN"), None)
    base = 1
    if target is None:
        target = next((i for i, t in enumerate(clause.tokens) if t.tag in ("BLUR", "SOFT")), None)
        base = -1  # blur is the opposite of sharpness
    if target is not None:
        modifier = _polarity(clause, target, before_only=True)
        if base == -1 and clause.has("REMOVE"):
            modifier = -1
        up = base * (modifier or 1)
    else:
        up = _polarity(clause, -1, before_only=False) or 1
    if up < 0:
        raise _refuse(
            "Softening the whole photo is not supported; to blur only the background say “blur the "
            "background”.",
            NOT_UNDERSTOOD,
            clause.text,
        )
    ctx.add(Sharpen(_strength(clause, INTENSITY_SHARPEN, high=2.0)), clause)


# Words that set the direction of a change: "more", "reduce", "too" (move away), "not enough" (move toward).
DIRECTIONS = {"INC": 1, "DEC": -1, "EXCESS": -1, "LACK": 1}


def _direction(token: Token) -> int:
    """+1, -1 or 0: the direction a modifier word gives ("a bit less" hides one inside an intensity)."""
    if token.tag in DIRECTIONS:
        return DIRECTIONS[token.tag]
    if token.tag == "INT":
        if "more" in token.words:
            return 1
        if "less" in token.words:
            return -1
    return 0


def _polarity(clause: Clause, index: int, *, before_only: bool) -> int | None:
    """The one direction the modifiers of the target at `index` give, or None when there is none.

    Each modifier says the same thing once ("less saturated": less; "too dark": away from dark); two that
    disagree ("increase it less") make the clause unclear, and it is refused rather than guessed.
    """
    signs = {
        _direction(token)
        for position, token in enumerate(clause.tokens)
        if position != index and (position < index or not before_only or token.tag in ("EXCESS", "LACK"))
    } - {0}
    if len(signs) > 1:
        raise _refuse(
            "It says both more and less; say one direction, e.g. “less saturated” or “more contrast”.",
            NOT_UNDERSTOOD,
            clause.text,
        )
    return signs.pop() if signs else None


def _adjust(ctx: _Context, clause: Clause) -> None:
    _leftover(
        clause,
        {
            "ADJ",
            "ATTR",
            "STATE",
            "INC",
            "DEC",
            "EXCESS",
            "LACK",
            "INT",
            "PCT",
            "NUM",
            "COLOURS",
            "MOOD",
            "CHANGE",
            "SOFT",
            "SUBJECT",
        },
    )
    value = _percentage(clause)
    signed = next((t for t in clause.tokens if t.tag in ("PCT", "NUM") and t.words == ("signed",)), None)
    number_sign = -1 if signed is not None and float(signed.value) < 0 else 1
    targets = [(i, t) for i, t in enumerate(clause.tokens) if t.tag in ("ADJ", "ATTR", "STATE")]
    if not targets:
        # "boost the colours", "less colour", "too much colour": the colours' strength is saturation.
        targets = [
            (i, Token("ATTR", "saturation", t.start, t.end, t.words))
            for i, t in enumerate(clause.tokens)
            if t.tag == "COLOURS"
        ][:1]
    requests: list[tuple[str, int]] = []
    for index, token in targets:
        if token.tag == "ADJ":
            # An adjective has its own direction ("darker"); a modifier before it turns it once ("less
            # dark", "too dark"). A comparative after it ("darken it a bit more") is only intensity.
            kind, base = token.value
            modifier = _polarity(clause, index, before_only=True)
            sign = base * (modifier or 1) * number_sign
        elif token.tag == "STATE":
            # "overexposed" is already a complaint: the fix goes the other way, whatever the modifiers.
            kind, base = token.value
            if _polarity(clause, index, before_only=False) == 1 and not clause.has("LACK"):
                raise _not_understood(clause)
            sign = -base
        else:
            kind = str(token.value)
            if kind not in ("brightness", "contrast", "saturation", "warmth"):
                raise _not_understood(clause)
            modifier = _polarity(clause, index, before_only=False)
            if modifier is not None:
                sign = modifier * number_sign
            elif signed is not None:
                sign = number_sign
            elif ctx.last_direction is not None:
                sign = ctx.last_direction  # "increase the contrast and saturation"
            else:
                raise _refuse(
                    "Say whether to increase or decrease it, e.g. “more contrast”.", NOT_UNDERSTOOD, clause.text
                )
            if set(token.words) & vocab.INVERSE_ATTRIBUTES:
                sign = -sign  # "reduce the darkness" brightens
        requests.append((kind, sign))
    if not requests:
        raise _not_understood(clause)
    if value is not None:
        if not 0 < abs(value) <= 100:
            raise _refuse("The amount must be between 1% and 100%.", OUT_OF_RANGE, clause.text)
        amount = abs(value) / 100
    else:
        amount = INTENSITY_ADJUST[_intensity(clause)]
    for kind, sign in requests:
        ctx.add(Adjust(kind, round(sign * amount, 4)), clause)
    ctx.last_direction = requests[-1][1]


INTENSITY_NEUTRALISE = {vocab.SLIGHT: 0.5, vocab.NORMAL: 1.0, vocab.STRONG: 1.0, vocab.EXTREME: 1.0}


def _cast_axis(token: Token) -> tuple[str, int, str, tuple[float, float]] | None:
    """How a named colour sits on the engine's colour axes: (adjustment kind, sign toward the colour, its
    name, its unit (a, b) direction in Lab); None for white, grey and black, which are no cast."""
    red, green, blue = (channel / 255.0 for channel in token.value)
    lab = cv2.cvtColor(np.array([[[red, green, blue]]], np.float32), cv2.COLOR_RGB2Lab)[0, 0]
    a, b = float(lab[1]), float(lab[2])
    chroma = math.hypot(a, b)
    if chroma < 12:
        return None
    name = " ".join(vocab.ISH_COLOURS.get(word, word) for word in token.words)
    # By hue angle in Lab: red, orange, yellow and brown lie on the warm side of the warmth axis, cyan
    # and blue on the cool side; green and magenta (pink, purple) are the two ends of the tint axis.
    angle = math.degrees(math.atan2(b, a)) % 360
    direction = (a / chroma, b / chroma)
    if 25 <= angle < 115:
        return "warmth", 1, name, direction
    if 115 <= angle < 190:
        return "tint", -1, name, direction
    if 190 <= angle < 318:
        return "warmth", -1, name, direction
    return "tint", 1, name, direction


def _cast(ctx: _Context, clause: Clause) -> None:
    """ "less yellow" (a shift along the warmth or tint axis), "remove the green tint" (neutralise that
    cast as measured), "fix the white balance" (neutralise any cast)."""
    _leftover(
        clause,
        {
            "COLOUR",
            "COLOURS",
            "CAST",
            "WB",
            "FIX",
            "REMOVE",
            "INC",
            "DEC",
            "EXCESS",
            "LACK",
            "INT",
            "PCT",
            "NUM",
            "CHANGE",
        },
    )
    colours = [(i, t) for i, t in enumerate(clause.tokens) if t.tag == "COLOUR"]
    if len(colours) > 1:
        raise _refuse("Name one colour cast at a time, e.g. “less yellow”.", NOT_UNDERSTOOD, clause.text)
    axis = _cast_axis(colours[0][1]) if colours else None
    if colours and axis is None:
        raise _refuse(
            "White, grey and black are no colour cast; say e.g. “less yellow” or “fix the white balance”.",
            NOT_UNDERSTOOD,
            clause.text,
        )
    if clause.has("WB", "FIX", "REMOVE") and not clause.has("INC", "LACK", "DEC", "EXCESS"):
        strength = _strength(clause, INTENSITY_NEUTRALISE)
        if axis is None:
            ctx.add(WhiteBalance(strength=strength), clause)
        else:
            ctx.add(WhiteBalance(axis[2], (round(axis[3][0], 4), round(axis[3][1], 4)), strength), clause)
        return
    if axis is None:
        raise _not_understood(clause)
    kind, toward, _name, _direction_ab = axis
    direction = _polarity(clause, colours[0][0], before_only=False)
    if direction is None:
        raise _refuse(
            "Say which way, e.g. “less yellow”, “too green” or “remove the yellow tint”.", NOT_UNDERSTOOD, clause.text
        )
    value = _percentage(clause)
    if value is not None and not 0 < abs(value) <= 100:
        raise _refuse("The amount must be between 1% and 100%.", OUT_OF_RANGE, clause.text)
    amount = abs(value) / 100 if value is not None else INTENSITY_ADJUST[_intensity(clause)]
    ctx.add(Adjust(kind, round(toward * direction * amount, 4)), clause)


def _negation(ctx: _Context, clause: Clause) -> None:
    rest = [t for t in clause.content() if t.tag != "NEG"]
    tags = {t.tag for t in rest}
    words = clause.words()
    negator = next((t for t in clause.tokens if t.tag == "NEG"), None)
    negator_words = set(negator.words) if negator else set()
    if tags == {"BG"} and negator_words & {"no", "without"}:
        ctx.add(RemoveBackground(), clause)  # "no background", "without a background"
        return
    if tags <= {"CROP", "WHOLE", "SUBJECT", "CHANGE", "INT"} and "CROP" in tags:
        ctx.plan.no_crop = True
        ctx.constraint_clause["no_crop"] = clause.text
        return
    if "SHADOW" in tags and tags <= {"SHADOW", "INC", "CHANGE", "SUBJECT", "SOFT", "INT"}:
        ctx.forbidden["shadow"] = clause.text
        return
    if "COLOURS" in tags and tags <= {"COLOURS", "CHANGE", "SUBJECT", "INC", "DEC", "INT", "BG"} and "BG" not in tags:
        ctx.plan.keep_colours = True
        ctx.constraint_clause["keep_colours"] = clause.text
        return
    if "BG" in tags and tags <= {"BG", "CHANGE", "REMOVE", "INT", "SUBJECT", "COLOURS", "BLUR", "PORTRAIT"}:
        if tags & {"BLUR", "PORTRAIT"} and not tags & {"CHANGE", "REMOVE"}:
            ctx.forbidden["blur"] = clause.text
            return
        ctx.plan.keep_background = True
        ctx.constraint_clause["keep_background"] = clause.text
        return
    if "SUBJECT" in tags and tags <= {"SUBJECT", "CHANGE", "INT", "COLOURS"}:
        ctx.plan.keep_subject = True
        ctx.constraint_clause["keep_subject"] = clause.text
        return
    if "RATIO_WORD" in tags and tags <= {"RATIO_WORD", "CHANGE"}:
        ctx.plan.keep_aspect = True
        ctx.constraint_clause["keep_aspect"] = clause.text
        return
    if tags <= {"CHANGE", "WHOLE"} and tags:
        return  # "don't change anything else": nothing beyond the plan is changed anyway
    families = {
        "ROTATE": "rotate",
        "MIRROR": "mirror",
        "BLUR": "blur",
        "PORTRAIT": "blur",
        "SHARPEN": "sharpen",
        "DENOISE": "denoise",
        "BW": "bw",
        "SEPIA": "sepia",
        "EXTEND": "extend",
        "RECIPE": "recipe",
    }
    for tag, family in families.items():
        if tag in tags and tags <= {tag, "CHANGE", "INC", "INT", "SUBJECT", "DIR", "AXIS", "DEG", "NUM"}:
            ctx.forbidden[family] = clause.text
            return
    kinds = {t.value[0] for t in rest if t.tag == "ADJ"} | {t.value for t in rest if t.tag == "ATTR"}
    if kinds and tags <= {"ADJ", "ATTR", "CHANGE", "INC", "DEC", "INT", "COLOURS"}:
        for kind in kinds:
            ctx.forbidden[f"adjust:{kind}"] = clause.text
        return
    del words
    raise _not_understood(clause, rest)


def _keep(ctx: _Context, clause: Clause) -> None:
    rest = [t for t in clause.content() if t.tag != "KEEP"]
    tags = {t.tag for t in rest}
    if not tags or (tags <= {"CHANGE", "WHOLE"} and "WHOLE" not in tags):
        return  # "keep everything else as it is"
    if "COLOURS" in tags and tags <= {"COLOURS", "SUBJECT", "MOOD"}:
        ctx.plan.keep_colours = True
        ctx.constraint_clause["keep_colours"] = clause.text
        return
    if "BG" in tags and tags <= {"BG", "SUBJECT"}:
        ctx.plan.keep_background = True
        ctx.constraint_clause["keep_background"] = clause.text
        return
    if "RATIO_WORD" in tags and tags <= {"RATIO_WORD", "WHOLE"}:
        ctx.plan.keep_aspect = True
        ctx.constraint_clause["keep_aspect"] = clause.text
        return
    if "WHOLE" in tags and tags <= {"WHOLE", "SUBJECT", "CROP"}:
        ctx.plan.no_crop = True
        ctx.constraint_clause["no_crop"] = clause.text
        return
    if tags & {"SUBJECT", "SHARPEN"} and tags <= {"SUBJECT", "SHARPEN", "WHOLE", "CENTRE"}:
        if "SHARPEN" in tags:
            # "keep me sharp", "keep the face in focus": the subject is never blurred or softened, and its
            # colours may still change with the rest of the photo.
            ctx.plan.keep_sharp = True
        else:
            ctx.plan.keep_subject = True
            ctx.constraint_clause["keep_subject"] = clause.text
        if "CENTRE" in tags:
            ctx.add(FrameSubject(tight=False), clause)
        return
    kinds = {t.value[0] for t in rest if t.tag == "ADJ"} | {t.value for t in rest if t.tag == "ATTR"}
    if kinds and tags <= {"ADJ", "ATTR"}:
        for kind in kinds:
            ctx.forbidden[f"adjust:{kind}"] = clause.text
        return
    raise _not_understood(clause, rest)


def _lack(clause: Clause) -> Clause:
    """Read "not … enough" as one word of lack ("not bright enough" = needs more brightness)."""
    if not clause.has("ENOUGH"):
        return clause
    tokens = list(clause.tokens)
    negation = next((i for i, t in enumerate(tokens) if t.tag == "NEG"), None)
    for index, token in enumerate(tokens):
        if token.tag == "ENOUGH":
            tokens[index] = Token("FILLER", "enough", token.start, token.end, token.words)
    if negation is not None:
        token = tokens[negation]
        tokens[negation] = Token("LACK", None, token.start, token.end, token.words)
    return Clause(tokens, clause.text)


def _is_cast(clause: Clause) -> bool:
    """A colour cast to correct or shift: "less yellow", "remove the green tint", "fix the white balance"."""
    if clause.has("ADJ", "ATTR", "STATE", "SUBJECT", "BG", "IMG", "MATCH"):
        return False
    if clause.has("WB"):
        return True
    if clause.has("CAST") and clause.has("FIX", "REMOVE"):
        return True
    return clause.has("COLOUR") and (
        clause.has("CAST", "FIX", "REMOVE", "COLOURS") or any(_direction(t) for t in clause.tokens)
    )


def _interpret(ctx: _Context, clause: Clause) -> None:
    _subject_slots(clause)
    has = clause.has
    if has("GENERATIVE"):
        raise _not_understood(clause)
    if has("SETTING") and not (has("TRANSPARENT") or (has("REMOVE") and has("BG"))):
        kind = next(str(t.value) for t in clause.tags("SETTING"))
        what = "Resolution (1K, 2K or 4K)" if kind == "resolution" else "The file format (PNG, JPEG or WebP)"
        raise _refuse(
            f"{what} is chosen in the edit settings, not in the instruction.",
            USE_SETTINGS,
            clause.text,
        )
    unknown = clause.tags("WORD")
    if unknown:
        raise _not_understood(clause, unknown)
    clause = _lack(clause)
    has = clause.has
    # "square white background", "16:9 black and white": a shape named alongside another request.
    shapes = [t for t in clause.tokens if t.tag in ("ASPECT", "RATIO")]
    others = [t for t in clause.content() if t.tag not in ("ASPECT", "RATIO", "SUBJECT", "CHANGE", "INC")]
    if (
        shapes
        and others
        and (has("NEG") or not has("CROP", "EXTEND", "CENTRE", "CLOSE", "MARGIN", "NOOP", "KEEP", "ROTATE"))
    ):
        _framing(ctx, Clause(shapes, clause.text))
        clause = Clause([t for t in clause.tokens if t not in shapes], clause.text)
        has = clause.has
    if has("NEG"):
        _negation(ctx, clause)
        return
    images = clause.tags("IMG")
    if images and has("COLOURS", "MOOD", "MATCH") and not has("BG"):
        _match(ctx, clause)
    elif has("KEEP"):
        _keep(ctx, clause)
    elif (
        has("BG", "PORTRAIT", "TRANSPARENT", "GRADIENT")
        or (
            # "put the shoe on white" (but "make the product red" recolours the product: not offered)
            has("COLOUR") and has("SUBJECT") and bool(set(clause.words()) & {"on", "onto", "against", "over"})
        )
        or (
            has("REMOVE")
            and any(t.value == "cutout" for t in clause.tags("REMOVE"))
            and not has("SHADOW", "DENOISE", "ATTR")
        )
    ):
        if has("SHADOW"):
            raise _not_understood(clause)
        _background(ctx, clause)
    elif images and has("SUBJECT"):
        # "put the product on image 2", "place her in front of the other photo"
        _leftover(clause, {"IMG", "SUBJECT", "CHANGE", "INC"})
        ctx.add(BackgroundImage(_resolve_image(ctx, clause, images[0], purpose="the background")), clause)
    elif has("SHADOW"):
        _shadow(ctx, clause)
    elif has("MIRROR"):
        _mirror(ctx, clause)
    elif _is_cast(clause):
        _cast(ctx, clause)
    elif has("ROTATE", "DEG", "UPSIDE"):
        _rotate(ctx, clause)
    elif has("CROP", "EXTEND", "ASPECT", "RATIO", "CENTRE", "CLOSE", "MARGIN", "NOOP"):
        _framing(ctx, clause)
    elif (has("MATCH") and has("COLOURS", "MOOD")) or images:
        _match(ctx, clause)
    elif has("BW", "SEPIA", "RECIPE", "ENHANCE"):
        _tone(ctx, clause)
    elif (
        has("SHARPEN", "DENOISE", "NOISY")
        or any(t.value in ("sharpness", "noise") for t in clause.tags("ATTR"))
        or (has("BLUR", "SOFT") and has("EXCESS", "DEC", "REMOVE"))
    ):
        _detail(ctx, clause)
    elif has("ADJ", "ATTR", "STATE") or (has("COLOURS") and any(_direction(t) for t in clause.tokens)):
        _adjust(ctx, clause)
    elif (has("REMOVE") and has("SUBJECT")) or (has("COLOUR") and has("SUBJECT")):
        raise _generative(clause)
    else:
        raise _not_understood(clause, clause.content())


# ------------------------------------------------------------------------------------------ checking


def _family(op: Operation) -> str:
    if isinstance(op, Adjust):
        return f"adjust:{op.kind}"
    return {
        Rotate: "rotate",
        Mirror: "mirror",
        BlurBackground: "blur",
        Sharpen: "sharpen",
        Denoise: "denoise",
        BlackAndWhite: "bw",
        Sepia: "sepia",
        Shadow: "shadow",
    }.get(type(op), type(op).__name__)


def _contradiction(first: str, second: str) -> BackendRefused:
    return _refuse(f"It contradicts “{first}”; remove one of the two.", CONTRADICTION, second)


def _check(ctx: _Context) -> EditPlan:
    duplicate: Operation
    plan = ctx.plan
    ops = plan.operations
    source = ctx.sources

    for op in ops:
        family = _family(op)
        if family in ctx.forbidden:
            raise _contradiction(source[id(op)], ctx.forbidden[family])
        if isinstance(op, Frame) and op.mode == "extend" and "extend" in ctx.forbidden:
            raise _contradiction(source[id(op)], ctx.forbidden["extend"])

    backgrounds = [op for op in ops if isinstance(op, BACKGROUND_OPERATIONS)]
    if len(set(backgrounds)) > 1:
        raise _contradiction(source[id(backgrounds[0])], source[id(backgrounds[-1])])
    for duplicate in backgrounds[1:]:
        ops.remove(duplicate)
    background = backgrounds[0] if backgrounds else None
    if background is not None and plan.keep_background:
        raise _contradiction(ctx.constraint_clause["keep_background"], source[id(background)])

    shadows = plan.find(Shadow)
    if shadows and not isinstance(background, CUTOUT_OPERATIONS):
        raise _refuse(
            "A shadow goes under a cut-out subject on a new background; combine the two, e.g. “white "
            "background with a soft shadow”.",
            NOT_UNDERSTOOD,
            source[id(shadows[0])],
        )
    for duplicate in shadows[1:]:
        if duplicate != shadows[0]:
            raise _contradiction(source[id(shadows[0])], source[id(duplicate)])
        ops.remove(duplicate)

    colour_ops = [op for op in ops if isinstance(op, COLOUR_OPERATIONS)]
    if plan.keep_colours and colour_ops:
        raise _contradiction(ctx.constraint_clause["keep_colours"], source[id(colour_ops[0])])
    if plan.keep_subject and colour_ops:
        raise _contradiction(ctx.constraint_clause["keep_subject"], source[id(colour_ops[0])])
    if bool(plan.find(BlackAndWhite)) and bool(plan.find(Sepia)):
        raise _contradiction(source[id(plan.find(BlackAndWhite)[0])], source[id(plan.find(Sepia)[0])])
    for kind in ("bw", "sepia"):
        found = [op for op in ops if _family(op) == kind]
        for duplicate in found[1:]:
            ops.remove(duplicate)
    singles: list[Operation] = [*plan.find(Denoise)[1:], *plan.find(AutoLevels)[1:], *plan.find(Resize)[1:]]
    for duplicate in singles:
        ops.remove(duplicate)
    matches = plan.find(MatchColours)
    if len(set(matches)) > 1:
        raise _contradiction(source[id(matches[0])], source[id(matches[-1])])
    for duplicate in matches[1:]:
        ops.remove(duplicate)
    sharpens = plan.find(Sharpen)
    if len(sharpens) > 1:
        total = min(2.0, sum(op.strength for op in sharpens))
        for op in sharpens:
            ops.remove(op)
        merged = Sharpen(round(total, 4))
        ops.append(merged)
        source[id(merged)] = source[id(sharpens[0])]

    # Adjustments of the same kind add up; opposite directions contradict each other.
    by_kind: dict[str, list[Adjust]] = {}
    for op in plan.find(Adjust):
        by_kind.setdefault(op.kind, []).append(op)
    for adjustments in by_kind.values():
        if len(adjustments) < 2:
            continue
        explicit = [op for op in adjustments if id(op) not in ctx.from_recipe]
        if len({op.amount > 0 for op in explicit}) > 1:
            opposite = next(op for op in explicit if (op.amount > 0) != (explicit[0].amount > 0))
            raise _contradiction(source[id(explicit[0])], source[id(opposite)])
        total = max(-1.0, min(1.0, sum(op.amount for op in adjustments)))
        position = ops.index(adjustments[0])
        for op in adjustments:
            ops.remove(op)
        if abs(total) > 1e-9:
            merged_adjust = Adjust(adjustments[0].kind, round(total, 4))
            ops.insert(position, merged_adjust)
            source[id(merged_adjust)] = source[id(adjustments[0])]

    turns = plan.quarter_turns()
    rotations = plan.find(Rotate)
    for op in rotations:
        ops.remove(op)
    if turns:
        rotation = Rotate(turns * 90)
        ops.append(rotation)
        source[id(rotation)] = source[id(rotations[0])]
    for axis in ("horizontal", "vertical"):
        mirrors = [op for op in plan.find(Mirror) if op.axis == axis]
        for op in mirrors:
            ops.remove(op)
        if len(mirrors) % 2 == 1:
            ops.append(mirrors[0])

    frames = plan.find(Frame)
    if len({op.aspect for op in frames}) > 1:
        raise _contradiction(source[id(frames[0])], source[id(frames[-1])])
    if frames and len({op.mode for op in frames}) > 1:
        raise _contradiction(source[id(frames[0])], source[id(frames[-1])])
    for duplicate in frames[1:]:
        ops.remove(duplicate)
    if frames and plan.no_crop:
        frame = frames[0]
        if id(frame) in ctx.explicit_crop:
            raise _contradiction(ctx.constraint_clause["no_crop"], source[id(frame)])
        if frame.mode == "crop":
            extended = Frame(frame.aspect, "extend", frame.label)
            ops[ops.index(frame)] = extended
            source[id(extended)] = source[id(frame)]
    subject_frames = plan.find(FrameSubject)
    if len(set(subject_frames)) > 1:
        raise _contradiction(source[id(subject_frames[0])], source[id(subject_frames[-1])])
    for duplicate in subject_frames[1:]:
        ops.remove(duplicate)
    if subject_frames and plan.no_crop and subject_frames[0].tight:
        raise _contradiction(ctx.constraint_clause["no_crop"], source[id(subject_frames[0])])
    if plan.keep_aspect and (frames or turns % 2 == 1):
        culprit = frames[0] if frames else None
        text = source[id(culprit)] if culprit is not None else source[id(plan.find(Rotate)[0])]
        raise _contradiction(ctx.constraint_clause["keep_aspect"], text)

    matched = {op.index for op in plan.find(MatchColours)}
    if (
        isinstance(background, BackgroundImage)
        and not (plan.keep_colours or plan.keep_subject)
        and background.index not in matched
    ):
        ops.append(NudgeSubject(background.index))

    if plan.find(Resize) and len(ops) > 1:
        ops.remove(plan.find(Resize)[0])
    if not ops and not plan.no_crop:
        raise _refuse(f"It doesn't ask for a change. {EXAMPLES}", NOTHING_TO_DO, ctx.prompt.strip()[:200])
    return plan


def parse(prompt: str, image_count: int = 1) -> EditPlan:
    """Turn an instruction into an EditPlan, or raise BackendRefused quoting the clause it cannot do."""
    if not prompt or not prompt.strip():
        raise _refuse(f"The instruction is empty. {EXAMPLES}", NOTHING_TO_DO, None)
    tokens = _tag(_lex(prompt))
    clauses = _split(tokens, prompt)
    if not clauses:
        raise _refuse(f"It doesn't ask for a change. {EXAMPLES}", NOTHING_TO_DO, prompt.strip()[:200])
    ctx = _Context(image_count=image_count, prompt=prompt)
    previous: Clause | None = None
    for clause in clauses:
        content = clause.content()
        # "warmer, but not too much": a clause of intensity words alone tunes the clause before it.
        if previous is not None and content and all(t.tag in ("INT", "PCT") for t in content):
            merged = Clause(previous.tokens + clause.tokens, f"{previous.text}, {clause.text}")
            _undo(ctx, previous)
            _interpret(ctx, merged)
            previous = merged
            continue
        if previous is not None and content and all(t.tag == "FIX" for t in content):
            continue  # "it's too green, fix it": the clause before says what to fix
        if clause.has("PURPOSE") and all(t.tag == "SUBJECT" for t in content):
            continue  # "product photo for shopify": where it is going, which asks for nothing by itself
        if content and all(t.tag == "SUBJECT" for t in content):
            raise _not_understood(clause, content)
        _interpret(ctx, clause)
        previous = clause
    return _check(ctx)


def _undo(ctx: _Context, clause: Clause) -> None:
    """Take back the operations a clause added, so it can be read again with more words."""
    for op in [op for op in ctx.plan.operations if ctx.sources.get(id(op)) == clause.text]:
        ctx.plan.operations.remove(op)
