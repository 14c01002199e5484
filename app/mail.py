"""Outgoing mail: what a message looks like (a plain-text and an HTML part, from templates/mail/) and where it
goes, chosen by EMAIL_URL:

- `log://` (the default): each message is logged and written whole as an .eml file under DATA_DIR/outbox, so
  a newcomer can follow any link without a mail server;
- `file:///some/dir`: each message as one .eml file in that folder;
- `smtp://user:pass@host:587`: SMTP with STARTTLS (`?tls=none` for a local relay that offers no TLS);
- `smtps://user:pass@host:465`: SMTP over TLS from the first byte.

The server's certificate is always verified, name included: against the system's authorities, or only against
those in `?ca_file=/path/ca.pem` (a mail server with a certificate of its own authority).

Messages are composed in the request (app.accounts.lifecycle) and delivered by a queue task after the
transaction commits (app.accounts.tasks), retried with backoff: a mail server that is down never fails the
request that asked for the mail.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import parse_qs, unquote, urlsplit

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from app.config import Settings
from app.errors import ConfigurationError

log = logging.getLogger(__name__)

PRODUCT = "Imagedit"
TEMPLATES = Path(__file__).resolve().parent.parent / "templates" / "mail"
SMTP_TIMEOUT_SECONDS = 30

_templates = Environment(loader=FileSystemLoader(TEMPLATES), undefined=StrictUndefined,
                         autoescape=select_autoescape(["html"]), trim_blocks=True, lstrip_blocks=True)


def compose(settings: Settings, *, to: str, subject: str, template: str, **values: Any) -> EmailMessage:
    """A message to `to` from EMAIL_FROM: templates/mail/<template>.txt as the plain part and .html as the
    alternative. Templates get the product's name and the public address besides `values`."""
    shared = {"product": PRODUCT, "public_url": settings.resolved_public_url, "subject": subject, **values}
    message = EmailMessage(policy=policy.SMTP)
    message["Subject"] = subject
    message["From"] = settings.email_from
    message["To"] = to
    message["Date"] = format_datetime(datetime.now(UTC))
    message["Message-ID"] = make_msgid(domain=_domain_of(settings.email_from))
    message.set_content(_templates.get_template(f"{template}.txt").render(shared))
    message.add_alternative(_templates.get_template(f"{template}.html").render(shared), subtype="html")
    return message


def _domain_of(address: str) -> str:
    domain = address.rsplit("@", 1)[-1].strip(" >")
    return domain or "localhost"


def to_text(message: EmailMessage) -> str:
    """The whole message as one string (what a queue task carries)."""
    return message.as_string(policy=policy.SMTP)


def parse(raw: str | bytes) -> EmailMessage:
    """A message back from `to_text` or an .eml file."""
    data = raw.encode() if isinstance(raw, str) else raw
    message = BytesParser(policy=policy.default).parsebytes(data)
    assert isinstance(message, EmailMessage)
    return message


def plain_text(message: EmailMessage) -> str:
    """The plain-text part of a message (what the log shows and tests read links from)."""
    part = message.get_body(preferencelist=("plain",))
    return str(part.get_content()) if part is not None else ""


class Mailer(Protocol):
    """Somewhere messages go. `send` raises on failure; the caller retries."""

    def send(self, message: EmailMessage) -> None: ...


@dataclass
class FolderMailer:
    """Each message as one .eml file in `folder` (`file://`), and also in the log (`log://`)."""

    folder: Path
    also_log: bool = False

    def send(self, message: EmailMessage) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
        path = self.folder / f"{stamp}-{uuid.uuid4().hex[:8]}.eml"
        partial = path.with_suffix(".eml.part")
        partial.write_bytes(message.as_bytes(policy=policy.SMTP))
        partial.replace(path)  # readers never see half a message
        if self.also_log:
            # The text goes to the log with its links' tokens scrubbed; the saved .eml has them whole.
            log.info("mail to %s: %s (saved as %s)\n%s", message["To"], message["Subject"], path,
                     plain_text(message))


@dataclass
class SmtpMailer:
    """A mail server, by SMTP with STARTTLS (`smtp://`, unless `tls="none"`) or over TLS (`smtps://`)."""

    host: str
    port: int
    username: str | None
    password: str | None
    tls: str  # "starttls", "ssl" or "none"
    ca_file: Path | None = None
    """Trust only the authorities in this PEM file instead of the system's."""

    def send(self, message: EmailMessage) -> None:
        context = ssl.create_default_context(cafile=self.ca_file)
        client: smtplib.SMTP
        if self.tls == "ssl":
            client = smtplib.SMTP_SSL(self.host, self.port, timeout=SMTP_TIMEOUT_SECONDS, context=context)
        else:
            client = smtplib.SMTP(self.host, self.port, timeout=SMTP_TIMEOUT_SECONDS)
        with client:
            if self.tls == "starttls":
                client.starttls(context=context)
            if self.username:
                client.login(self.username, self.password or "")
            client.send_message(message)


def create_mailer(settings: Settings) -> Mailer:
    """The mailer EMAIL_URL names; ConfigurationError for one it does not."""
    url = settings.email_url.strip()
    parts = urlsplit(url)
    if parts.scheme == "log":
        return FolderMailer(settings.data_dir / "outbox", also_log=True)
    if parts.scheme == "file":
        folder = unquote(parts.netloc + parts.path)
        if not folder:
            raise ConfigurationError(f"EMAIL_URL={url!r}: name a folder, as in file:///var/mail/imagedit")
        return FolderMailer(Path(folder).expanduser().resolve())
    if parts.scheme in ("smtp", "smtps"):
        if not parts.hostname:
            raise ConfigurationError(f"EMAIL_URL: {parts.scheme}:// needs a host, as in {parts.scheme}://user:pass@host")
        options = {key: values[-1] for key, values in parse_qs(parts.query).items()}
        tls = "ssl" if parts.scheme == "smtps" else options.get("tls", "starttls")
        if tls not in ("starttls", "ssl", "none"):
            raise ConfigurationError(f"EMAIL_URL: tls={tls!r}; use starttls (the default), or none for a local relay")
        ca_file = Path(options["ca_file"]).expanduser() if options.get("ca_file") else None
        if ca_file is not None and not ca_file.is_file():
            raise ConfigurationError(f"EMAIL_URL: ca_file={str(ca_file)!r} is not a file; name a PEM file of the "
                                     "authorities that sign the mail server's certificate")
        return SmtpMailer(host=parts.hostname, port=parts.port or (465 if parts.scheme == "smtps" else 587),
                          username=unquote(parts.username) if parts.username else None,
                          password=unquote(parts.password) if parts.password else None, tls=tls, ca_file=ca_file)
    raise ConfigurationError(f"EMAIL_URL={url.split('@')[-1]!r}: use log://, file:///dir, smtp://… or smtps://…")
