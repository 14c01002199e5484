"""The adapter against the facts kept about OpenAI's published spec (tests/backends/openai_spec_facts.py):
for every model of the spec's enum and every edit a customer can ask for, the request sends no field or
value the spec does not allow for that model. When a fact changes and the adapter does not follow, these
tests fail."""

from __future__ import annotations

import dataclasses
import io
import itertools
from typing import Any

import pytest
from PIL import Image

from app.backends.base import BackendRefused, EditRequest, customer_id
from app.backends.openai import OpenAIBackend
from app.backends.openai_models import MODELS, spec_for
from app.config import Settings
from app.editor.sizes import ASPECT_RATIOS, LONG_EDGE, target_size
from app.errors import ConfigurationError
from tests.backends import openai_spec_facts as spec
from tests.conftest import image_bytes
from tests.fake_openai import (  # noqa: F401  (fixtures)
    fake_openai_fixture,
    fake_openai_server_fixture,
    openai_backend_for_tests,
)

pytestmark = pytest.mark.nodb

GPT_MODELS = [name for name in spec.MODEL_ENUM if name in spec.GPT_IMAGE_MODELS]
BACKGROUNDS = ("auto", "opaque", "transparent")
FORMATS = ("png", "jpeg", "webp")
CUSTOMER = customer_id("a-secret-key", "user-1")


def backend_for(model: str, preview: bool = False) -> OpenAIBackend:
    return OpenAIBackend(Settings(_env_file=None, openai_api_key="sk-test", openai_image_model=model,  # type: ignore[call-arg]
                                  openai_preview_backgrounds=preview))


def promised_sizes() -> list[tuple[int, int]]:
    sizes = {target_size(resolution, aspect) for resolution in LONG_EDGE for aspect in ASPECT_RATIOS
             if aspect != "auto"}
    sizes |= {target_size(resolution, "auto", main_size=ratio) for resolution in LONG_EDGE
              for ratio in ((3, 1), (1, 3), (5, 4))}
    return sorted(sizes)


def violations(fields: dict[str, str], facts: spec.ModelFacts, preview: bool) -> list[str]:
    """What in these request fields the spec facts do not allow for the model."""
    found = [f"field {name}" for name in fields if name not in facts.fields or name in spec.FILE_FIELDS]
    if fields.get("quality") not in facts.qualities:
        found.append(f"quality {fields.get('quality')}")
    if fields.get("output_format", "png") not in spec.OUTPUT_FORMATS:
        found.append(f"output_format {fields['output_format']}")
    allowed_backgrounds = facts.backgrounds | (facts.preview_backgrounds if preview else frozenset())
    if "background" in fields and fields["background"] not in allowed_backgrounds:
        found.append(f"background {fields['background']}")
    if fields.get("background") == "transparent" and fields.get("output_format") == "jpeg":
        found.append("transparent jpeg")
    if "output_compression" in fields:
        low, high = spec.OUTPUT_COMPRESSION_RANGE
        compression = int(fields["output_compression"])
        if fields.get("output_format") not in spec.COMPRESSED_FORMATS or not low <= compression <= high:
            found.append(f"output_compression {fields['output_compression']}")
    if "input_fidelity" in fields and (not facts.input_fidelity or fields["input_fidelity"] not in spec.INPUT_FIDELITY):
        found.append(f"input_fidelity {fields['input_fidelity']}")
    if len(fields.get(spec.CUSTOMER_ID_FIELD, "")) > spec.CUSTOMER_ID_MAX_LENGTH:
        found.append("user too long")
    width, height = map(int, fields["size"].split("x"))
    sizes = facts.sizes
    if not (sizes.allows(width, height) if isinstance(sizes, spec.FlexibleSizeFacts) else (width, height) in sizes):
        found.append(f"size {fields['size']}")
    return found


def every_request(backend: OpenAIBackend, facts: spec.ModelFacts, preview: bool) -> list[str]:
    """Build the request for every edit a customer can ask for; the violations found, and refusals of
    something the spec allows."""
    image = Image.new("RGB", (64, 64))
    problems: list[str] = []
    qualities = sorted(facts.qualities & {"low", "medium", "high"})
    allowed_backgrounds = facts.backgrounds | (facts.preview_backgrounds if preview else frozenset())
    for quality, background, output_format, (width, height) in itertools.product(
            qualities, BACKGROUNDS, FORMATS, promised_sizes()):
        request = EditRequest(images=[image], prompt="Make it blue", quality=quality, width=width, height=height,
                              output_format=output_format, background=background, customer_id=CUSTOMER)
        try:
            fields = backend.request_fields(request)
        except BackendRefused:
            if background in allowed_backgrounds:
                problems.append(f"refused background {background}, which the spec allows")
            continue
        problems += [f"{quality}/{background}/{output_format}/{width}x{height}: {problem}"
                     for problem in violations(fields, facts, preview)]
        if fields.get(spec.CUSTOMER_ID_FIELD) != CUSTOMER:
            problems.append("the customer is not identified in the spec's field")
    return problems


def test_every_model_of_the_spec_has_its_own_entry():
    for name in spec.MODEL_ENUM:
        assert name in MODELS, name
        assert spec_for(name).name == name


@pytest.mark.parametrize("preview", [False, True])
@pytest.mark.parametrize("model", GPT_MODELS)
def test_the_adapter_sends_only_what_the_spec_allows_for_the_model(model, preview):
    backend = backend_for(model, preview)
    facts = spec.MODELS[model]
    assert every_request(backend, facts, preview) == []
    offered = facts.backgrounds | (facts.preview_backgrounds if preview else frozenset())
    assert backend.capabilities.transparent_output == ("transparent" in offered)
    assert backend.capabilities.max_images <= facts.max_images


def test_a_changed_fact_fails_the_check():
    """If the kept facts change (here: gpt-image-1.5 losing input_fidelity and transparency), the same check
    finds what the adapter would now send wrongly."""
    facts = spec.MODELS["gpt-image-1.5"]
    changed = dataclasses.replace(facts, fields=facts.fields - {"input_fidelity"},
                                  backgrounds=frozenset({"auto", "opaque"}), input_fidelity=False)
    problems = every_request(backend_for("gpt-image-1.5"), changed, preview=False)
    assert any("field input_fidelity" in problem for problem in problems)
    assert any("background transparent" in problem for problem in problems)


def test_dall_e_2_is_refused_at_start_up():
    with pytest.raises(ConfigurationError, match="not a GPT image model"):
        backend_for("dall-e-2")


def test_experimental_sizes_follow_the_spec():
    facts = spec.MODELS["gpt-image-2"].sizes
    assert isinstance(facts, spec.FlexibleSizeFacts)
    model = spec_for("gpt-image-2")
    for width, height in promised_sizes():
        assert model.is_experimental(width, height) == (width * height > facts.experimental_above_pixels)
    assert model.is_experimental(2048, 2048) and not model.is_experimental(2560, 1440)


@pytest.mark.parametrize("model", GPT_MODELS)
def test_each_model_edits_through_the_fake_that_serves_the_spec(fake_openai, model):
    backend = openai_backend_for_tests(fake_openai, openai_image_model=model)
    source = Image.open(io.BytesIO(image_bytes("coffee.png"))).convert("RGB")
    background = "transparent" if backend.capabilities.transparent_output else "opaque"
    result = backend.edit(EditRequest(images=[source], prompt="Make the cup blue", quality="high", width=1024,
                                      height=1024, output_format="webp", background=background,
                                      customer_id=CUSTOMER))
    assert result.image.size == (1024, 1024)
    sent: dict[str, Any] = {name: values[0] for name, values in fake_openai.last.fields.items()}
    assert sent["model"] == model and sent["user"] == CUSTOMER
    assert ("input_fidelity" in sent) == spec.MODELS[model].input_fidelity


def test_an_experimental_size_is_said_in_the_steps(fake_openai):
    backend = openai_backend_for_tests(fake_openai)
    source = Image.open(io.BytesIO(image_bytes("coffee.png"))).convert("RGB")
    square_2k = backend.edit(EditRequest(images=[source], prompt="Make it blue", quality="low", width=2048,
                                         height=2048))
    assert any("experimental" in step for step in square_2k.plan or [])
    square_1k = backend.edit(EditRequest(images=[source], prompt="Make it blue", quality="low", width=1024,
                                         height=1024))
    assert not any("experimental" in step for step in square_1k.plan or [])
