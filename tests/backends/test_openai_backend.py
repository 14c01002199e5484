"""The `openai` backend against a local server that speaks OpenAI's Images API edit shapes
(tests/fake_openai.py): what it sends, what it makes of each answer, its retries, and one edit end to end
through the JSON API with EDIT_BACKEND=openai."""

from __future__ import annotations

import io
import math
import time

import pytest
from PIL import Image, ImageOps

from app.backends.base import BackendRefused, BackendUnavailable, EditRequest, PlanRequest, customer_id
from app.backends.openai_models import request_size, spec_for
from app.config import Settings
from app.editor.sizes import ASPECT_RATIOS, LONG_EDGE, target_size
from app.errors import ConfigurationError
from tests.conftest import api_key_for, create_user, image_bytes, login, verify_ledger, wait_for_edit
from tests.fake_openai import (  # noqa: F401  (fixtures)
    FAKE_API_KEY,
    drop,
    fake_openai_fixture,
    fake_openai_server_fixture,
    invalid_request,
    moderation_blocked,
    not_an_image,
    openai_backend_for_tests,
    openai_settings,
    quota_exceeded,
    rate_limited,
    server_error,
    slow,
    unauthorized,
)


def photo(name: str = "coffee.png", size: tuple[int, int] | None = (300, 200)) -> Image.Image:
    return Image.open(io.BytesIO(image_bytes(name, size=size))).convert("RGB")


def edit_request(*images: Image.Image, width: int = 1024, height: int = 1024, **options: str) -> EditRequest:
    values = {"prompt": "Make the cup blue; keep the table", "quality": "medium", **options}
    return EditRequest(images=list(images) or [photo()], width=width, height=height, **values)  # type: ignore[arg-type]


# --- what goes out -------------------------------------------------------------------------------------


@pytest.mark.nodb
def test_sends_every_reference_as_image_parts_and_only_what_gpt_image_2_accepts(fake_openai):
    backend = openai_backend_for_tests(fake_openai.url)
    references = [photo("coffee.png", (300, 200)), photo("astronaut.png", (128, 128)),
                  photo("grace_hopper.jpg", None)]
    result = backend.edit(edit_request(*references, width=1536, height=1024, quality="high"))

    sent = fake_openai.last
    assert sent.path == "/v1/images/edits"
    assert sent.headers["authorization"] == f"Bearer {FAKE_API_KEY}"
    assert [part.name for part in sent.files] == ["image[]", "image[]", "image[]"]
    assert [part.image().size for part in sent.files] == [(300, 200), (128, 128), (512, 600)]
    assert {name: values[0] for name, values in sent.fields.items()} == {
        "prompt": "Make the cup blue; keep the table", "model": "gpt-image-2", "quality": "high",
        "size": "1536x1024", "output_format": "png"}
    # The answer is decoded from b64_json: the fake inverts the first reference, fitted to the size asked.
    assert result.image.size == (1536, 1024) and result.image.mode == "RGB"
    expected = ImageOps.invert(ImageOps.fit(sent.files[0].image().convert("RGB"), (1536, 1024)))
    assert result.image.getpixel((700, 500)) == expected.getpixel((700, 500))
    assert result.model == "gpt-image-2"
    assert result.usage is not None and result.usage["input_tokens"] == 7 + 3 * 323
    assert result.usage["input_tokens_details"] == {"text_tokens": 7, "image_tokens": 969}
    assert result.usage["total_tokens"] == result.usage["input_tokens"] + result.usage["output_tokens"]
    assert backend.capabilities.transparent_output is False and backend.capabilities.plans is False
    assert backend.plan(PlanRequest(prompt="anything")) is None


@pytest.mark.nodb
@pytest.mark.parametrize(("output_format", "compression"), [("png", None), ("jpeg", "100"), ("webp", "100")])
def test_output_format_and_compression(fake_openai, output_format, compression):
    backend = openai_backend_for_tests(fake_openai.url)
    result = backend.edit(edit_request(output_format=output_format))
    assert fake_openai.last.field("output_format") == output_format
    assert fake_openai.last.field("output_compression") == compression
    assert result.image.size == (1024, 1024)


@pytest.mark.nodb
def test_promised_size_outside_the_model_rules_asks_for_the_nearest_valid_size(fake_openai):
    backend = openai_backend_for_tests(fake_openai.url)
    result = backend.edit(edit_request(width=1024, height=576))  # 1K 16:9 has too few pixels for gpt-image-2
    assert fake_openai.last.field("size") == "1136x640"
    assert result.image.size == (1136, 640)  # the runner fits it to 1024x576
    assert result.plan == ["gpt-image-2 edited 1 image at medium quality, 1136 × 640",
                           "gpt-image-2 cannot make 1024 × 576: made at 1136 × 640, then reduced to 1024 × 576, "
                           "its edges trimmed a little to fit the shape."]

    backend.edit(edit_request(width=3840, height=3840))  # 4K square has too many
    assert fake_openai.last.field("size") == "2880x2880"


@pytest.mark.nodb
def test_background_is_sent_only_where_the_model_accepts_it(fake_openai):
    backend = openai_backend_for_tests(fake_openai.url)
    backend.edit(edit_request(background="opaque"))
    assert fake_openai.last.field("background") == "opaque"
    with pytest.raises(BackendRefused) as refused:
        backend.edit(edit_request(background="transparent"))
    assert refused.value.code == "invalid_request" and "transparent" in refused.value.message
    assert len(fake_openai.requests) == 1  # refused before anything was sent

    older = openai_backend_for_tests(fake_openai.url, openai_image_model="gpt-image-1.5")
    assert older.capabilities.transparent_output is True
    older.edit(edit_request(width=1024, height=576, background="transparent"))
    sent = fake_openai.last
    assert (sent.field("model"), sent.field("size")) == ("gpt-image-1.5", "1536x1024")
    assert (sent.field("background"), sent.field("input_fidelity")) == ("transparent", "high")


# --- what comes back -----------------------------------------------------------------------------------


@pytest.mark.nodb
def test_moderation_blocked_fails_at_once_with_a_clear_message(fake_openai):
    fake_openai.then(moderation_blocked("violence"))
    with pytest.raises(BackendRefused) as refused:
        openai_backend_for_tests(fake_openai.url).edit(edit_request())
    assert refused.value.code == "moderation_blocked"
    # A generic message for the customer (the guide's advice); the categories are kept for the operator.
    assert "safety system" in refused.value.message and "violence" not in refused.value.message
    assert "credits were returned" in refused.value.message
    assert refused.value.detail is not None and "safety_violations=[violence]" in refused.value.detail
    assert len(fake_openai.requests) == 1


@pytest.mark.nodb
def test_other_400s_fail_at_once_as_invalid_request(fake_openai):
    fake_openai.then(invalid_request("Invalid image file or mode for image 1.", param="image"))
    with pytest.raises(BackendRefused) as refused:
        openai_backend_for_tests(fake_openai.url).edit(edit_request())
    assert refused.value.code == "invalid_request"
    assert "Invalid image file or mode for image 1." in refused.value.message
    assert len(fake_openai.requests) == 1


@pytest.mark.nodb
def test_a_rejected_key_is_an_operator_problem_and_never_leaks_the_key(fake_openai, caplog):
    fake_openai.then(unauthorized())
    with pytest.raises(BackendRefused) as refused:
        openai_backend_for_tests(fake_openai.url).edit(edit_request())
    assert refused.value.code == "backend_misconfigured" and "OPENAI_" in refused.value.message
    for text in (refused.value.message, caplog.text):
        assert FAKE_API_KEY not in text and FAKE_API_KEY[-4:] not in refused.value.message
    assert len(fake_openai.requests) == 1

    # The real server's own check of the key (a wrong key configured) ends the same way.
    wrong = openai_backend_for_tests(fake_openai.url, openai_api_key="sk-wrong-key-1234")
    with pytest.raises(BackendRefused) as refused:
        wrong.edit(edit_request())
    assert refused.value.code == "backend_misconfigured" and "1234" not in refused.value.message


@pytest.mark.nodb
def test_exhausted_provider_quota_is_not_retried(fake_openai):
    fake_openai.then(quota_exceeded())
    with pytest.raises(BackendRefused) as refused:
        openai_backend_for_tests(fake_openai.url).edit(edit_request())
    assert refused.value.code == "backend_quota"
    assert len(fake_openai.requests) == 1


@pytest.mark.nodb
def test_an_answer_without_an_image_is_bad_output(fake_openai):
    fake_openai.then(not_an_image())
    with pytest.raises(BackendRefused) as refused:
        openai_backend_for_tests(fake_openai.url).edit(edit_request())
    assert refused.value.code == "bad_output"


# --- retries -------------------------------------------------------------------------------------------


@pytest.mark.nodb
@pytest.mark.parametrize("header", ["retry-after", "retry-after-ms"])
def test_rate_limit_is_retried_after_the_wait_the_provider_asks_for(fake_openai, header):
    fake_openai.then(rate_limited("0.4" if header == "retry-after" else "400", header=header))
    started = time.monotonic()
    result = openai_backend_for_tests(fake_openai.url).edit(edit_request())
    assert time.monotonic() - started >= 0.4
    assert result.image.size == (1024, 1024)
    assert len(fake_openai.requests) == 2


# A timeout the fake's real answers meet with a wide margin even on a busy machine (2 s was missed at a load
# average of 11 on 2 cores), and a stall far past it.
TIMEOUT = 8.0
SLOWER_THAN_TIMEOUT = 20.0


@pytest.mark.nodb
@pytest.mark.parametrize("failure", [server_error(500), server_error(502), server_error(503), drop(),
                                     slow(SLOWER_THAN_TIMEOUT)],
                         ids=["500", "502", "503", "dropped-connection", "timeout"])
def test_transient_failures_are_retried_within_the_budget(fake_openai, failure):
    backend = openai_backend_for_tests(fake_openai.url, openai_timeout_seconds=TIMEOUT)
    fake_openai.then(failure, failure)
    result = backend.edit(edit_request())
    assert result.image.size == (1024, 1024)
    assert len(fake_openai.requests) == 3  # two failures, then the answer
    assert all(part.image().size == (300, 200) for request in fake_openai.requests for part in request.files)


@pytest.mark.nodb
@pytest.mark.parametrize(("failure", "code"), [(server_error(503), "backend_unavailable"),
                                                (drop(), "backend_unavailable"),
                                                (slow(SLOWER_THAN_TIMEOUT), "backend_timeout"),
                                                (rate_limited(), "rate_limited")])
def test_after_the_retry_budget_the_backend_is_unavailable(fake_openai, failure, code):
    backend = openai_backend_for_tests(fake_openai.url, openai_timeout_seconds=TIMEOUT, openai_max_retries=2)
    fake_openai.then(failure, failure, failure)
    with pytest.raises(BackendUnavailable) as unavailable:
        backend.edit(edit_request())
    assert unavailable.value.code == code
    assert len(fake_openai.requests) == 3


@pytest.mark.nodb
def test_a_retry_after_longer_than_we_wait_hands_over_to_the_runner(fake_openai):
    fake_openai.then(rate_limited("3600"))
    started = time.monotonic()
    with pytest.raises(BackendUnavailable):
        openai_backend_for_tests(fake_openai.url, openai_retry_max_wait_seconds=60).edit(edit_request())
    assert time.monotonic() - started < 30  # it did not wait (it would have waited at least 60 s)
    assert len(fake_openai.requests) == 1


@pytest.mark.nodb
def test_no_api_key_is_a_configuration_error():
    with pytest.raises(ConfigurationError, match="OPENAI_API_KEY"):
        from app.backends.openai import OpenAIBackend

        OpenAIBackend(Settings(_env_file=None, openai_api_key=None))  # type: ignore[call-arg]


# --- the size table ------------------------------------------------------------------------------------


@pytest.mark.nodb
@pytest.mark.parametrize("resolution", list(LONG_EDGE))
@pytest.mark.parametrize("aspect", [ratio for ratio in ASPECT_RATIOS if ratio != "auto"] + ["3:1", "1:3"])
def test_every_promised_size_maps_to_a_valid_gpt_image_2_size_of_the_same_aspect(resolution, aspect):
    spec = spec_for("gpt-image-2")
    width, height = target_size(resolution, "auto", main_size=tuple(map(int, aspect.split(":"))))  # type: ignore[arg-type]
    asked = request_size(spec, width, height)
    assert spec.sizes.accepts(*asked)  # type: ignore[union-attr]
    if spec.sizes.accepts(width, height):  # type: ignore[union-attr]
        assert asked == (width, height)
    ratio = min(max(width / height, 1 / 3), 3)
    assert abs(math.log(asked[0] / asked[1] / ratio)) < 0.01  # within 1 %: the fit crops a sliver at most


@pytest.mark.nodb
def test_model_table():
    assert spec_for("gpt-image-2-2026-04-21").sizes == spec_for("gpt-image-2").sizes
    assert spec_for("gpt-image-2-2027-01-01").name == "gpt-image-2"
    assert spec_for("gpt-image-2").input_fidelity is None
    assert "transparent" not in spec_for("gpt-image-2").backgrounds
    assert "transparent" in spec_for("gpt-image-2").allowed_backgrounds(preview=True)
    assert spec_for("some-other-provider-model").name == "unknown"
    assert request_size(spec_for("some-other-provider-model"), 1024, 1536) == (1024, 1536)
    assert request_size(spec_for("gpt-image-2"), 512, 512) == (816, 816)


# --- end to end through the JSON API --------------------------------------------------------------------


@pytest.fixture
def settings_overrides(fake_openai):
    return openai_settings(fake_openai)


def test_an_edit_through_the_json_api_on_the_openai_backend(client, context, fake_openai):
    user = create_user(context, credits=20)
    headers = {"Authorization": f"Bearer {api_key_for(context, user.id)}"}
    files = [("image", ("coffee.png", image_bytes("coffee.png"), "image/png")),
             ("image", ("astronaut.png", image_bytes("astronaut.png", size=(256, 256)), "image/png"))]
    fields = {"prompt": "Turn the cup blue and keep the table", "quality": "high", "resolution": "1K",
              "aspect_ratio": "16:9", "output_format": "webp"}
    response = client.post("/api/v1/edits", headers=headers, files=files, data=fields)
    assert response.status_code == 202, response.text
    edit = wait_for_edit(client, response.json()["id"], headers=headers)

    assert edit["status"] == "succeeded", edit
    assert (edit["backend"], edit["model"]) == ("openai", "gpt-image-2")
    assert edit["usage"]["input_tokens_details"] == {"text_tokens": 8, "image_tokens": 646}
    sent = fake_openai.last
    assert {name: values[0] for name, values in sent.fields.items()} == {
        "prompt": "Turn the cup blue and keep the table", "model": "gpt-image-2", "quality": "high",
        "size": "1136x640", "output_format": "webp", "output_compression": "100",
        "user": customer_id(context.settings.resolved_secret_key, user.id)}
    assert [part.name for part in sent.files] == ["image[]", "image[]"]
    assert [part.image().size for part in sent.files] == [(600, 400), (256, 256)]

    result = client.get(edit["result_url"], headers=headers)
    image = Image.open(io.BytesIO(result.content))
    assert (image.format, image.size) == ("WEBP", (1024, 576))
    # The provider's image (the inverted cup), fitted to the promised size: bright where the photo is dark.
    original = ImageOps.fit(Image.open(io.BytesIO(image_bytes("coffee.png"))).convert("RGB"), (1024, 576))
    got, before = image.convert("L").getpixel((512, 288)), original.convert("L").getpixel((512, 288))
    assert abs(got - (255 - before)) < 40
    ledger = client.get("/api/v1/me", headers=headers).json()
    assert ledger["balance"] == 20 - 4 and ledger["reserved"] == 0
    assert client.get("/api/v1/pricing").json()["backend"]["transparent_output"] is False
    login(client, user.email)  # the edit's page shows the model and the provider's token counts
    page = client.get(f"/edits/{edit['id']}").text
    assert "gpt-image-2" in page and f"input tokens {edit['usage']['input_tokens']}" in page
    verify_ledger(context)


def test_a_moderated_edit_fails_and_returns_the_credits(client, context, fake_openai):
    user = create_user(context, credits=5)
    headers = {"Authorization": f"Bearer {api_key_for(context, user.id)}"}
    fake_openai.then(moderation_blocked("self-harm"))
    response = client.post("/api/v1/edits", headers=headers, data={"prompt": "Something it will refuse"},
                           files=[("image", ("coffee.png", image_bytes("coffee.png"), "image/png"))])
    edit = wait_for_edit(client, response.json()["id"], headers=headers)
    assert edit["status"] == "failed" and edit["error"]["code"] == "moderation_blocked"
    assert "self-harm" not in edit["error"]["message"] and "safety system" in edit["error"]["message"]
    assert client.get("/api/v1/me", headers=headers).json()["balance"] == 5
    assert len(fake_openai.requests) == 1
    verify_ledger(context)
