"""/openapi.json (what /docs shows) against the contract in shared/API.md: every route is there with its
fields, no internal parameter leaks, errors are documented in their envelopes, and every answer is typed
(the routes return pydantic models, so the document follows from the code)."""

from __future__ import annotations

import importlib.util
import re
from typing import Any

import pytest

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


def test_every_json_answer_is_typed_by_its_route(spec):
    # Each route returns a pydantic model (or a file, or nothing): its success answer has a named schema.
    for (method, path), operation in operations(spec).items():
        for status, response in operation["responses"].items():
            if not status.startswith("2") or status == "204":
                continue
            content = response.get("content", {})
            if "application/json" not in content:
                assert content and all(media.startswith("image/") or media == "application/zip"  # a data export
                                       for media in content), (method, path, status)
                continue
            schema = content["application/json"]["schema"]
            assert "$ref" in schema, (method, path, status, schema)
            assert resolve(spec, schema).get("properties"), (method, path, status)
