"""The contract every edit backend passes: outputs decode, the promised size is honoured (exactly, or in
its aspect for the runner to fit) and made at the size the backend says it makes, 1–9 images are taken, and
a refusal raises BackendRefused."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from PIL import Image

from app.backends.base import BackendRefused, Capabilities, EditBackend, EditRequest, EditResult, PlanRequest
from app.backends.registry import create_backend
from app.config import Settings
from app.editor import output
from app.errors import ConfigurationError
from tests.conftest import FIXTURES
from tests.fake_openai import openai_backend_for_tests

pytestmark = pytest.mark.nodb
ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Case:
    make: Callable[[pytest.FixtureRequest], EditBackend]
    ok_prompt: str
    refused_prompt: str
    exact_size: bool


def _local(request: pytest.FixtureRequest) -> EditBackend:
    settings = Settings(_env_file=None, edit_backend="local", data_dir=request.getfixturevalue("tmp_path"),
                        model_dir=ROOT / "data" / "models")
    return create_backend(settings)


def _openai(request: pytest.FixtureRequest) -> EditBackend:
    return openai_backend_for_tests(request.getfixturevalue("fake_openai"))


CASES = {
    "local": Case(_local, "Make it warmer and a bit brighter", "Turn the cup into a golden dragon", exact_size=True),
    "openai": Case(_openai, "Make it warmer", "MODERATION_BLOCKED please", exact_size=False),
}


@pytest.fixture(params=list(CASES))
def case(request) -> tuple[Case, EditBackend]:
    spec = CASES[request.param]
    return spec, spec.make(request)


def photo(size=(600, 400)) -> Image.Image:
    return Image.open(FIXTURES / "coffee.png").convert("RGB").resize(size)


def run(backend: EditBackend, prompt: str, *, width: int, height: int, images=None, fmt="png") -> EditResult:
    request = EditRequest(images=images or [photo()], prompt=prompt, quality="low", width=width, height=height,
                          output_format=fmt)
    return backend.edit(request)


def test_it_is_an_edit_backend(case):
    _, backend = case
    assert isinstance(backend, EditBackend)
    assert isinstance(backend.capabilities, Capabilities) and backend.name


@pytest.mark.parametrize("width, height", [(1024, 688), (576, 1024), (1024, 1024), (2048, 880), (256, 768)])
def test_output_decodes_and_honours_the_size(case, width, height):
    spec, backend = case
    result = run(backend, spec.ok_prompt, width=width, height=height)
    assert isinstance(result.image, Image.Image)
    assert result.image.mode in ("RGB", "RGBA")
    if spec.exact_size:
        assert result.image.size == (width, height)
    else:
        got = result.image.width / result.image.height
        assert abs(got - width / height) / (width / height) < 0.02
    made = backend.made_size(width, height)  # what the editor tells before the charge is what is made
    assert result.image.size == (made.width, made.height)
    assert output.fit(result.image, width, height).size == (width, height)
    encoded = output.encode(output.fit(result.image, width, height), "jpeg")
    assert encoded[:3] == b"\xff\xd8\xff"


def test_takes_one_to_nine_images(case):
    spec, backend = case
    images = [photo((300 + 10 * n, 200)) for n in range(9)]
    for count in (1, 2, 9):
        assert run(backend, spec.ok_prompt, width=512, height=512, images=images[:count]).image.size[0] > 0


def test_refusal_raises_backend_refused(case):
    spec, backend = case
    with pytest.raises(BackendRefused) as caught:
        if backend.capabilities.plans:
            backend.plan(PlanRequest(prompt=spec.refused_prompt, image_count=1, main_size=(600, 400)))
        run(backend, spec.refused_prompt, width=512, height=512)
    assert caught.value.message and caught.value.code


def test_plans_when_it_says_it_can(case):
    spec, backend = case
    plan = backend.plan(PlanRequest(prompt=spec.ok_prompt, image_count=1, main_size=(600, 400)))
    if backend.capabilities.plans:
        assert plan is not None and plan.steps and all(isinstance(step, str) and step for step in plan.steps)
    else:
        assert plan is None


def test_shared_between_threads(case):
    spec, backend = case
    results: list[tuple[int, int]] = []
    errors: list[BaseException] = []

    def work(size: tuple[int, int]) -> None:
        try:
            results.append(output.fit(run(backend, spec.ok_prompt, width=size[0], height=size[1]).image, *size).size)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    sizes = [(512, 512), (768, 512), (512, 768), (1024, 576)]
    threads = [threading.Thread(target=work, args=(size,)) for size in sizes]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == [] and sorted(results) == sorted(sizes)


def test_registry_names_and_errors():
    with pytest.raises(ConfigurationError, match="not a known backend"):
        create_backend(Settings(_env_file=None, edit_backend="magic"))
    with pytest.raises(ConfigurationError, match="cannot be imported"):
        create_backend(Settings(_env_file=None, edit_backend="no_such_package.module:Backend"))
    third_party = create_backend(Settings(_env_file=None, edit_backend="tests.backends.stand_ins:PassThroughBackend"))
    assert third_party.name == "passthrough"
