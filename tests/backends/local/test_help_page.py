"""The help page's examples are true: what it says works is planned, what it says is refused is refused."""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest

from app.backends.base import BackendRefused
from app.backends.local.parser import parse

pytestmark = pytest.mark.nodb

PAGE = (Path(__file__).resolve().parents[3] / "templates" / "help_instructions.html").read_text()


def section(name: str) -> str:
    match = re.search(rf'<section id="{name}">(.*?)</section>', PAGE, re.S)
    assert match, name
    return match.group(1)


def examples(text: str) -> list[str]:
    return [html.unescape(code) for code in re.findall(r"<code>(.*?)</code>", text)]


def column(text: str, index: int) -> str:
    cells = re.findall(r"<tr>(.*?)</tr>", text, re.S)
    return " ".join(
        re.findall(r"<td>(.*?)</td>", row, re.S)[index]
        for row in cells
        if len(re.findall(r"<td>(.*?)</td>", row, re.S)) > index
    )


WORKING = [
    example
    for name in ("background", "framing")
    for example in examples(column(section(name), 1))
    if not example.startswith("…")
]
WORKING += [example for example in examples(section("detail"))]
WORKING += [
    "warmer",
    "cool it down",
    "brighter",
    "darker",
    "more contrast",
    "less saturation",
    "boost the colours",
    "brighter by 15%",
    "contrast -10%",
    "make it 20% warmer",
    "black and white",
    "sepia",
    "sepia at 50%",
    "auto enhance",
    "vibrant",
    "dramatic",
    "moody",
    "vintage",
    "golden hour",
    "like a sunset",
    "cinematic",
    "summer",
    "winter",
    "cosy",
    "light and airy",
    "soft blue to purple gradient",
    "pastel pink background",
    "muted colours",
    "blur the background, keep her glasses and medals sharp",
    "remove the background, keep the cup and saucer",
    "white background, make sure the label text stays readable",
    "match the colours of image 2",
    "match the mood of the other photo slightly",
    "colour grade it like image 2 at 50%",
]
REFUSED = [
    example for example in examples(column(section("refusals"), 1)) if example not in ("use image 3", "the other photo")
]


def test_the_page_lists_enough_examples():
    assert len(WORKING) > 40 and len(REFUSED) > 12


@pytest.mark.parametrize("example", WORKING)
def test_examples_said_to_work_are_planned(example):
    for part in example.split(", ") if example.startswith("put the shoe") else [example]:
        assert parse(part, 2).steps()


@pytest.mark.parametrize("example", REFUSED)
def test_examples_said_to_be_refused_are_refused(example):
    with pytest.raises(BackendRefused):
        parse(example, 2)


def test_colour_section_examples_appear_on_the_page():
    listed = examples(section("colour"))
    for example in ("warmer", "sepia", "vintage", "match the colours of image 2"):
        assert example in listed
