"""/openapi.json (what /docs shows) against the contract in shared/API.md and against real answers: every
route is there with its fields, no internal parameter leaks, and each documented answer has exactly the
keys the route really sends."""

from __future__ import annotations

import importlib.util
import re
from typing import Any

import pytest

from tests.conftest import api_key_for, create_user, image_bytes, wait_for_edit

# shared/API.md, route by route: where its fields go and what they are called.
CONTRACT: dict[tuple[str, str], dict[str, set[str]]] = {
    ("post", "/api/v1/auth/signup"): {"json": {"email", "password"}},
    ("post", "/api/v1/auth/login"): {"json": {"email", "password"}},
    ("post", "/api/v1/auth/logout"): {},
    ("get", "/api/v1/me"): {},
    ("post", "/api/v1/api-keys"): {"json": {"name"}},
    ("get", "/api/v1/pricing"): {},
    ("post", "/api/v1/estimate"): {"json": {"quality", "resolution", "aspect_ratio", "image_count", "width",
                                            "height", "prompt"}},
    ("post", "/api/v1/edits"): {"multipart": {"image", "prompt", "quality", "resolution", "aspect_ratio",
                                              "output_format", "parent_id"}, "header": {"Idempotency-Key"}},
    ("get", "/api/v1/edits"): {"query": {"limit", "cursor"}},
    ("get", "/api/v1/edits/{}"): {},
    ("get", "/api/v1/edits/{}/result"): {"query": {"inline"}},
    ("get", "/api/v1/edits/{}/inputs/{}"): {},
    ("delete", "/api/v1/edits/{}"): {},
    ("get", "/api/v1/ledger"): {"query": {"limit", "cursor"}},
    ("post", "/v1/images/edits"): {"multipart": {"image", "image[]", "prompt", "model", "quality", "size",
                                                 "output_format", "output_compression", "n", "background",
                                                 "user"}},
}
BILLING = {("post", "/api/v1/billing/checkout"): {"json": {"pack_id"}},
           ("post", "/api/v1/billing/stripe/webhook"): {}}


def contract() -> dict[tuple[str, str], dict[str, set[str]]]:
    # Billing is another piece of work; once its routes exist, they are held to the contract too.
    return CONTRACT | (BILLING if importlib.util.find_spec("app.billing.routes") else {})


def operations(spec: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(method, re.sub(r"\{[^}]+\}", "{}", path)): operation
            for path, methods in spec["paths"].items() for method, operation in methods.items()}


def resolve(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    if "$ref" in schema:
        return resolve(spec, spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]])
    return schema


def body_fields(spec: dict[str, Any], operation: dict[str, Any], media: str) -> set[str]:
    content = operation.get("requestBody", {}).get("content", {}).get(media)
    return set(resolve(spec, content["schema"])["properties"]) if content else set()


@pytest.fixture
def spec(client) -> dict[str, Any]:
    response = client.get("/openapi.json")
    assert response.status_code == 200
    return response.json()


def test_every_contract_route_is_documented_with_its_fields(spec):
    documented = operations(spec)
    for (method, path), fields in contract().items():
        operation = documented.get((method, path))
        assert operation is not None, f"{method.upper()} {path} is missing from /openapi.json"
        where = f"{method.upper()} {path}"
        assert body_fields(spec, operation, "application/json") == fields.get("json", set()), where
        assert body_fields(spec, operation, "multipart/form-data") == fields.get("multipart", set()), where
        for place in ("query", "header"):
            names = {p["name"] for p in operation.get("parameters", []) if p["in"] == place}
            assert names == fields.get(place, set()), (where, place, names)
        assert operation.get("responses"), where


def test_no_internal_parameter_leaks_into_any_route(spec):
    # Dependencies (the context, the database session, the principal) must never show as parameters.
    allowed = {"limit", "cursor", "inline", "Idempotency-Key"}
    for (method, path), operation in operations(spec).items():
        for parameter in operation.get("parameters", []):
            if parameter["in"] != "path":
                assert parameter["name"] in allowed, (method, path, parameter)


def test_errors_are_documented_in_the_envelopes_they_are_sent_in(spec):
    documented = operations(spec)
    for (method, path), operation in documented.items():
        for status, response in operation["responses"].items():
            if status.startswith(("4", "5")):
                schema = resolve(spec, response["content"]["application/json"]["schema"])
                envelope = resolve(spec, schema["properties"]["error"])
                expected = ({"message", "type", "param", "code"} if path.startswith("/v1/")
                            else {"code", "message", "field"})
                assert set(envelope["properties"]) == expected, (method, path, status)
    upload = documented[("post", "/api/v1/edits")]
    assert {"202", "400", "401", "402", "409", "413", "415", "422"} <= set(upload["responses"])
    assert upload["requestBody"]["content"]["multipart/form-data"]["schema"]["required"] == ["image", "prompt"]
    compat = documented[("post", "/v1/images/edits")]
    assert {"200", "400", "401", "429", "500", "504"} <= set(compat["responses"])
    result = documented[("get", "/api/v1/edits/{}/result")]["responses"]["200"]["content"]
    assert set(result) == {"image/png", "image/jpeg", "image/webp"}


def assert_shape(spec: dict[str, Any], schema: dict[str, Any], value: Any, where: str) -> None:
    """`value` has the keys its documented schema names (all the required ones, no others), all the way down."""
    schema = resolve(spec, schema)
    if "anyOf" in schema:
        options = [resolve(spec, option) for option in schema["anyOf"]]
        if value is None:
            assert any(option.get("type") == "null" for option in options), where
            return
        schema = next((option for option in options if option.get("type") != "null"), options[0])
    if isinstance(value, dict) and "properties" in schema:
        required, named = set(schema.get("required", ())), set(schema["properties"])
        assert required <= set(value) <= named, (where, set(value) ^ named)
        for key, item in value.items():
            assert_shape(spec, schema["properties"][key], item, f"{where}.{key}")
    elif isinstance(value, list) and "items" in schema:
        for index, item in enumerate(value):
            assert_shape(spec, schema["items"], item, f"{where}[{index}]")


def documented_answer(spec: dict[str, Any], method: str, path: str, status: int = 200) -> dict[str, Any]:
    return operations(spec)[(method, path)]["responses"][str(status)]["content"]["application/json"]["schema"]


def test_documented_answers_have_exactly_the_keys_sent(client, context, spec):
    signed_up = client.post("/api/v1/auth/signup", json={"email": "doc@example.com", "password": "long enough"})
    assert_shape(spec, documented_answer(spec, "post", "/api/v1/auth/signup", 201), signed_up.json(), "signup")
    csrf = {"X-CSRF-Token": client.cookies["csrftoken"]}
    logged_in = client.post("/api/v1/auth/login", json={"email": "doc@example.com", "password": "long enough"})
    assert_shape(spec, documented_answer(spec, "post", "/api/v1/auth/login"), logged_in.json(), "login")
    assert_shape(spec, documented_answer(spec, "get", "/api/v1/me"), client.get("/api/v1/me").json(), "me")
    created = client.post("/api/v1/api-keys", json={"name": "docs"}, headers=csrf)
    assert_shape(spec, documented_answer(spec, "post", "/api/v1/api-keys", 201), created.json(), "api-key")
    assert_shape(spec, documented_answer(spec, "get", "/api/v1/api-keys"), client.get("/api/v1/api-keys").json(),
                 "api-keys")
    client.cookies.clear()

    user = create_user(context, credits=50)
    headers = {"Authorization": f"Bearer {api_key_for(context, user.id)}"}
    assert_shape(spec, documented_answer(spec, "get", "/api/v1/pricing"), client.get("/api/v1/pricing").json(),
                 "pricing")
    estimate = client.post("/api/v1/estimate", headers=headers, json={"quality": "low", "prompt": "refuse it"})
    assert estimate.json()["refusal"] is not None  # the nested refusal object is checked too
    assert_shape(spec, documented_answer(spec, "post", "/api/v1/estimate"), estimate.json(), "estimate")
    submitted = client.post("/api/v1/edits", headers=headers, data={"prompt": "Brighter please"},
                            files=[("image", ("coffee.png", image_bytes("coffee.png"), "image/png"))])
    assert_shape(spec, documented_answer(spec, "post", "/api/v1/edits", 202), submitted.json(), "edit")
    done = wait_for_edit(client, submitted.json()["id"], headers=headers)
    assert_shape(spec, documented_answer(spec, "get", "/api/v1/edits/{}"), done, "edit")
    assert_shape(spec, documented_answer(spec, "get", "/api/v1/edits"),
                 client.get("/api/v1/edits", headers=headers).json(), "edits")
    assert_shape(spec, documented_answer(spec, "get", "/api/v1/ledger"),
                 client.get("/api/v1/ledger", headers=headers).json(), "ledger")
    refused = client.get("/api/v1/me")
    assert_shape(spec, operations(spec)[("get", "/api/v1/me")]["responses"]["4XX"]["content"]
                 ["application/json"]["schema"], refused.json(), "error")

    compat = client.post("/v1/images/edits", headers=headers, data={"prompt": "Brighter please", "size": "512x512"},
                         files=[("image", ("coffee.png", image_bytes("coffee.png"), "image/png"))])
    assert compat.status_code == 200, compat.text
    assert_shape(spec, documented_answer(spec, "post", "/v1/images/edits"), compat.json(), "images")
    bad = client.post("/v1/images/edits", headers=headers, data={"prompt": "x", "n": "3"},
                      files=[("image", ("coffee.png", image_bytes("coffee.png"), "image/png"))])
    assert_shape(spec, documented_answer(spec, "post", "/v1/images/edits", 400), bad.json(), "openai error")
