"""Mail to a real SMTP server (aiosmtpd on loopback) that speaks TLS and asks for a password, as a hosted mail
service does: `smtp://user:pass@host:port` upgrades with STARTTLS, `smtps://` is TLS from the first byte. The
server's certificate comes from an authority made for the test, trusted through EMAIL_URL's `?ca_file=`; a
certificate that is not trusted, or not for that host, stops the delivery before the password is sent. A
wrong password is retried with backoff and never fails the request that asked for the mail."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from app import mail
from app.accounts import tasks
from app.config import Settings
from app.errors import ConfigurationError
from app.queue import QUEUE_NAME
from tests.accounts.certificates import ServerCertificate, make_server_certificate
from tests.accounts.mailbox import Inbox, link_in

USER, PASSWORD = "mailer", "s3cret pass"


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> ServerCertificate:
    return make_server_certificate(tmp_path_factory.mktemp("tls"))


@contextmanager
def mail_server(certificate: ServerCertificate, *, implicit_tls: bool) -> Iterator[Inbox]:
    """A server that asks for USER and PASSWORD over TLS: STARTTLS required, or TLS from the first byte."""
    from aiosmtpd.controller import Controller

    inbox = Inbox(credentials=(USER, PASSWORD))
    tls: dict[str, Any] = ({"ssl_context": certificate.server_context(), "auth_require_tls": False} if implicit_tls
                           else {"tls_context": certificate.server_context(), "require_starttls": True,
                                 "auth_required": True})
    controller = Controller(inbox, hostname="127.0.0.1", port=inbox.port, authenticator=inbox.authenticate, **tls)
    controller.start()
    try:
        yield inbox
    finally:
        controller.stop()


@pytest.fixture
def starttls_inbox(certificate: ServerCertificate) -> Iterator[Inbox]:
    with mail_server(certificate, implicit_tls=False) as inbox:
        yield inbox


def url(scheme: str, port: int, *, password: str = PASSWORD, host: str = "127.0.0.1",
        ca_file: Path | None = None) -> str:
    trust = f"?ca_file={ca_file}" if ca_file else ""
    return f"{scheme}://{USER}:{password.replace(' ', '%20')}@{host}:{port}{trust}"


@pytest.fixture
def settings_overrides(request: pytest.FixtureRequest, starttls_inbox: Inbox,
                       certificate: ServerCertificate) -> dict[str, Any]:
    password = getattr(request, "param", PASSWORD)
    return {"email_url": url("smtp", starttls_inbox.port, password=password, ca_file=certificate.ca_file)}


def a_message(settings: Settings) -> Any:
    return mail.compose(settings, to="someone@example.com", subject="Confirm your Imagedit address",
                        template="verify_email", link="https://imagedit.example/verify-email?token=abc", hours=72,
                        credits=0)


def test_sign_up_mail_arrives_over_starttls_as_the_configured_user(starttls_inbox, client):
    answer = client.post("/api/v1/auth/signup", json={"email": "secure@example.com", "password": "long enough"})
    assert answer.status_code == 201, answer.text
    message = starttls_inbox.wait_for("secure@example.com")
    [arrival] = starttls_inbox.arrivals
    assert (arrival.over_tls, arrival.login) == (True, USER)
    assert "/verify-email?token=" in link_in(message)
    assert [attempt.accepted for attempt in starttls_inbox.logins] == [True]


@pytest.mark.nodb
def test_smtps_delivers_over_tls_from_the_first_byte(certificate, tmp_path):
    with mail_server(certificate, implicit_tls=True) as inbox:
        settings = Settings(_env_file=None, data_dir=tmp_path,
                            email_url=url("smtps", inbox.port, ca_file=certificate.ca_file))
        mailer = mail.create_mailer(settings)
        mailer.send(a_message(settings))
        message = inbox.wait_for("someone@example.com")
    [arrival] = inbox.arrivals
    assert (arrival.over_tls, arrival.login) == (True, USER)
    assert mail.plain_text(message) and message.get_body(preferencelist=("html",)) is not None


@pytest.mark.nodb
@pytest.mark.parametrize("scheme", ["smtp", "smtps"])
def test_an_untrusted_or_misnamed_certificate_stops_the_mail_before_the_password(scheme, certificate, tmp_path):
    with mail_server(certificate, implicit_tls=scheme == "smtps") as inbox:
        # The system's authorities do not know the test's; and the certificate names 127.0.0.1, not localhost.
        for email_url in (url(scheme, inbox.port), url(scheme, inbox.port, host="localhost",
                                                        ca_file=certificate.ca_file)):
            settings = Settings(_env_file=None, data_dir=tmp_path, email_url=email_url)
            with pytest.raises(ssl.SSLCertVerificationError):
                mail.create_mailer(settings).send(a_message(settings))
    assert inbox.logins == [] and inbox.messages == []


@pytest.mark.nodb
def test_a_missing_ca_file_is_refused_at_start(tmp_path):
    settings = Settings(_env_file=None, data_dir=tmp_path,
                        email_url=f"smtp://mail.example.com?ca_file={tmp_path}/nowhere.pem")
    with pytest.raises(ConfigurationError, match="ca_file"):
        mail.create_mailer(settings)


@pytest.mark.parametrize("settings_overrides", ["not the password"], indirect=True)
def test_a_wrong_password_is_retried_with_backoff_and_never_fails_the_request(starttls_inbox, client, context,
                                                                              monkeypatch):
    monkeypatch.setattr(tasks, "MAIL_RETRY_BASE_SECONDS", 0.05)  # the same doubling, in less time
    delays: list[float] = []
    send = context.queue.send

    def recording_send(name: str, *args: str, delay_seconds: float = 0) -> None:
        if name == tasks.SEND_MAIL:
            delays.append(delay_seconds)
        send(name, *args, delay_seconds=delay_seconds)

    monkeypatch.setattr(context.queue, "send", recording_send)
    answer = client.post("/api/v1/auth/signup", json={"email": "patient@example.com", "password": "long enough"})
    assert answer.status_code == 201, answer.text
    assert client.get("/api/v1/me").json()["email_verified"] is False

    attempts = starttls_inbox.wait_for_login_connections(tasks.MAIL_ATTEMPTS)
    context.queue.broker.join(QUEUE_NAME, timeout=30_000)  # the last attempt has ended, and queued no other
    assert len({attempt.connection for attempt in starttls_inbox.logins}) == tasks.MAIL_ATTEMPTS
    assert {(attempt.login, attempt.password, attempt.accepted) for attempt in attempts} == \
        {(USER, "not the password", False)}
    assert delays == [0, 0.05, 0.1, 0.2, 0.4]  # sent after the commit, then four retries, each wait doubled
    assert starttls_inbox.messages == []
