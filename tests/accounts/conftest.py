"""Fixtures of the account tests: a real SMTP server on a loopback port, and EMAIL_URL pointing at it for every
test that asks for that server."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.accounts.mailbox import Inbox


@pytest.fixture
def smtp_server() -> Iterator[Inbox]:
    from aiosmtpd.controller import Controller

    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=inbox.port)
    controller.start()
    yield inbox
    controller.stop()


@pytest.fixture
def settings_overrides(request: pytest.FixtureRequest) -> dict[str, Any]:
    overrides = dict(getattr(request, "param", {}))
    if "smtp_server" in request.fixturenames:
        overrides.setdefault("email_url", request.getfixturevalue("smtp_server").url)
    return overrides
