"""Every kind of failed answer from OpenAI, through the fake: what the customer reads, that the credits come
back, what the operator gets (the stored detail with the provider's request id, an error in the log, the
failure metric, counted by the runner), `x-should-retry`, and the customer's id sent in the spec's field."""

from __future__ import annotations

import io
import logging

import pytest
from PIL import Image
from prometheus_client import REGISTRY
from sqlalchemy import select

from app.backends.base import BackendRefused, EditRequest, customer_id
from app.backends.openai import QUOTA_MESSAGE
from app.editor.failures import recent_failures
from app.models import Edit
from app.models.base import utcnow
from tests.backends import openai_spec_facts as spec
from tests.conftest import api_key_for, create_user, image_bytes, verify_ledger, wait_for_edit
from tests.fake_openai import (  # noqa: F401  (fixtures)
    billing_hard_limit,
    documented,
    fake_openai_fixture,
    fake_openai_server_fixture,
    input_fidelity_unsupported,
    moderation_blocked,
    openai_backend_for_tests,
    openai_settings,
    quota_exceeded,
    server_error,
)


def failures(code: str) -> float:
    return REGISTRY.get_sample_value("imagedit_backend_failures_total", {"backend": "openai", "code": code}) or 0.0


def edit_request(**options: str) -> EditRequest:
    image = Image.open(io.BytesIO(image_bytes("coffee.png"))).convert("RGB")
    return EditRequest(images=[image], prompt="Make the cup blue", quality="medium", width=1024, height=1024,
                       **options)  # type: ignore[arg-type]


@pytest.mark.nodb
@pytest.mark.parametrize(("reply", "request_id", "provider_code"), [
    (billing_hard_limit, "req_billing_400", "billing_hard_limit_reached"),
    (quota_exceeded, "req_quota_429", "insufficient_quota"),
])
def test_quota_and_billing_limits_alert_the_operator_and_tell_the_customer_little(
        fake_openai, caplog, reply, request_id, provider_code):
    fake_openai.then(reply())
    with caplog.at_level(logging.ERROR, logger="app.backends.openai"), pytest.raises(BackendRefused) as refused:
        openai_backend_for_tests(fake_openai).edit(edit_request())
    assert refused.value.code == "backend_quota"
    assert refused.value.message == QUOTA_MESSAGE
    assert provider_code in refused.value.detail and request_id in refused.value.detail  # type: ignore[operator]
    assert len(fake_openai.requests) == 1  # not retried
    errors = [record for record in caplog.records if record.levelno == logging.ERROR]
    assert errors and request_id in errors[0].getMessage() and provider_code in errors[0].getMessage()


@pytest.mark.nodb
def test_a_parameter_the_model_does_not_take_is_the_operators_problem(fake_openai, caplog):
    fake_openai.then(input_fidelity_unsupported())
    with caplog.at_level(logging.ERROR, logger="app.backends.openai"), pytest.raises(BackendRefused) as refused:
        openai_backend_for_tests(fake_openai).edit(edit_request())
    assert refused.value.code == "backend_misconfigured"
    assert "input_fidelity" not in refused.value.message and "credits were returned" in refused.value.message
    assert "invalid_input_fidelity_model" in refused.value.detail  # type: ignore[operator]
    assert "req_fidelity_400" in caplog.text
    assert len(fake_openai.requests) == 1


@pytest.mark.nodb
def test_moderation_keeps_the_categories_for_the_operator(fake_openai, caplog):
    fake_openai.then(moderation_blocked("sexual, violence"))
    with caplog.at_level(logging.WARNING, logger="app.backends.openai"), pytest.raises(BackendRefused) as refused:
        openai_backend_for_tests(fake_openai).edit(edit_request())
    assert refused.value.code == "moderation_blocked"
    assert "violence" not in refused.value.message and "sexual" not in refused.value.message
    assert "safety_violations=[sexual, violence]" in refused.value.detail  # type: ignore[operator]
    assert "req_moderation_400" in caplog.text


@pytest.mark.nodb
def test_x_should_retry_false_ends_the_call_at_once(fake_openai):
    answer = spec.ErrorAnswer(503, "server_error", "", "The engine is currently overloaded.")
    fake_openai.then(documented(answer, request_id="req_busy", should_retry="false"))
    with pytest.raises(BackendRefused) as refused:
        openai_backend_for_tests(fake_openai).edit(edit_request())
    assert refused.value.code == "backend_unavailable" and "credits were returned" in refused.value.message
    assert "req_busy" in refused.value.detail  # type: ignore[operator]
    assert len(fake_openai.requests) == 1


@pytest.mark.nodb
def test_x_should_retry_true_retries_even_a_400(fake_openai, caplog):
    answer = spec.ErrorAnswer(400, "invalid_request_error", "", "Please retry.")
    fake_openai.then(documented(answer, request_id="req_again", should_retry="true"))
    with caplog.at_level(logging.WARNING, logger="app.backends.openai"):
        result = openai_backend_for_tests(fake_openai).edit(edit_request())
    assert result.image.size == (1024, 1024)
    assert len(fake_openai.requests) == 2
    assert "req_again" in caplog.text  # each failure is logged with the provider's request id


@pytest.mark.nodb
def test_the_customer_id_is_a_stable_keyed_hash_in_the_user_field(fake_openai):
    backend = openai_backend_for_tests(fake_openai)
    first = customer_id("key-one", "01HUSER")
    assert first == customer_id("key-one", "01HUSER")
    assert first not in (customer_id("key-two", "01HUSER"), customer_id("key-one", "01HOTHER"))
    assert "01HUSER" not in first and len(first) <= spec.CUSTOMER_ID_MAX_LENGTH
    backend.edit(edit_request(customer_id=first))
    assert fake_openai.last.field(spec.CUSTOMER_ID_FIELD) == first
    backend.edit(edit_request())
    assert fake_openai.last.field(spec.CUSTOMER_ID_FIELD) is None


# --- through the app ---------------------------------------------------------------------------------------


@pytest.fixture
def settings_overrides(fake_openai):
    return openai_settings(fake_openai)


@pytest.mark.parametrize(("reply", "code", "provider_code"), [
    (billing_hard_limit, "backend_quota", "billing_hard_limit_reached"),
    (lambda: moderation_blocked("self-harm"), "moderation_blocked", "self-harm"),
    (input_fidelity_unsupported, "backend_misconfigured", "invalid_input_fidelity_model"),
])
def test_a_failed_edit_returns_the_credits_and_keeps_the_detail_for_the_operator(
        client, context, fake_openai, reply, code, provider_code):
    user = create_user(context, credits=5)
    headers = {"Authorization": f"Bearer {api_key_for(context, user.id)}"}
    before = failures(code)
    fake_openai.then(reply())
    response = client.post("/api/v1/edits", headers=headers, data={"prompt": "Make the cup blue"},
                           files=[("image", ("coffee.png", image_bytes("coffee.png"), "image/png"))])
    edit = wait_for_edit(client, response.json()["id"], headers=headers)

    assert edit["status"] == "failed" and edit["error"]["code"] == code
    assert provider_code not in response.text + str(edit)  # the customer never sees the provider's detail
    assert "credits were returned" in edit["error"]["message"]
    assert client.get("/api/v1/me", headers=headers).json()["balance"] == 5
    assert len(fake_openai.requests) == 1
    with context.read_transaction() as db:
        stored = db.scalars(select(Edit).where(Edit.id == edit["id"])).one()
        assert stored.error_detail is not None and provider_code in stored.error_detail
        assert "x-request-id req_" in stored.error_detail
        # The operator's list (`python -m app report failures`): what they must act on, with the detail.
        listed = {failure.edit_id: failure for failure in recent_failures(db, days=1, now=utcnow(), codes=None)}
        assert provider_code in listed[edit["id"]].detail
        operators = {failure.edit_id for failure in recent_failures(db, days=1, now=utcnow())}
        assert (edit["id"] in operators) == (code != "moderation_blocked")
    assert failures(code) == before + 1
    verify_ledger(context)
