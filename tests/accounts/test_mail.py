"""Outgoing mail (app.mail): the log:// default writes each message whole into DATA_DIR/outbox, file:// into
a folder, smtp:// to a real SMTP server (aiosmtpd on loopback); a mail server that is down never fails the
request that asked for the mail. """

from __future__ import annotations

import pytest

from app import mail
from app.config import Settings
from app.errors import ConfigurationError
from tests.accounts.mailbox import link_in, wait_for_file_mail
from tests.conftest import free_port

# --- log:// and file:// -----------------------------------------------------------------------------------


def test_log_default_writes_the_whole_message_into_the_outbox(client, settings):
    assert settings.email_url == "log://"
    response = client.post("/api/v1/auth/signup", json={"email": "newcomer@example.com", "password": "long enough"})
    assert response.status_code == 201
    message = wait_for_file_mail(settings.data_dir / "outbox", "newcomer@example.com")
    assert "Imagedit" in message["Subject"] and message["From"] == settings.email_from
    text = mail.plain_text(message)
    html = message.get_body(preferencelist=("html",)).get_content()
    link = link_in(message)
    assert link.startswith(settings.resolved_public_url + "/verify-email?token=")
    assert link in text and link.replace("&", "&amp;") in html and "Imagedit" in html
    # The newcomer path is unchanged: credits at once, the address can still be confirmed.
    assert client.get("/api/v1/me").json()["balance"] == 10


def test_file_url_writes_one_eml_per_message(tmp_path, settings):
    from fastapi.testclient import TestClient

    from app.context import build_context
    from app.main import create_app

    folder = tmp_path / "mails"
    settings = settings.model_copy(update={"email_url": f"file://{folder}"})
    context = build_context(settings)
    try:
        with TestClient(create_app(context=context)) as client:
            client.post("/api/v1/auth/signup", json={"email": "filed@example.com", "password": "long enough"})
            message = wait_for_file_mail(folder, "filed@example.com")
            assert "/verify-email?token=" in link_in(message)
            # A real mail server: the credits wait for the confirmed address.
            assert client.get("/api/v1/me").json()["balance"] == 0
    finally:
        context.queue.stop()
        context.engine.dispose()
    assert not (settings.data_dir / "outbox").exists()


# --- SMTP ---------------------------------------------------------------------------------------------------


def test_smtp_delivers_both_parts(smtp_server, client):
    response = client.post("/api/v1/auth/signup", json={"email": "smtp@example.com", "password": "long enough"})
    assert response.status_code == 201
    message = smtp_server.wait_for("smtp@example.com")
    assert message.get_body(preferencelist=("plain",)) is not None
    assert message.get_body(preferencelist=("html",)) is not None
    assert "Confirm" in message["Subject"]


def test_a_failing_mail_server_does_not_fail_sign_up(database_url, clean_db, tmp_path):
    from fastapi.testclient import TestClient

    from app.context import build_context
    from app.main import create_app
    from tests.conftest import make_settings

    # Nothing listens on this port: every delivery attempt is refused.
    settings = make_settings(tmp_path / "data", database_url, email_url=f"smtp://127.0.0.1:{free_port()}?tls=none")
    context = build_context(settings)
    try:
        with TestClient(create_app(context=context)) as client:
            response = client.post("/api/v1/auth/signup", json={"email": "down@example.com", "password": "long enough"})
            assert response.status_code == 201
            assert client.get("/api/v1/me").json()["email_verified"] is False
            forgot = client.post("/api/v1/auth/forgot-password", json={"email": "down@example.com"})
            assert forgot.status_code == 202
    finally:
        context.queue.stop()
        context.engine.dispose()


@pytest.mark.nodb
@pytest.mark.parametrize("url, kind", [
    ("log://", mail.FolderMailer), ("file:///tmp/x", mail.FolderMailer),
    ("smtp://u:p%40ss@mail.example.com:587", mail.SmtpMailer), ("smtps://mail.example.com", mail.SmtpMailer),
])
def test_email_urls(url, kind, tmp_path):
    mailer = mail.create_mailer(Settings(_env_file=None, data_dir=tmp_path, email_url=url))
    assert isinstance(mailer, kind)
    if url.startswith("smtp://"):
        assert (mailer.password, mailer.port, mailer.tls) == ("p@ss", 587, "starttls")
    if url.startswith("smtps://"):
        assert (mailer.port, mailer.tls) == (465, "ssl")


@pytest.mark.nodb
@pytest.mark.parametrize("url", ["pigeon://coop", "smtp://", "smtp://host?tls=maybe", "file://"])
def test_unknown_email_urls_are_refused_with_a_hint(url, tmp_path):
    with pytest.raises(ConfigurationError):
        mail.create_mailer(Settings(_env_file=None, data_dir=tmp_path, email_url=url))
