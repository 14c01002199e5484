"""The contract between the edit pipeline and whatever does the editing.

A backend knows nothing of HTTP, the database, storage or credits: it takes decoded images and an
instruction and returns an image. The runner fits that image to the promised size, encodes, stores and
charges; the service asks the backend for a plan (when it can make one) before anything is charged.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from PIL import Image


@dataclass(frozen=True)
class Capabilities:
    """What a backend can do, so pages and services can hide or refuse what it cannot."""

    plans: bool = False
    """It can turn an instruction into a plan before running (and refuse before anything is charged)."""
    transparent_output: bool = False
    """It can return an image with an alpha channel that means something."""
    max_images: int = 9


@dataclass(frozen=True)
class PlanRequest:
    """An instruction to plan, with what is known of the images before they are uploaded."""

    prompt: str
    image_count: int = 1
    main_size: tuple[int, int] | None = None
    """(width, height) of the first image, EXIF orientation applied, when known."""
    load_main_image: Callable[[], Image.Image] | None = None
    """Decodes the first image (reduced to a working size), when the edit is being submitted: a backend
    may judge its content (is there a subject to cut out?) and refuse before anything is charged. Called
    only by a backend that needs the pixels for this instruction."""
    quality: str | None = None
    """The quality level asked for ("low", "medium", "high"), when known."""
    output_aspect: tuple[int, int] | None = None
    """The output's shape the settings ask for (an aspect ratio or an exact size), None when auto: with
    the main image, a backend may say what framing to it will do to the picture's subject."""


@dataclass(frozen=True)
class Plan:
    """What a backend will do, in short sentences a person can read before paying."""

    steps: list[str]
    aspect: tuple[int, int] | None = None
    """The output aspect (width, height) the instruction itself asks for, e.g. (16, 9) for "YouTube
    thumbnail" or the swapped ratio of the main image for "rotate 90°". None: follow the settings."""


@dataclass(frozen=True)
class MadeSize:
    """The size a backend makes the picture at when promised another, and what a person should know about
    that before paying (it is enlarged, or the provider calls the size experimental). The runner fits
    what is made to the promised size; the edit records the size it was made at."""

    width: int
    height: int
    notes: tuple[str, ...] = ()
    """Short sentences for the editor, the plan and the edit's page; empty when there is nothing to say."""


@dataclass(frozen=True)
class EditRequest:
    """One edit, ready to run."""

    images: Sequence[Image.Image]
    """1–9 decoded images, EXIF orientation applied, mode RGB or RGBA; images[0] is the main image."""
    prompt: str
    quality: str
    """"low", "medium" or "high"."""
    width: int
    height: int
    """The exact size the customer was promised. A backend should return this size; the runner
    cover-fits anything else (never stretches)."""
    output_format: str = "png"
    """"png", "jpeg" or "webp": JPEG cannot carry transparency."""
    background: str = "auto"
    """"auto", "transparent" or "opaque" (from the OpenAI-compatible endpoint)."""
    customer_id: str | None = None
    """A stable, non-reversible id of the person who asked (`customer_id()`), for a provider's abuse
    monitoring; None when there is nobody to name."""


@dataclass
class EditResult:
    """What a backend made."""

    image: Image.Image
    plan: list[str] | None = None
    """The steps it ran, shown on the edit's page."""
    usage: dict[str, Any] | None = None
    """Token counts or other usage the provider reported."""
    model: str | None = None


class BackendRefused(Exception):
    """The backend will not or cannot do this edit. Not retried; the reservation is voided.

    `message` is written for the person who asked: it says what went wrong and what would work.
    `clause` quotes the part of the instruction that caused the refusal, when there is one.
    """

    def __init__(self, message: str, *, code: str = "edit_refused", clause: str | None = None,
                 detail: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.clause = clause
        self.detail = detail
        """For the operator only: what the provider said (status, type, code, request id)."""


class BackendUnavailable(Exception):
    """A transient failure (network, rate limit, provider outage). The runner retries, bounded."""

    def __init__(self, message: str, *, code: str = "backend_unavailable", detail: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.detail = detail
        """For the operator only, as in BackendRefused."""


def customer_id(secret: str, user_id: str) -> str:
    """The id a provider sees for a person: an HMAC-SHA256 of their user id under SECRET_KEY, so it is
    stable across edits, tells the provider nothing about them and cannot be turned back into the user id
    without the key. 64 hex characters (the longest identifier OpenAI takes)."""
    return hmac.new(secret.encode(), b"provider-customer-id:" + user_id.encode(), hashlib.sha256).hexdigest()


@runtime_checkable
class EditBackend(Protocol):
    """An edit engine. Instances are created once per process and shared between threads."""

    name: str
    capabilities: Capabilities

    def plan(self, request: PlanRequest) -> Plan | None:
        """The plan for an instruction, or None when this backend cannot plan ahead.

        Raises BackendRefused when the instruction cannot be done; nothing has been charged yet.
        """
        ...

    def made_size(self, width: int, height: int) -> MadeSize:
        """The size this backend makes the picture at when width x height is promised. Pure; no I/O."""
        ...

    def edit(self, request: EditRequest) -> EditResult:
        """Do the edit. Raises BackendRefused (final) or BackendUnavailable (worth retrying)."""
        ...
