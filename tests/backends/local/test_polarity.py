"""The direction of every colour and detail change, over a broad table of phrasings.

A sign error anywhere (a "less" or a "too" read twice, or not at all) asks the customer to pay for the
opposite of what they wrote, so every modifier is crossed with every attribute and each way of naming it.
"""

from __future__ import annotations

import pytest

from app.backends.base import BackendRefused
from app.backends.local.parser import parse

pytestmark = pytest.mark.nodb

# kind -> (the plan's words for up, for down, nouns, adjectives naming the top end, adjectives naming the bottom end)
KINDS: dict[str, tuple[str, str, list[str], list[str], list[str]]] = {
    "brightness": (
        "Brighten",
        "Darken",
        ["brightness", "exposure", "light"],
        ["bright", "brighter"],
        ["dark", "darker", "dim"],
    ),
    "warmth": ("warmer", "cooler", ["warmth", "temperature"], ["warm", "warmer"], ["cool", "cooler", "cold", "colder"]),
    "saturation": (
        "Increase saturation",
        "Reduce saturation",
        ["saturation", "vibrance", "colour"],
        ["saturated", "colourful", "vivid"],
        ["muted", "desaturated"],
    ),
    "contrast": ("Increase contrast", "Reduce contrast", ["contrast"], ["contrasty", "punchy"], []),
}

# Modifier forms around a noun ("more contrast") and the direction each asks for.
NOUN_FORMS = [
    ("more {x}", 1),
    ("less {x}", -1),
    ("increase the {x}", 1),
    ("reduce the {x}", -1),
    ("decrease the {x}", -1),
    ("boost the {x}", 1),
    ("tone down the {x}", -1),
    ("turn up the {x}", 1),
    ("turn down the {x}", -1),
    ("raise the {x}", 1),
    ("lower the {x}", -1),
    ("too much {x}", -1),
    ("way too much {x}", -1),
    ("not enough {x}", 1),
    ("there is not enough {x}", 1),
    ("too little {x}", 1),
    ("it needs more {x}", 1),
    ("needs less {x}", -1),
    ("a bit more {x}", 1),
    ("a little less {x}", -1),
    ("much more {x}", 1),
]
# Modifier forms around an adjective ("too dark"): the direction relative to the adjective's own.
ADJECTIVE_FORMS = [
    ("{x}", 1),
    ("make it {x}", 1),
    ("more {x}", 1),
    ("less {x}", -1),
    ("make it less {x}", -1),
    ("a bit less {x}", -1),
    ("much less {x}", -1),
    ("too {x}", -1),
    ("it's too {x}", -1),
    ("the photo is too {x}", -1),
    ("a bit too {x}", -1),
    ("way too {x}", -1),
    ("much too {x}", -1),
    ("it looks too {x}", -1),
    ("not {x} enough", 1),
    ("it isn't {x} enough", 1),
    ("it's not {x} enough", 1),
]


COMPARATIVES = ("brighter", "warmer", "cooler", "darker", "colder")


def cases() -> list[tuple[str, str, int]]:
    table = []
    for kind, (_up, _down, nouns, highs, lows) in KINDS.items():
        for noun in nouns:
            for form, sign in NOUN_FORMS:
                table.append((form.format(x=noun), kind, sign))
        for adjectives, base in ((highs, 1), (lows, -1)):
            for adjective in adjectives:
                for form, sign in ADJECTIVE_FORMS:
                    # Comparatives read oddly in most forms ("too brighter"); they get the core three.
                    if form in ("more {x}", "less {x}", "too {x}") or adjective not in COMPARATIVES:
                        table.append((form.format(x=adjective), kind, sign * base))
    return table


CASES = cases()


def test_the_table_is_broad():
    assert len(CASES) > 300


@pytest.mark.parametrize(("prompt", "kind", "sign"), CASES, ids=[c[0] for c in CASES])
def test_direction(prompt, kind, sign):
    steps = parse(prompt).steps()
    assert len(steps) == 1, steps
    up, down = KINDS[kind][:2]
    expected, opposite = (up, down) if sign > 0 else (down, up)
    assert expected in steps[0] and opposite not in steps[0], (prompt, steps)


# Each of these was once read the wrong way round, or refused.
NAMED = [
    ("less saturated", ["Reduce saturation by 20%"]),
    ("less saturation", ["Reduce saturation by 20%"]),
    ("a bit less saturated", ["Reduce saturation by 10%"]),
    ("it's too dark", ["Brighten by 20%"]),
    ("it's too bright", ["Darken by 20%"]),
    ("too warm", ["Make the colours cooler by 20%"]),
    ("too cold", ["Make the colours warmer by 20%"]),
    ("too saturated", ["Reduce saturation by 20%"]),
    ("too contrasty", ["Reduce contrast by 20%"]),
    ("not bright enough", ["Brighten by 20%"]),
    ("make it less dark", ["Brighten by 20%"]),
    ("less bright", ["Darken by 20%"]),
    ("lighten", ["Brighten by 20%"]),
    ("dim it", ["Darken by 20%"]),
    ("tone down the colours", ["Reduce saturation by 20%"]),
    ("reduce the darkness", ["Brighten by 20%"]),
    ("more muted", ["Reduce saturation by 20%"]),
    ("less muted", ["Increase saturation by 20%"]),
    ("less cool", ["Make the colours warmer by 20%"]),
    ("it's underexposed", ["Brighten by 20%"]),
    ("the photo is overexposed", ["Darken by 20%"]),
    ("less overexposed", ["Darken by 20%"]),
    ("a little too warm", ["Make the colours cooler by 10%"]),
    ("much too dark", ["Brighten by 40%"]),
    ("warm it up a bit more", ["Make the colours warmer by 10%"]),
    ("darken it a little more", ["Darken by 10%"]),
    ("brightness +15%", ["Brighten by 15%"]),
    ("contrast -10%", ["Reduce contrast by 10%"]),
    ("warmer -10%", ["Make the colours cooler by 10%"]),
    ("increase the contrast and saturation", ["Increase contrast by 20%", "Increase saturation by 20%"]),
    ("reduce the contrast and saturation", ["Reduce contrast by 20%", "Reduce saturation by 20%"]),
    ("less warm and less bright", ["Make the colours cooler by 20%", "Darken by 20%"]),
    ("the contrast is too strong", ["Reduce contrast by 20%"]),
    ("the warm tones are too strong", ["Make the colours cooler by 20%"]),
    ("the saturation is too low", ["Increase saturation by 20%"]),
    ("too dark and too warm", ["Brighten by 20%", "Make the colours cooler by 20%"]),
    ("warmer, but not too much", ["Make the colours warmer by 10%"]),
    ("warmer too", ["Make the colours warmer by 20%"]),
]


@pytest.mark.parametrize(("prompt", "steps"), NAMED, ids=[n[0] for n in NAMED])
def test_named_phrasing(prompt, steps):
    assert parse(prompt).steps() == steps


# Colour casts: away from a named colour along the warmth (yellow-blue) or tint (green-magenta) axis.
CASTS = [
    ("make it less yellow", "Make the colours cooler by 20%"),
    ("too yellow", "Make the colours cooler by 20%"),
    ("way too yellow", "Make the colours cooler by 40%"),
    ("the colours are too yellow", "Make the colours cooler by 20%"),
    ("a yellowish tint is too strong", "Make the colours cooler by 20%"),
    ("reduce the orange", "Make the colours cooler by 20%"),
    ("less red", "Make the colours cooler by 20%"),
    ("it looks too blue", "Make the colours warmer by 20%"),
    ("less blue", "Make the colours warmer by 20%"),
    ("less cyan", "Make the colours warmer by 20%"),
    ("more yellow", "Make the colours warmer by 20%"),
    ("too green", "Shift the colours toward magenta by 20%"),
    ("less greenish", "Shift the colours toward magenta by 20%"),
    ("too magenta", "Shift the colours toward green by 20%"),
    ("less pink", "Shift the colours toward green by 20%"),
    ("not yellow enough", "Make the colours warmer by 20%"),
]


@pytest.mark.parametrize(("prompt", "step"), CASTS, ids=[c[0] for c in CASTS])
def test_cast_direction(prompt, step):
    assert parse(prompt).steps() == [step]


DETAIL = [
    ("too blurry", ["Sharpen"]),
    ("it's a bit too soft", ["Sharpen at 30% strength"]),
    ("not sharp enough", ["Sharpen"]),
    ("isn't sharp enough", ["Sharpen"]),
    ("more detail", ["Sharpen"]),
    ("remove the blur", ["Sharpen"]),
    ("too noisy", ["Reduce noise (light)"]),
    ("too grainy", ["Reduce noise (light)"]),
    ("less grain", ["Reduce noise (light)"]),
]


@pytest.mark.parametrize(("prompt", "steps"), DETAIL, ids=[d[0] for d in DETAIL])
def test_detail_direction(prompt, steps):
    assert parse(prompt).steps() == steps


# Directions the engine cannot go (softening, adding grain) or that say two things at once.
WRONG_WAY = [
    "too sharp",
    "less sharp",
    "less sharpness",
    "make it grainy",
    "more grain",
    "increase it less",
    "reduce the more contrast",
    "more less saturated",
    "too white",
    "the yellow tint",
]


@pytest.mark.parametrize("prompt", WRONG_WAY)
def test_the_wrong_way_or_both_ways_is_refused(prompt):
    with pytest.raises(BackendRefused) as refused:
        parse(prompt)
    assert refused.value.code == "instruction_not_understood"
