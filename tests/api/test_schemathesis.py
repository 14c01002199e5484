"""Every operation in /openapi.json, fed schemathesis's generated requests (valid and not), against a real
server, never answers 500. Bounded: a few examples per operation and no deadline (the suite must pass on a
busy machine)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from app.config import Settings
from app.main import create_app
from tests.conftest import api_key_for, create_user

# The document the running app serves (create_app builds no context until it starts).
schema = schemathesis.openapi.from_dict(create_app(Settings(data_dir=Path("/nonexistent"), _env_file=None)).openapi())


@pytest.fixture
def fuzz_key(context: Any) -> str:
    user = create_user(context, email="fuzz@example.com", credits=1000)
    return api_key_for(context, user.id)


@schema.parametrize()
@settings(max_examples=10, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
def test_no_generated_request_gets_a_500(case: Any, live_server: Any, fuzz_key: str) -> None:
    # 503 is a real answer here (payments off on this server); 500 would be a bug.
    response = case.call(base_url=live_server.url, headers={"Authorization": f"Bearer {fuzz_key}"})
    assert response.status_code != 500, (case.method, case.path, response.text[:500])
