"""The instruction parser: plain language in, an `EditPlan` out, or a refusal that quotes the clause.

It is deterministic and all-or-nothing. The text is cut into words and numbers (keeping their place in
the original, so a refusal can quote it exactly), phrases are read longest-first into concept tags (see
`vocabulary.py`), the tags are split into clauses at punctuation and conjunctions, and each clause must be
wholly accounted for by one family of operations: the background, the shadow, rotation, mirroring,
framing, colour matching, tone looks, detail, or colour adjustments; or be a negation ("don't crop") or a
constraint ("keep the colours", "keep the label readable": a part kept is read as a part of the subject,
whatever it is called); or be context that asks for nothing ("for amazon", "shot at night"). `RULES` says
which family reads a clause, in order of precedence, and `CONFLICTS` what cannot go together in the plan.
A clause with a word that is neither filler nor understood refuses the whole instruction, before anything
is charged.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
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
AMBIGUOUS = "ambiguous_instruction"

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
    "summer": [("warmth", 0.2), ("saturation", 0.15), ("brightness", 0.1)],
    "winter": [("warmth", -0.3), ("saturation", -0.1), ("brightness", 0.05)],
    "autumn": [("warmth", 0.25), ("saturation", 0.05), ("contrast", 0.05)],
    "cosy": [("warmth", 0.25), ("brightness", -0.05), ("contrast", -0.05)],
    "airy": [("brightness", 0.2), ("contrast", -0.1), ("saturation", -0.05)],
    "cinematic": [("contrast", 0.2), ("saturation", -0.15), ("brightness", -0.05)],
}

# Tags that describe the request (where it goes, why it looks so, that it should be "better") but ask for
# nothing by themselves.
CONTEXT_TAGS = frozenset(["FILLER", "CONJ", "PURPOSE", "CAUSE", "VAGUE"])

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
        "so",
        "for",
    ]
)

TOKEN_RE = re.compile(
    r"""
    (?P<hex>\#[0-9a-f]{6}(?![0-9a-z])|\#[0-9a-f]{3}(?![0-9a-z]))
    |(?P<rgb>rgb\s*\(?\s*\d{1,3}\s*,\s*\d{1,3}\s*,\s*\d{1,3}\s*\)?)
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
        return [token for token in self.tokens if token.tag not in CONTEXT_TAGS]


@dataclass
class _Context:
    image_count: int
    prompt: str
    plan: EditPlan = field(default_factory=EditPlan)
    last_image: int | None = None
    last_direction: int | None = None
    forbidden: dict[str, str] = field(default_factory=dict)
    """Operation family -> the clause that forbade it."""
    sources: dict[int, str] = field(default_factory=dict)
    """id(operation) -> the clause it came from, for quoting contradictions."""
    explicit_crop: set[int] = field(default_factory=set)
    constraint_clause: dict[str, str] = field(default_factory=dict)
    from_recipe: set[int] = field(default_factory=set)
    vague: str | None = None
    """The first request for "better" without saying how ("look professional"), if any."""

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
            if unit in ("%", "pct") or unit.startswith("per"):
                raw.append(Token("PCT", value, start, end, (match.group(0),)))
            elif unit:
                raw.append(Token("DEG", value, start, end, (match.group(0),)))
            else:
                raw.append(Token("NUM", value, start, end, (match.group(0),)))
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
        if _word(tokens, i + offset) == "#":
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


NEGATED_CONSTRAINTS = frozenset(
    ["SHADOW", "CROP", "CHANGE", "BG", "SUBJECT", "WHOLE", "SOFT", "COLOURS", "INT", "BLUR", "PORTRAIT"]
)


def _negated_constraint(before: list[Token], after: list[Token]) -> bool:
    """Whether a negation between `before` and `after` starts a constraint clause of its own."""
    asked = [t for t in before if t.tag not in CONTEXT_TAGS | {"SUBJECT"}]
    if not asked or any(t.tag in ("NEG", "KEEP") for t in asked):
        return False
    rest = {t.tag for t in after if t.tag not in CONTEXT_TAGS}
    return bool(rest) and rest <= NEGATED_CONSTRAINTS and bool(rest & {"SHADOW", "CROP", "CHANGE", "SUBJECT"})


# Tags that name a new background.
BACKDROPS = ("BG", "GRADIENT", "TRANSPARENT")

# Tags a noun can have: an unknown word, the subject, a thing in the picture.
THINGS = frozenset(["WORD", "SUBJECT", "GENERATIVE"])


def _keeps(tokens: list[Token]) -> bool:
    """Whether a clause so far keeps something ("keep …", "don't blur …")."""
    return any(t.tag == "KEEP" for t in tokens) or (
        any(t.tag == "NEG" for t in tokens) and any(t.tag in ("BLUR", "PORTRAIT", "CROP", "CHANGE") for t in tokens)
    )


KEEP_VERBS = frozenset(["keep", "keeping", "preserve", "preserving", "retain", "maintain", "leave", "leaving"])


def _asks(tokens: list[Token]) -> bool:
    """Whether a clause so far asks for a change (not only names things, keeps them or refuses them)."""
    return any(t.tag not in CONTEXT_TAGS | {"SUBJECT", "NEG", "KEEP", "WORD"} for t in tokens) and not any(
        t.tag in ("NEG", "KEEP") for t in tokens
    )


def _split(tokens: list[Token], prompt: str) -> list[Clause]:
    groups: list[list[Token]] = [[]]
    for index, token in enumerate(tokens):
        if token.tag == "SEP":
            after = next((t for t in tokens[index + 1 :] if t.tag != "FILLER"), None)
            # "keep the cup, saucer and spoon": a comma in a list of things kept joins them too.
            listed = after is not None and after.tag in THINGS
            if listed and prompt[token.start : token.end].strip() == "," and _keeps(groups[-1]):
                groups[-1].append(Token("FILLER", ",", token.start, token.end, (",",)))
                continue
            groups.append([])
            continue
        # "remove background keep the spoon": a verb of keeping after a request starts a constraint of its own.
        if token.tag == "KEEP" and token.words[0] in KEEP_VERBS and _asks(groups[-1]):
            groups.append([token])
            continue
        if token.tag == "CONJ":
            before = next((t for t in reversed(tokens[:index]) if t.tag != "FILLER"), None)
            after = next((t for t in tokens[index + 1 :] if t.tag != "FILLER"), None)
            # "red and blue gradient": the conjunction joins two colours, not two clauses.
            if before is not None and after is not None and before.tag == after.tag == "COLOUR":
                groups[-1].append(Token("FILLER", token.value, token.start, token.end, token.words))
                continue
            # "keep the cup and saucer", "keep her glasses and medals sharp": it joins the things kept.
            if token.value in ("and", "plus") and _keeps(groups[-1]) and after is not None and after.tag in THINGS:
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
                        if any(t.tag != "FILLER" for t in group[:back]):
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


# What a clause that keeps something may say besides the things it names.
KEEP_WORDS = frozenset(
    ["KEEP", "NEG", "SUBJECT", "SHARPEN", "LEGIBLE", "WHOLE", "CENTRE", "COLOURS", "COLOUR", "BG", "CHANGE"]
) | frozenset(["BLUR", "PORTRAIT", "CROP", "INT", "MOOD", "SHADOW", "WORD", "GENERATIVE"])


def _kept_parts(clause: Clause) -> None:
    """Read what a clause keeps ("keep her glasses sharp", "the label text stays readable", "don't blur her
    hair") as a part of the subject, whatever it is called, or, for a thing of the setting ("keep the
    sky"), as a part of the background. The engine keeps the subject whole and sharp in every operation,
    so naming the part changes nothing it does; a new part ("add glasses") still needs a generative model."""
    if not _keeps(clause.tokens) or not {t.tag for t in clause.content()} <= KEEP_WORDS:
        return
    if any(t.tag == "GENERATIVE" and t.value not in ("content", "scene") for t in clause.tokens):
        return  # "keep it cartoon" asks for a style
    tokens = clause.tokens
    for index, token in enumerate(tokens):
        if token.tag == "GENERATIVE" and token.value == "scene":
            tokens[index] = Token("BG", None, token.start, token.end, token.words)
        elif token.tag in ("WORD", "GENERATIVE"):
            tokens[index] = Token("SUBJECT", None, token.start, token.end, token.words)
    # A colour in a clause that keeps things describes one of them ("keep the red dress in colour").
    kept = "BG" if clause.has("BG") and not clause.has("SUBJECT") else "SUBJECT"
    for index, token in enumerate(tokens):
        if token.tag == "COLOUR":
            tokens[index] = Token(kept, None, token.start, token.end, token.words)


# Verbs that ask for a thing to be put in the picture, not for its look ("add a sunset").
ADDING_VERBS = frozenset(["add", "insert", "include", "replace", "swap", "put", "place", "draw", "paint"])


def _light_looks(clause: Clause) -> None:
    """Read a light named as a look ("like a sunset", "sunrise colours") as that look, unless the clause asks
    for it as a thing ("a sunset background", "add a sunset", "replace the sky with a sunset")."""
    looks = [i for i, t in enumerate(clause.tokens) if t.tag == "GENERATIVE" and t.words[0] in vocab.LIGHT_LOOKS]
    if not looks or clause.has("BG", "REMOVE", "IMG") or set(clause.words()) & ADDING_VERBS:
        return
    if len([t for t in clause.tokens if t.tag == "GENERATIVE"]) > len(looks):
        return
    for index in looks:
        token = clause.tokens[index]
        clause.tokens[index] = Token("RECIPE", vocab.LIGHT_LOOKS[token.words[0]], token.start, token.end, token.words)


def _preset_looks(tokens: list[Token]) -> list[Token]:
    """ "Make it cinematic, 16:9": beside another shape, a preset that also names a look is that look."""

    def shape(token: Token) -> float:
        width, height = token.value[0] if token.tag == "ASPECT" else token.value
        return float(width) / float(height) if height else math.inf

    looks = [i for i, t in enumerate(tokens) if t.tag == "ASPECT" and " ".join(t.words) in vocab.PRESET_LOOKS]
    others = [
        t
        for t in tokens
        if t.tag in ("ASPECT", "RATIO") and all(abs(shape(t) - shape(tokens[i])) > 0.01 for i in looks)
    ]
    for index in looks if others else []:
        token = tokens[index]
        tokens[index] = Token("RECIPE", vocab.PRESET_LOOKS[" ".join(token.words)], token.start, token.end, token.words)
    return tokens


# ------------------------------------------------------------------------------------- interpretation


def _intensity(clause: Clause) -> str:
    levels = [token.value for token in clause.tags("INT")]
    if not levels:
        return vocab.NORMAL
    order = [vocab.SLIGHT, vocab.NORMAL, vocab.STRONG, vocab.EXTREME]
    # "very very" and "a lot more" stack; the strongest word wins.
    return max(levels, key=order.index)


def _percentage(clause: Clause) -> float | None:
    values = [token for token in clause.tokens if token.tag in ("PCT", "NUM")]
    if not values:
        return None
    if len(values) > 1:
        raise _refuse(
            "It has more than one number; give one amount, e.g. “warmer by 20%”.", NOT_UNDERSTOOD, clause.text
        )
    return float(values[0].value)


def _strength(clause: Clause, table: dict[str, float], *, high: float = 1.0) -> float:
    value = _percentage(clause)
    if value is None:
        return table[_intensity(clause)]
    if not 5 <= abs(value) <= high * 100:
        raise _refuse(
            f"The amount must be between 5% and {round(high * 100)}%.",
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
    if index == 1:
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
        "INSTEAD",
    }
    if clause.has("SHADOW"):
        raise _not_understood(clause)
    images = clause.tags("IMG")
    instead = next((i for i, t in enumerate(clause.tokens) if t.tag == "INSTEAD"), len(clause.tokens))
    # "off-white instead of grey": what comes after "instead of" is what is replaced.
    colour_tokens = [t for t in clause.tokens[:instead] if t.tag == "COLOUR"]
    colours = [token.value for token in colour_tokens]
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
        if len(colours) == 2 and _soft_gradient(clause, colour_tokens):
            start, end = (vocab.soften(vocab.base_colour(t.words) or t.value) for t in colour_tokens)
            ctx.add(BackgroundGradient(start, end, direction), clause)
        elif len(colours) == 2:
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
    elif clause.has("TRANSPARENT", "REMOVE"):
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


def _soft_gradient(clause: Clause, colours: list[Token]) -> bool:
    """A gradient of two colours called soft as a whole ("soft blue to purple", "a soft gradient from blue to
    pink"): a softening word before the first colour that the second lacks, or before the word "gradient"."""
    first, second = colours
    if first.words[0] in vocab.SOFTENING and second.words[0] not in vocab.SOFTENING:
        return True
    gradient = next(i for i, t in enumerate(clause.tokens) if t.tag == "GRADIENT")
    return any(set(t.words) & vocab.SOFTENING for t in clause.tokens[:gradient] if t.tag == "SOFT")


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
            "GDIR",
        },
    )
    aspect = _aspect_of(clause)
    orientations = {str(t.value) for t in clause.tags("GDIR")}
    if orientations - {"vertical", "horizontal"} or (orientations and aspect is None):
        raise _not_understood(clause)
    if aspect is not None:
        ratio, label = aspect
        # "a vertical 9:16": the orientation must agree with the shape.
        if ("vertical" in orientations and ratio[0] >= ratio[1]) or (
            "horizontal" in orientations and ratio[0] <= ratio[1]
        ):
            raise _refuse(
                f"{ratio[0]}:{ratio[1]} is not {' and '.join(sorted(orientations))}; say the shape you want.",
                CONTRADICTION,
                clause.text,
            )
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
        clause,
        {"BW", "SEPIA", "RECIPE", "ENHANCE", "INT", "PCT", "NUM", "CHANGE", "COLOURS", "MOOD", "MATCH", "INC"}
        | {"CONVERT"},
    )
    families = sum(1 for tag in ("BW", "SEPIA", "RECIPE", "ENHANCE") if clause.has(tag))
    if families > 1:
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
        for name in dict.fromkeys(str(t.value) for t in clause.tags("RECIPE")):
            _recipe(ctx, clause, name, scale)  # "warm cosy autumn tones": the looks add up


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
    if "COLOURS" in tags and tags <= {"COLOURS", "CHANGE", "SUBJECT", "INC", "DEC", "INT"}:
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
    if tags & {"BLUR", "PORTRAIT"} and "SUBJECT" in tags and tags <= {"BLUR", "PORTRAIT", "SUBJECT", "INT", "SHARPEN"}:
        ctx.plan.keep_sharp = True  # "don't blur her hair": the subject is never blurred
        return
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
    if "BG" in tags and tags <= {"BG", "SUBJECT", "SHARPEN", "LEGIBLE"}:  # "keep the sky sharp" too
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
    if "SHADOW" in tags and tags <= {"SHADOW", "SUBJECT", "BG"}:
        raise _refuse(
            "A cut-out leaves the photo's own shadow behind; say “with a soft shadow” for a new one under the "
            "subject.",
            NOT_UNDERSTOOD,
            clause.text,
        )
    # "keep me centred", "keep it centred": with no part named, what is kept centred is the subject.
    names_subject = bool(tags & {"SUBJECT", "SHARPEN", "LEGIBLE"}) or tags == {"CENTRE"}
    if names_subject and tags <= {"SUBJECT", "SHARPEN", "LEGIBLE", "WHOLE", "CENTRE"}:
        if tags & {"SHARPEN", "LEGIBLE"}:
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


def _names_setting(clause: Clause) -> bool:
    """ "in 4K", "as a JPEG"; but "transparent PNG" and "remove the background, PNG" ask for a cut-out."""
    return not (clause.has("TRANSPARENT") or (clause.has("REMOVE") and clause.has("BG")))


def _asks_more(clause: Clause) -> bool:
    """Whether the clause asks for more than a shape."""
    return any(t.tag not in ("ASPECT", "RATIO", "SUBJECT", "CHANGE", "INC", "GDIR") for t in clause.content())


def _placed_on(clause: Clause) -> bool:
    return bool(set(clause.words()) & {"on", "onto", "against", "over"})


def _cuts_out(clause: Clause) -> bool:
    return any(t.value == "cutout" for t in clause.tags("REMOVE"))


def _names_detail(clause: Clause) -> bool:
    return any(t.value in ("sharpness", "noise") for t in clause.tags("ATTR"))


def _directed(clause: Clause) -> bool:
    return any(_direction(t) for t in clause.tokens)


def _use_settings(ctx: _Context, clause: Clause) -> None:
    kind = next(str(t.value) for t in clause.tags("SETTING"))
    what = "Resolution (1K, 2K or 4K)" if kind == "resolution" else "The file format (PNG, JPEG or WebP)"
    raise _refuse(f"{what} is chosen in the edit settings, not in the instruction.", USE_SETTINGS, clause.text)


def _new_content(ctx: _Context, clause: Clause) -> None:
    raise _generative(clause)


def _unread(ctx: _Context, clause: Clause) -> None:
    raise _not_understood(clause, clause.content())


def _shape_first(ctx: _Context, clause: Clause) -> None:
    """ "square white background", "16:9 black and white": frame the shape, then read the rest alone. Beside
    a background, the words that say how to reach the shape go with it ("square crop on white")."""
    framing = ("ASPECT", "RATIO", "CROP", "EXTEND") if clause.has(*BACKDROPS) else ("ASPECT", "RATIO")
    shapes = [t for t in clause.tokens if t.tag in framing]
    _framing(ctx, Clause(shapes, clause.text))
    rest = Clause([t for t in clause.tokens if t not in shapes], clause.text)
    if clause.has("EXTEND") and {t.tag for t in rest.content()} <= {"BG", "SUBJECT"}:
        return  # "extend the background to 16:9": the background is what is extended
    _read(ctx, rest)


def _effect(ctx: _Context, clause: Clause) -> None:
    raise _refuse(
        "The offline engine has no glow, haze or grain effects; it changes backgrounds, colours, framing and "
        "sharpness.",
        NOT_UNDERSTOOD,
        clause.text,
    )


def _tonal(ctx: _Context, clause: Clause) -> None:
    raise _refuse(
        "The offline engine changes the tones of the whole photo at once; it can't lighten, darken or remove "
        "the shadows or highlights on their own. “Brighter”, “less contrast” or “auto enhance” change them "
        "with the rest.",
        NOT_UNDERSTOOD,
        clause.text,
    )


def _look_and_adjust(ctx: _Context, clause: Clause) -> None:
    """ "warm sunset tones", "cosy but brighter": the look, then the adjustment beside it."""
    _tone(ctx, Clause([t for t in clause.tokens if t.tag not in ("ADJ", "ATTR", "STATE")], clause.text))
    _adjust(ctx, Clause([t for t in clause.tokens if t.tag != "RECIPE"], clause.text))


def _background_image(ctx: _Context, clause: Clause) -> None:
    """ "put the product on image 2", "place her in front of the other photo"."""
    _leftover(clause, {"IMG", "SUBJECT", "CHANGE", "INC"})
    ctx.add(BackgroundImage(_resolve_image(ctx, clause, clause.tags("IMG")[0], purpose="the background")), clause)


Reader = Callable[[_Context, Clause], None]


@dataclass(frozen=True)
class Rule:
    """A reader for the clauses with a tag from each group in `needs`, none of `lacks`, that pass `test`."""

    read: Reader
    needs: tuple[frozenset[str], ...]
    lacks: frozenset[str]
    test: Callable[[Clause], bool] | None

    def applies(self, clause: Clause) -> bool:
        return (
            all(clause.has(*group) for group in self.needs)
            and not clause.has(*self.lacks)
            and (self.test is None or self.test(clause))
        )


def _rule(read: Reader, *needs: str, lacks: str = "", test: Callable[[Clause], bool] | None = None) -> Rule:
    """A rule from tag groups written as words: `_rule(_rotate, "ROTATE DEG")` needs ROTATE or DEG."""
    return Rule(read, tuple(frozenset(group.split()) for group in needs), frozenset(lacks.split()), test)


# How a clause is read: the first rule that applies takes the whole clause, so the order is the precedence.
# Refusals come first (a word that is unknown, or asks for new content or an edit setting, refuses the clause
# whatever else it says); then a shape beside another request is split off; then a negation or "keep" makes
# the clause a constraint. The background comes before the rest because colour, blur and cut-out words
# describe it ("white background"); each other operation comes before plain adjustments, which would take
# its modifiers ("a darker shadow", "more sharpness"). What is left that names the subject would change it.
RULES: tuple[Rule, ...] = (
    _rule(_new_content, "GENERATIVE"),
    _rule(_use_settings, "SETTING", test=_names_setting),
    _rule(_unread, "WORD"),
    _rule(_tonal, "TONAL"),
    _rule(_effect, "EFFECT"),
    # A shape beside another request is framed first and the rest read alone ("square white background",
    # "16:9 without cropping"), unless the clause frames, keeps or turns the picture itself ("crop to square").
    _rule(_shape_first, "ASPECT RATIO", "NEG", test=_asks_more),
    _rule(_shape_first, "ASPECT RATIO", " ".join(BACKDROPS), lacks="NEG"),  # "square crop on a white background"
    _rule(_shape_first, "ASPECT RATIO", lacks="CROP EXTEND CENTRE CLOSE MARGIN NOOP KEEP ROTATE", test=_asks_more),
    _rule(_negation, "NEG"),
    _rule(_match, "IMG", "COLOURS MOOD MATCH", lacks="BG"),  # "keep the colours of image 2" matches them
    _rule(_keep, "KEEP"),
    _rule(_background, "BG PORTRAIT TRANSPARENT GRADIENT"),
    _rule(_background, "COLOUR", "SUBJECT", test=_placed_on),  # "put the shoe on white"
    _rule(_background, "REMOVE", lacks="SHADOW DENOISE ATTR", test=_cuts_out),  # "cut out the product"
    _rule(_background_image, "IMG", "SUBJECT"),
    _rule(_shadow, "SHADOW"),
    _rule(_mirror, "MIRROR"),
    _rule(_cast, test=_is_cast),
    _rule(_rotate, "ROTATE DEG UPSIDE"),
    _rule(_framing, "CROP EXTEND ASPECT RATIO CENTRE CLOSE MARGIN NOOP"),
    _rule(_match, "MATCH", "COLOURS MOOD", lacks="RECIPE BW SEPIA"),  # "look like golden hour" is a look
    _rule(_match, "IMG"),
    _rule(_look_and_adjust, "RECIPE", "ADJ ATTR STATE"),
    _rule(_tone, "BW SEPIA RECIPE ENHANCE"),
    _rule(_detail, "SHARPEN DENOISE NOISY"),
    _rule(_detail, "ATTR", test=_names_detail),  # "more sharpness", "less noise"
    _rule(_detail, "BLUR SOFT", "EXCESS DEC REMOVE"),  # "too blurry", "remove the blur"
    _rule(_adjust, "ADJ ATTR STATE"),
    _rule(_adjust, "COLOURS", test=_directed),  # "boost the colours"
    _rule(_new_content, "REMOVE", "SUBJECT"),  # "remove the bottle"
    _rule(_new_content, "COLOUR", "SUBJECT"),  # "make the product red"
    _rule(_unread),
)


def _read(ctx: _Context, clause: Clause) -> None:
    next(rule for rule in RULES if rule.applies(clause)).read(ctx, clause)


def _interpret(ctx: _Context, clause: Clause) -> None:
    _subject_slots(clause)
    _kept_parts(clause)
    _light_looks(clause)
    _read(ctx, _lack(clause))


# ------------------------------------------------------------------------------------------ checking


# The names a negation forbids operations by ("don't rotate" forbids "rotate"; see `_negation`).
FAMILIES: dict[type, str] = {
    Rotate: "rotate",
    Mirror: "mirror",
    BlurBackground: "blur",
    Sharpen: "sharpen",
    Denoise: "denoise",
    BlackAndWhite: "bw",
    Sepia: "sepia",
    Shadow: "shadow",
}


def _family(op: Operation) -> str | None:
    if isinstance(op, Adjust):
        return f"adjust:{op.kind}"
    if isinstance(op, Frame):
        return "extend" if op.mode == "extend" else None
    return FAMILIES.get(type(op))


def _contradiction(first: str, second: str, advice: str = "remove one of the two.") -> BackendRefused:
    return _refuse(f"It contradicts “{first}”; {advice}", CONTRADICTION, second)


def _of(plan: EditPlan, kinds: type | tuple[type, ...]) -> list[Operation]:
    return [op for op in plan.operations if isinstance(op, kinds)]


def _by_kind(plan: EditPlan) -> dict[str, list[Adjust]]:
    by_kind: dict[str, list[Adjust]] = {}
    for op in plan.find(Adjust):
        by_kind.setdefault(op.kind, []).append(op)
    return by_kind


@dataclass(frozen=True)
class Forbidden:
    """An operation a negation forbade ("don't rotate it", "rotate it 90°")."""

    def check(self, ctx: _Context) -> None:
        for op in ctx.plan.operations:
            family = _family(op)
            if family is not None and family in ctx.forbidden:
                raise _contradiction(ctx.sources[id(op)], ctx.forbidden[family])


@dataclass(frozen=True)
class Differ:
    """Operations of a kind that differ in `key`: the plan can do only one ("white background", "black
    background"). The refusal quotes the last of them, or with `quote_last` off the first that differs."""

    kinds: type | tuple[type, ...]
    key: Callable[[Any], object] = lambda op: op
    quote_last: bool = True
    advice: str = "remove one of the two."
    """What to do instead."""

    def check(self, ctx: _Context) -> None:
        found = _of(ctx.plan, self.kinds)
        differing = [op for op in found if self.key(op) != self.key(found[0])]
        if differing:
            refused = found[-1] if self.quote_last else differing[0]
            raise _contradiction(ctx.sources[id(found[0])], ctx.sources[id(refused)], self.advice)


@dataclass(frozen=True)
class Breaks:
    """A constraint ("keep the colours") and the first operation of a kind, when `when` says it breaks it."""

    constraint: str
    kinds: type | tuple[type, ...]
    when: Callable[[_Context, Any], bool] = lambda ctx, op: True

    def check(self, ctx: _Context) -> None:
        found = _of(ctx.plan, self.kinds)
        if getattr(ctx.plan, self.constraint) and found and self.when(ctx, found[0]):
            raise _contradiction(ctx.constraint_clause[self.constraint], ctx.sources[id(found[0])])


@dataclass(frozen=True)
class Excludes:
    """Two kinds that cannot both be done ("black and white" and "sepia")."""

    first: type
    second: type

    def check(self, ctx: _Context) -> None:
        firsts, seconds = _of(ctx.plan, self.first), _of(ctx.plan, self.second)
        if firsts and seconds:
            raise _contradiction(ctx.sources[id(firsts[0])], ctx.sources[id(seconds[0])])


@dataclass(frozen=True)
class Needs:
    """An operation that means nothing without one of `partners`; refused with its own message."""

    kind: type
    partners: tuple[type, ...]
    message: str

    def check(self, ctx: _Context) -> None:
        found = _of(ctx.plan, self.kind)
        if found and not any(isinstance(op, self.partners) for op in ctx.plan.operations):
            raise _refuse(self.message, NOT_UNDERSTOOD, ctx.sources[id(found[0])])


@dataclass(frozen=True)
class Opposed:
    """Adjustments of one kind asked both ways ("brighter", "darker"). A look's own adjustments (from
    `RECIPES`) do not count: "vintage, more saturated" adds up."""

    def check(self, ctx: _Context) -> None:
        for adjustments in _by_kind(ctx.plan).values():
            explicit = [op for op in adjustments if id(op) not in ctx.from_recipe]
            opposite = next((op for op in explicit if (op.amount > 0) != (explicit[0].amount > 0)), None)
            if opposite is not None:
                raise _contradiction(ctx.sources[id(explicit[0])], ctx.sources[id(opposite)])


Conflict = Forbidden | Differ | Breaks | Excludes | Needs | Opposed

# What cannot go together in one plan, checked in this order (the first found is the one quoted).
CONFLICTS: tuple[Conflict, ...] = (
    Forbidden(),
    Differ(BACKGROUND_OPERATIONS),
    Breaks("keep_background", BACKGROUND_OPERATIONS),
    # Backgrounds agree by now, so any cut-out one is the background.
    Needs(
        Shadow,
        CUTOUT_OPERATIONS,
        "A shadow goes under a cut-out subject on a new background; combine the two, e.g. “white background "
        "with a soft shadow”.",
    ),
    Differ(Shadow, quote_last=False),
    Breaks("keep_colours", COLOUR_OPERATIONS),
    Breaks("keep_subject", COLOUR_OPERATIONS),
    Excludes(BlackAndWhite, Sepia),
    Differ(MatchColours),
    Opposed(),
    Differ(Frame, key=lambda op: (op.aspect, op.mode),  # the label is only how the shape was named
           advice="an edit makes one shape, so remove one (or run the edit once for each)."),
    Breaks("no_crop", Frame, when=lambda ctx, op: id(op) in ctx.explicit_crop),  # "crop to square", "don't crop"
    Differ(FrameSubject),
    Breaks("no_crop", FrameSubject, when=lambda ctx, op: op.tight),
    Breaks("keep_aspect", Frame),
    Breaks("keep_aspect", Rotate, when=lambda ctx, op: ctx.plan.quarter_turns() % 2 == 1),
)

# Operations done once however often they are asked for (those that differ were refused above).
ONCE: tuple[type, ...] = (
    *BACKGROUND_OPERATIONS,
    Shadow,
    BlackAndWhite,
    Sepia,
    Denoise,
    AutoLevels,
    Resize,
    MatchColours,
    Frame,
    FrameSubject,
)


def _combine(plan: EditPlan) -> None:
    """Fold repeated requests into one operation each."""
    ops = plan.operations
    for kind in ONCE:
        for duplicate in _of(plan, kind)[1:]:
            ops.remove(duplicate)
    sharpens = plan.find(Sharpen)
    if len(sharpens) > 1:
        for sharpen in sharpens:
            ops.remove(sharpen)
        ops.append(Sharpen(round(min(2.0, sum(sharpen.strength for sharpen in sharpens)), 4)))
    # Adjustments of the same kind add up (opposite directions were refused above).
    for adjustments in _by_kind(plan).values():
        if len(adjustments) < 2:
            continue
        total = max(-1.0, min(1.0, sum(adjust.amount for adjust in adjustments)))
        position = ops.index(adjustments[0])
        for adjust in adjustments:
            ops.remove(adjust)
        if abs(total) > 1e-9:
            ops.insert(position, Adjust(adjustments[0].kind, round(total, 4)))
    turns = plan.quarter_turns()
    for rotation in plan.find(Rotate):
        ops.remove(rotation)
    if turns:
        ops.append(Rotate(turns * 90))
    for axis in ("horizontal", "vertical"):
        mirrors = [mirror for mirror in plan.find(Mirror) if mirror.axis == axis]
        for mirror in mirrors:
            ops.remove(mirror)
        if len(mirrors) % 2 == 1:
            ops.append(mirrors[0])
    frames = plan.find(Frame)
    if frames and plan.no_crop and frames[0].mode == "crop":
        # A shape named without "crop" ("square") is kept whole by extending instead.
        ops[ops.index(frames[0])] = Frame(frames[0].aspect, "extend", frames[0].label)
    background = plan.background()
    matched = {op.index for op in plan.find(MatchColours)}
    if (
        isinstance(background, BackgroundImage)
        and not (plan.keep_colours or plan.keep_subject)
        and background.index not in matched
    ):
        ops.append(NudgeSubject(background.index))
    if plan.find(Resize) and len(ops) > 1:
        ops.remove(plan.find(Resize)[0])


def _check(ctx: _Context) -> EditPlan:
    for conflict in CONFLICTS:
        conflict.check(ctx)
    _combine(ctx.plan)
    if not ctx.plan.operations and not ctx.plan.no_crop and ctx.vague is not None:
        raise _refuse(
            f"“{ctx.vague}” can mean many different edits; say which, e.g. “white background”, “brighter”, "
            "“more contrast” or “crop to 16:9”.",
            AMBIGUOUS,
            ctx.prompt.strip()[:200],
        )
    if not ctx.plan.operations and not ctx.plan.no_crop:
        raise _refuse(f"It doesn't ask for a change. {EXAMPLES}", NOTHING_TO_DO, ctx.prompt.strip()[:200])
    return ctx.plan


def parse(prompt: str, image_count: int = 1) -> EditPlan:
    """Turn an instruction into an EditPlan, or raise BackendRefused quoting the clause it cannot do."""
    if not prompt or not prompt.strip():
        raise _refuse(f"The instruction is empty. {EXAMPLES}", NOTHING_TO_DO, None)
    tokens = _preset_looks(_tag(_lex(prompt)))
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
        # What a request for "better" may say beside it: "make it look more eye-catching".
        vague_words = {"SUBJECT", "MOOD", "MATCH", "INC", "INT"} if clause.has("VAGUE") else {"SUBJECT"}
        if clause.has(*CONTEXT_TAGS - {"FILLER", "CONJ"}) and all(t.tag in vague_words for t in content):
            # "product photo for shopify", "it was shot at night", "make it look professional": where it is
            # going, why it looks so, that it should be better; none asks for a change by itself.
            vague = clause.tags("VAGUE")
            if vague and ctx.vague is None:
                ctx.vague = " ".join(vague[0].words)
            continue
        if content and all(t.tag == "SUBJECT" for t in content):
            raise _not_understood(clause, content)
        _interpret(ctx, clause)
        previous = clause
    return _check(ctx)


def _undo(ctx: _Context, clause: Clause) -> None:
    """Take back the operations a clause added, so it can be read again with more words."""
    for op in [op for op in ctx.plan.operations if ctx.sources.get(id(op)) == clause.text]:
        ctx.plan.operations.remove(op)
