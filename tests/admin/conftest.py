"""Builders for the operator console's tests."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from app.admin.service import promote
from app.context import AppContext
from tests.conftest import create_user, login


def create_operator(context: AppContext, *, email: str = "ops@example.com", password: str = "correct horse") -> Any:
    user = create_user(context, email=email, password=password, credits=0)
    with context.transaction() as db:
        promote(db, email)
    return user


def signed_in(app: Any, email: str, password: str = "correct horse") -> TestClient:
    """A TestClient of its own (own cookies), signed in as `email`; its CSRF token is in `.csrf`. Ask for the
    `client` fixture first: it runs the app's lifespan (context, workers) that this one shares."""
    client = TestClient(app)
    client.csrf = login(client, email, password)  # type: ignore[attr-defined]
    return client
