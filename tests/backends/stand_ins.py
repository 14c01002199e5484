"""Small backends for pipeline tests: they do predictable things so tests can check the pipeline itself."""

from __future__ import annotations

import threading

from PIL import Image

from app.backends.base import (
    BackendRefused,
    BackendUnavailable,
    Capabilities,
    EditRequest,
    EditResult,
    MadeSize,
    Plan,
    PlanRequest,
)


class PassThroughBackend:
    """Returns the main image unchanged (the runner fits it to size). Refuses prompts containing
    "refuse"; fails transiently while `unavailable` is set; blocks while `gate` is cleared."""

    name = "passthrough"
    capabilities = Capabilities(plans=True, transparent_output=True)

    def __init__(self, settings: object = None) -> None:
        self.gate = threading.Event()
        self.gate.set()
        self.started = threading.Event()
        self.finished = threading.Event()
        self.unavailable = 0
        self.fail_in_edit: str | None = None
        self.calls = 0

    def plan(self, request: PlanRequest) -> Plan | None:
        if "refuse" in request.prompt.lower():
            raise BackendRefused("This stand-in refuses on purpose.", clause="refuse")
        aspect = (9, 16) if "story" in request.prompt.lower() else None
        return Plan(steps=[f"Pass the image through ({request.image_count} image(s))"], aspect=aspect)

    def made_size(self, width: int, height: int) -> MadeSize:
        return MadeSize(width, height)

    def edit(self, request: EditRequest) -> EditResult:
        self.calls += 1
        self.started.set()
        self.gate.wait(timeout=60)
        try:
            if self.unavailable > 0:
                self.unavailable -= 1
                raise BackendUnavailable("Stand-in outage")
            if self.fail_in_edit:
                raise BackendRefused(self.fail_in_edit, code="no_subject")
            image: Image.Image = request.images[0]
            return EditResult(image=image.copy(), plan=["Passed through"], model="stand-in-1")
        finally:
            self.finished.set()
