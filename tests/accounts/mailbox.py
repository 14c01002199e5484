"""Reading the mail the account tests cause: a real SMTP server's inbox (aiosmtpd), an outbox folder of .eml
files, and the links inside messages."""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from app import mail
from tests.conftest import free_port

LINK = re.compile(r"https?://\S+?\?token=[\w.\-]+")


@dataclass(frozen=True)
class Arrival:
    """How a message came in: over TLS or not, and as which signed-in user."""

    message: EmailMessage
    over_tls: bool
    login: str | None


@dataclass(frozen=True)
class LoginAttempt:
    connection: int
    """Which connection tried (one delivery attempt may try several AUTH mechanisms)."""
    login: str
    password: str
    accepted: bool


class Inbox:
    """What a real SMTP server (aiosmtpd) on a loopback port received; with `credentials`, the only user and
    password its `authenticate` accepts (and every attempt, in `logins`)."""

    def __init__(self, credentials: tuple[str, str] | None = None) -> None:
        self.messages: list[EmailMessage] = []
        self.arrivals: list[Arrival] = []
        self.logins: list[LoginAttempt] = []
        self._connections: list[Any] = []  # kept, so that each connection's session stays distinct
        self.credentials = credentials
        self.arrived = threading.Condition()
        self.port = free_port()
        self.url = f"smtp://127.0.0.1:{self.port}?tls=none"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # aiosmtpd's handler hook
        message = mail.parse(envelope.original_content or envelope.content)
        over_tls = server.transport.get_extra_info("ssl_object") is not None
        login = session.auth_data.login.decode() if session.authenticated else None
        with self.arrived:
            self.messages.append(message)
            self.arrivals.append(Arrival(message, over_tls, login))
            self.arrived.notify_all()
        return "250 Message accepted for delivery"

    def authenticate(self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> Any:
        """aiosmtpd's authenticator: accepts `credentials` only, by any mechanism that carries a password."""
        from aiosmtpd.smtp import AuthResult, LoginPassword

        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        login, password = auth_data.login.decode(), auth_data.password.decode()
        accepted = self.credentials == (login, password)
        with self.arrived:
            if not any(seen is session for seen in self._connections):
                self._connections.append(session)
            connection = next(n for n, seen in enumerate(self._connections) if seen is session)
            self.logins.append(LoginAttempt(connection, login, password, accepted))
            self.arrived.notify_all()
        return AuthResult(success=accepted, handled=False, auth_data=auth_data)  # handled=False: answer 535

    def wait_for_login_connections(self, count: int, timeout: float = 30) -> list[LoginAttempt]:
        """Every login attempt, once `count` connections have tried to sign in."""
        deadline = time.monotonic() + timeout
        with self.arrived:
            while len(self._connections) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"{len(self._connections)} connections tried to sign in, not {count}")
                self.arrived.wait(left)
            return list(self.logins)

    def to(self, address: str) -> list[EmailMessage]:
        with self.arrived:
            return [message for message in self.messages if message["To"] == address]

    def wait_for(self, address: str, count: int = 1, timeout: float = 30) -> EmailMessage:
        """The `count`-th message to `address`, waiting for it to arrive."""
        deadline = time.monotonic() + timeout
        with self.arrived:
            while len([m for m in self.messages if m["To"] == address]) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no mail #{count} to {address} after {timeout}s")
                self.arrived.wait(left)
            return [m for m in self.messages if m["To"] == address][count - 1]


def link_in(message: EmailMessage) -> str:
    """The link of a mail (from its plain-text part)."""
    found = LINK.search(mail.plain_text(message))
    assert found, mail.plain_text(message)
    return found.group(0)


def token_in(message: EmailMessage) -> str:
    return link_in(message).split("?token=", 1)[1]


def outbox_messages(folder: Path) -> list[EmailMessage]:
    return [mail.parse(path.read_bytes()) for path in sorted(folder.glob("*.eml"))] if folder.exists() else []


def wait_for_file_mail(folder: Path, address: str, count: int = 1, timeout: float = 30) -> EmailMessage:
    deadline = time.monotonic() + timeout
    while True:
        found = [message for message in outbox_messages(folder) if message["To"] == address]
        if len(found) >= count:
            return found[count - 1]
        if time.monotonic() > deadline:
            raise AssertionError(f"no mail #{count} to {address} in {folder} after {timeout}s")
        time.sleep(0.05)
