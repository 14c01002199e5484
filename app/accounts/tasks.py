"""The accounts tasks every process that runs workers registers (app.context.build_context): mail delivery."""

from __future__ import annotations

import logging
from email.message import EmailMessage
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from app import mail
from app.db import after_commit

if TYPE_CHECKING:
    from app.context import AppContext

log = logging.getLogger(__name__)

SEND_MAIL = "accounts.send_mail"
MAIL_ATTEMPTS = 5
MAIL_RETRY_BASE_SECONDS = 30.0  # then 1, 2 and 4 minutes: about eight minutes in all


def register(context: AppContext) -> None:
    """Deliver mail through EMAIL_URL's mailer, retried with backoff."""
    mailer = mail.create_mailer(context.settings)
    context.queue.register(SEND_MAIL, lambda raw, attempt="1": deliver(context, mailer, raw, int(attempt)))


def send_after_commit(db: Session, context: AppContext, message: EmailMessage) -> None:
    """Queue `message` once `db`'s transaction commits (dropped if it rolls back)."""
    raw = mail.to_text(message)
    after_commit(db, lambda: context.queue.send(SEND_MAIL, raw, "1"))


def deliver(context: AppContext, mailer: mail.Mailer, raw: str, attempt: int) -> None:
    """One delivery attempt; a failure queues the next one after a doubling delay, up to MAIL_ATTEMPTS."""
    message = mail.parse(raw)
    try:
        mailer.send(message)
    except Exception as exc:  # any failure of the server or the network: try again later
        if attempt >= MAIL_ATTEMPTS:
            log.error("mail to %s (%s) not sent after %d attempts: %s", message["To"], message["Subject"],
                      attempt, exc)
            return
        delay = MAIL_RETRY_BASE_SECONDS * 2 ** (attempt - 1)
        log.warning("mail to %s (%s) failed (attempt %d: %s); retrying in %.0f s", message["To"],
                    message["Subject"], attempt, exc, delay)
        context.queue.send(SEND_MAIL, raw, str(attempt + 1), delay_seconds=delay)
