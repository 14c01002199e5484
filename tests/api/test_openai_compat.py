"""POST /v1/images/edits, driven by the official `openai` SDK against the running app: what it answers, its
errors in OpenAI's envelope, and one charge per logical request through the SDK's own retries."""

from __future__ import annotations

import base64
import io
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import httpx2
import openai
import pytest
from openai import OpenAI
from PIL import Image
from sqlalchemy import select

from app.models import Edit, Transfer
from app.storage import Storage
from tests.conftest import api_key_for, create_user, image_bytes, verify_ledger
from tests.fake_openai import (  # noqa: F401  (fixtures)
    billing_hard_limit,
    fake_openai_fixture,
    fake_openai_server_fixture,
    moderation_blocked,
    openai_settings,
)

PROMPT = "Make the background plain white; keep the cup exactly as it is"


ON_FAKE_OPENAI = "on the fake OpenAI"


@pytest.fixture
def settings_overrides(request: pytest.FixtureRequest) -> dict[str, Any]:
    """Short waits; parametrize with ON_FAKE_OPENAI to run the app with EDIT_BACKEND=openai on the fake."""
    param = getattr(request, "param", {})
    if param == ON_FAKE_OPENAI:
        return {"compat_wait_seconds": 20.0, **openai_settings(request.getfixturevalue("fake_openai"))}
    return {"compat_wait_seconds": 20.0, **param}


@pytest.fixture
def person(context) -> tuple[Any, str]:
    user = create_user(context, credits=20)
    return user, api_key_for(context, user.id)


class Attempts:
    """Every HTTP answer the SDK received, retries included (an httpx event hook on the SDK's client)."""

    def __init__(self) -> None:
        self.responses: list[httpx2.Response] = []

    def __call__(self, response: httpx2.Response) -> None:
        self.responses.append(response)

    @property
    def statuses(self) -> list[int]:
        return [response.status_code for response in self.responses]


@pytest.fixture
def attempts() -> Attempts:
    return Attempts()


@pytest.fixture
def sdk(live_server, person, attempts) -> Iterator[OpenAI]:
    client = OpenAI(base_url=live_server.url + "/v1", api_key=person[1], max_retries=2,
                    http_client=httpx2.Client(event_hooks={"response": [attempts]}))
    yield client
    client.close()


def coffee() -> tuple[str, bytes, str]:
    return ("coffee.png", image_bytes("coffee.png"), "image/png")


def decoded(result: Any) -> Image.Image:
    return Image.open(io.BytesIO(base64.b64decode(result.data[0].b64_json)))


def balance(context, user_id: str) -> int:
    from app.billing import ledger

    with context.transaction() as db:
        return ledger.balance(db, user_id).available


def edits_of(context, user_id: str) -> list[Edit]:
    with context.transaction() as db:
        return list(db.execute(select(Edit).where(Edit.user_id == user_id)).scalars())


def charges_of(context, user_id: str) -> list[Transfer]:
    with context.transaction() as db:
        query = select(Transfer).where(Transfer.account_id == user_id, Transfer.kind == "post")
        return list(db.execute(query).scalars())


# --- success -------------------------------------------------------------------------------------------


def test_one_image(sdk, person, context):
    user, _ = person
    result = sdk.images.edit(model="gpt-image-2", image=coffee(), prompt=PROMPT, size="1536x1024",
                             quality="low", output_format="jpeg", output_compression=80, user="end-user-7")
    image = decoded(result)
    assert (image.format, image.size) == ("JPEG", (1536, 1024))
    assert (result.size, result.quality, result.output_format) == ("1536x1024", "low", "jpeg")
    assert result.created > 0 and result.usage is not None and result.usage.total_tokens == 0
    assert balance(context, user.id) == 20 - 2  # low at the 2K tier (long edge 1536)
    [edit] = edits_of(context, user.id)
    assert (edit.source, edit.status, edit.image_count) == ("openai", "succeeded", 1)
    assert edit.output_compression == 80
    verify_ledger(context)


def test_several_images_as_image_array(sdk, person, context):
    user, _ = person
    images = [coffee(), ("a.png", image_bytes("astronaut.png", size=(128, 128)), "image/png"),
              image_bytes("grace_hopper.jpg")]  # raw bytes: the SDK names it "upload", octet-stream
    result = sdk.images.edit(model="my-model", image=images, prompt=PROMPT, quality="auto")
    assert result.quality == "medium" and result.size == "1024x688"  # auto: 1K at the first image's ratio
    assert decoded(result).size == (1024, 688)
    [edit] = edits_of(context, user.id)
    assert edit.image_count == 3 and [item.width for item in edit.inputs] == [600, 128, 512]
    assert balance(context, user.id) == 20 - 2


@pytest.mark.parametrize(("size", "credits"), [("1024x1024", 2), ("1040x1024", 4), ("2048x688", 4),
                                               ("2064x1024", 8)])
def test_size_is_priced_by_its_long_edge(sdk, person, context, size, credits):
    user, _ = person
    result = sdk.images.edit(image=coffee(), prompt=PROMPT, size=size, quality="medium", output_format="webp")
    assert result.size == size and decoded(result).size == tuple(map(int, size.split("x")))
    assert balance(context, user.id) == 20 - credits


@pytest.mark.parametrize("settings_overrides", [ON_FAKE_OPENAI], indirect=True)
def test_through_to_the_openai_backend(sdk, person, context, fake_openai):
    result = sdk.images.edit(model="gpt-image-2", image=[coffee(), coffee()], prompt=PROMPT, size="1024x576")
    assert result.size == "1024x576" and decoded(result).size == (1024, 576)
    sent = fake_openai.last
    assert sent.field("size") == "1136x640" and [part.name for part in sent.files] == ["image[]", "image[]"]
    assert result.usage.input_tokens_details.image_tokens == 2 * 323
    assert result.usage.input_tokens_details.text_tokens == len(PROMPT.split())

    with pytest.raises(openai.BadRequestError) as refused:  # gpt-image-2 has no transparent background
        sdk.images.edit(image=coffee(), prompt=PROMPT, background="transparent", output_format="png")
    assert (refused.value.body["param"], refused.value.body["code"]) == ("background", "unsupported_value")

    fake_openai.then(moderation_blocked("violence"))
    with pytest.raises(openai.BadRequestError) as blocked:
        sdk.images.edit(image=coffee(), prompt="Something the safety system blocks")
    assert (blocked.value.body["type"], blocked.value.body["code"]) == ("image_generation_user_error",
                                                                        "moderation_blocked")
    # A generic message: the categories are kept for the operator (Edit.error_detail), not shown.
    assert "violence" not in blocked.value.body["message"] and "safety system" in blocked.value.body["message"]
    assert blocked.value.response.headers["x-should-retry"] == "false"

    fake_openai.then(billing_hard_limit())  # the operator's provider account, not the caller's request
    with pytest.raises(openai.InternalServerError) as unable:
        sdk.images.edit(image=coffee(), prompt=PROMPT)
    assert (unable.value.status_code, unable.value.body["code"]) == (503, "backend_quota")
    assert "billing" not in unable.value.body["message"].lower() and unable.value.body["param"] is None
    assert balance(context, person[0].id) == 20 - 2  # only the first edit was charged
    verify_ledger(context)


# --- every refusal, in OpenAI's envelope -----------------------------------------------------------------


# One server for all the cases of a rule (a live server per case costs half a second to stop).
SIZE_RULES = [
    ("1000x1000", "multiples of 16"),
    ("1024x1000", "multiples of 16"),
    ("4096x1024", "at most 3840"),
    ("1024x3856", "at most 3840"),
    ("3200x1024", "at most 3:1"),
    ("1024x3136", "at most 3:1"),
    ("large", "WIDTHxHEIGHT"),
    ("1024*1024", "WIDTHxHEIGHT"),
    ("0x1024", "at least 16"),
]


def test_every_size_rule(sdk, person, context, attempts):
    for size, rule in SIZE_RULES:
        with pytest.raises(openai.BadRequestError) as refused:
            sdk.images.edit(image=coffee(), prompt=PROMPT, size=size)
        error = refused.value.body
        assert refused.value.status_code == 400, size
        assert (error["type"], error["param"], error["code"]) == ("invalid_request_error", "size",
                                                                  "invalid_value"), size
        assert rule in error["message"], (size, error["message"])
    assert attempts.statuses == [400] * len(SIZE_RULES)  # none retried
    assert edits_of(context, person[0].id) == [] and balance(context, person[0].id) == 20


BAD_PARAMETERS = [
    ({"n": 2}, "n"),
    ({"quality": "hd"}, "quality"),
    ({"output_format": "gif"}, "output_format"),
    ({"output_compression": 101}, "output_compression"),
    ({"background": "green"}, "background"),
    ({"background": "transparent", "output_format": "jpeg"}, "background"),
    ({"response_format": "url"}, "response_format"),
    ({"stream": True}, "stream"),
    ({"mask": coffee()}, "mask"),
    ({"prompt": "   "}, "prompt"),
    ({"prompt": "x" * 20_001}, "prompt"),
    ({"extra_body": {"colour": "blue"}}, "colour"),
]


def test_bad_parameters_name_the_param(sdk, person, context):
    for options, param in BAD_PARAMETERS:
        arguments = {"image": coffee(), "prompt": PROMPT, **options}
        with pytest.raises(openai.BadRequestError) as refused:
            sdk.images.edit(**arguments)
        assert refused.value.body["param"] == param, (options, refused.value.body)
        assert refused.value.body["type"] == "invalid_request_error"
    assert edits_of(context, person[0].id) == []


def test_image_count_and_type(live_server, person, context):
    key = person[1]
    url = live_server.url + "/v1/images/edits"
    auth = {"Authorization": f"Bearer {key}"}
    none = httpx.post(url, headers=auth, files={"prompt": (None, PROMPT)})  # multipart, no file
    assert none.status_code == 400 and none.json()["error"]["param"] == "image"
    ten = httpx.post(url, headers=auth, data={"prompt": PROMPT},
                     files=[("image[]", coffee()) for _ in range(10)])
    assert ten.status_code == 400 and ten.json()["error"]["param"] == "image"
    text = httpx.post(url, headers=auth, data={"prompt": PROMPT},
                      files=[("image", ("notes.txt", b"hello", "text/plain"))])
    assert text.status_code == 400 and text.json()["error"]["param"] == "image"
    assert edits_of(context, person[0].id) == []


def test_bad_or_missing_api_key(live_server, person, context):
    client = OpenAI(base_url=live_server.url + "/v1", api_key="sk-ie-not-a-real-key", max_retries=2)
    with pytest.raises(openai.AuthenticationError) as refused:
        client.images.edit(image=coffee(), prompt=PROMPT)
    assert refused.value.status_code == 401
    assert refused.value.body["code"] == "invalid_api_key"
    assert refused.value.body["type"] == "invalid_request_error"
    missing = httpx.post(live_server.url + "/v1/images/edits", data={"prompt": PROMPT},
                         files=[("image", coffee())])
    assert missing.status_code == 401 and "API key" in missing.json()["error"]["message"]


def test_short_balance_is_insufficient_quota_and_not_retried(live_server, context, attempts):
    poor = create_user(context, credits=3)
    client = OpenAI(base_url=live_server.url + "/v1", api_key=api_key_for(context, poor.id), max_retries=2,
                    http_client=httpx2.Client(event_hooks={"response": [attempts]}))
    with pytest.raises(openai.RateLimitError) as refused:
        client.images.edit(image=coffee(), prompt=PROMPT, quality="high")  # 4 credits
    assert refused.value.status_code == 429
    assert refused.value.body["type"] == refused.value.body["code"] == "insufficient_quota"
    assert "4 credits" in refused.value.body["message"]
    assert refused.value.response.headers["x-should-retry"] == "false"
    assert attempts.statuses == [429]  # the SDK obeyed: no retry
    assert edits_of(context, poor.id) == [] and balance(context, poor.id) == 3


def test_unknown_v1_path_answers_in_openai_envelope(live_server):
    response = httpx.post(live_server.url + "/v1/images/variations", data={"prompt": "x"})
    assert response.status_code == 404
    assert set(response.json()["error"]) == {"message", "type", "param", "code"}


# --- a failed edit -------------------------------------------------------------------------------------


def test_a_refused_edit_is_400_returns_the_credits_and_is_not_retried(sdk, person, context, backend,
                                                                      attempts):
    backend.fail_in_edit = "There is no person in this photo to cut out."
    with pytest.raises(openai.BadRequestError) as refused:
        sdk.images.edit(image=coffee(), prompt=PROMPT)
    assert refused.value.body["message"] == "There is no person in this photo to cut out."
    assert refused.value.response.headers["x-should-retry"] == "false"
    [edit] = edits_of(context, person[0].id)
    assert edit.status == "failed" and balance(context, person[0].id) == 20
    assert attempts.statuses == [400]


def test_a_plan_refusal_names_the_prompt_and_charges_nothing(sdk, person, context):
    with pytest.raises(openai.BadRequestError) as refused:
        sdk.images.edit(image=coffee(), prompt="Please refuse this")
    assert refused.value.body["param"] == "prompt" and refused.value.body["code"] == "edit_refused"
    assert edits_of(context, person[0].id) == [] and balance(context, person[0].id) == 20


# --- charged once ----------------------------------------------------------------------------------------


class FailsOnceOnResults:
    """File storage whose first read of a result fails, like a storage node that drops one request. A
    real Storage implementation at the boundary, not a patch of our code."""

    def __init__(self, inner: Storage) -> None:
        self.inner = inner
        self.result_reads = 0
        self._lock = threading.Lock()

    def put(self, key: str, data: bytes, content_type: str) -> None:
        self.inner.put(key, data, content_type)

    def get(self, key: str) -> bytes:
        if "/result" in key:
            with self._lock:
                self.result_reads += 1
                first = self.result_reads == 1
            if first:
                raise OSError("storage node unavailable")
        return self.inner.get(key)

    def iter_chunks(self, key: str, chunk_size: int = 1 << 20) -> Iterator[bytes]:
        return self.inner.iter_chunks(key, chunk_size)

    def delete(self, key: str) -> None:
        self.inner.delete(key)

    def exists(self, key: str) -> bool:
        return self.inner.exists(key)


def test_sdk_retry_after_a_5xx_is_charged_once(context, live_server, person, sdk, attempts):
    flaky = FailsOnceOnResults(context.storage)
    context.storage = flaky
    user, _ = person
    raw = sdk.images.with_raw_response.edit(image=coffee(), prompt=PROMPT, size="1024x1024", quality="high")
    result = raw.parse()
    assert decoded(result).size == (1024, 1024)
    assert attempts.statuses == [500, 200] and raw.retries_taken == 1
    assert raw.headers["idempotent-replayed"] == "true"
    assert flaky.result_reads == 2
    assert len(edits_of(context, user.id)) == 1 and len(charges_of(context, user.id)) == 1
    assert balance(context, user.id) == 20 - 4
    verify_ledger(context)


@pytest.mark.parametrize("settings_overrides", [{"compat_wait_seconds": 0.4}], indirect=True)
def test_a_retry_after_a_wait_timeout_keeps_waiting_for_the_same_edit(sdk, person, context, backend,
                                                                      attempts):
    backend.gate.clear()
    answers: list[Any] = []
    call = threading.Thread(target=lambda: answers.append(
        sdk.images.with_raw_response.edit(image=coffee(), prompt=PROMPT)))
    call.start()
    assert backend.started.wait(10)
    time.sleep(0.6)  # the first answer (504) has gone out; the SDK is backing off before its retry
    backend.gate.set()
    call.join(20)
    [raw] = answers
    assert attempts.statuses[0] == 504 and attempts.statuses[-1] == 200 and raw.retries_taken >= 1
    assert len(edits_of(context, person[0].id)) == 1 and len(charges_of(context, person[0].id)) == 1


def test_a_deliberate_second_request_is_a_second_edit(sdk, person, context):
    # The SDK marks first attempts (x-stainless-retry-count: 0): asking again on purpose makes a new edit.
    for _ in range(2):
        sdk.images.edit(image=coffee(), prompt=PROMPT)
    assert len(edits_of(context, person[0].id)) == 2 and balance(context, person[0].id) == 20 - 4


def test_a_client_without_retry_count_is_recognised_by_the_same_body(live_server, person, context):
    url, auth = live_server.url + "/v1/images/edits", {"Authorization": f"Bearer {person[1]}"}
    answers = [httpx.post(url, headers=auth, data={"prompt": PROMPT, "size": "1024x1024"},
                          files=[("image", coffee())], timeout=30) for _ in range(2)]
    assert [answer.status_code for answer in answers] == [200, 200]
    assert answers[0].headers["x-edit-id"] == answers[1].headers["x-edit-id"]
    assert answers[1].headers["idempotent-replayed"] == "true"
    other = httpx.post(url, headers=auth, files=[("image", coffee())], timeout=30,
                       data={"prompt": PROMPT, "size": "1024x1024", "user": "someone-else"})
    assert other.headers["x-edit-id"] != answers[0].headers["x-edit-id"]
    assert len(edits_of(context, person[0].id)) == 2 and balance(context, person[0].id) == 20 - 4


def test_sending_a_failed_request_again_is_a_fresh_try(live_server, person, context, backend):
    url, auth = live_server.url + "/v1/images/edits", {"Authorization": f"Bearer {person[1]}"}
    backend.fail_in_edit = "The engine could not find the cup."
    failed = httpx.post(url, headers=auth, data={"prompt": PROMPT}, files=[("image", coffee())], timeout=30)
    assert failed.status_code == 400 and failed.headers["x-should-retry"] == "false"
    backend.fail_in_edit = None
    again = httpx.post(url, headers=auth, data={"prompt": PROMPT}, files=[("image", coffee())], timeout=30)
    assert again.status_code == 200 and "idempotent-replayed" not in again.headers
    assert [edit.status for edit in sorted(edits_of(context, person[0].id), key=lambda e: e.created_at)] \
        == ["failed", "succeeded"]
    assert balance(context, person[0].id) == 20 - 2
    verify_ledger(context)


def test_idempotency_key_header(sdk, person, context):
    first = sdk.images.with_raw_response.edit(image=coffee(), prompt=PROMPT,
                                              extra_headers={"Idempotency-Key": "order-42"})
    again = sdk.images.with_raw_response.edit(image=coffee(), prompt=PROMPT,
                                              extra_headers={"Idempotency-Key": "order-42"})
    assert first.headers["x-edit-id"] == again.headers["x-edit-id"]
    with pytest.raises(openai.ConflictError) as conflict:
        sdk.images.edit(image=coffee(), prompt="Something else",
                        extra_headers={"Idempotency-Key": "order-42"})
    assert conflict.value.response.headers["x-should-retry"] == "false"
    assert conflict.value.body["code"] == "idempotency_key_reused"
    assert len(edits_of(context, person[0].id)) == 1 and balance(context, person[0].id) == 20 - 2
