"""What happens to an account after sign-up: confirming the address, forgetting and changing the password,
and the signed-in sessions a person can see and end.

Mailed links carry a token signed with SECRET_KEY (itsdangerous) that names its purpose, the person and a
fingerprint of the state it may change: the confirmation link fingerprints "not yet confirmed", the reset
link the current password hash. Using a link changes that state, so every link works once; each also
expires (CONFIRM_LINK_HOURS, RESET_LINK_HOURS). The database keeps no token; a link exists only in its mail
(and, until it is delivered, in the mail task's queue message). Logs never show one (app.observability
scrubs `token=` values): with the log:// mailer, open the saved .eml to follow it.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING
from urllib.parse import urlencode

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from app import mail
from app.accounts import devices, tasks
from app.accounts.passwords import hash_password, verify_password
from app.accounts.service import check_password, grant_welcome_credits, normalize_email
from app.errors import AppError, NotAuthenticated, NotFound, ValidationFailed
from app.models import LoginSession, User
from app.models.base import utcnow

if TYPE_CHECKING:
    from app.context import AppContext

CONFIRM = "confirm-email"
RESET = "reset-password"
CONFIRM_LINK_HOURS = 72
RESET_LINK_HOURS = 1
LINK_PATHS = {CONFIRM: "/verify-email", RESET: "/reset-password"}


class LinkRefused(AppError):
    """A mailed link that is tampered with, expired or already used."""

    code = "invalid_link"
    status = 400
    already_confirmed = False


class AlreadyConfirmed(LinkRefused):
    """A used confirmation link whose address is confirmed: nothing is left to do (a page says so kindly)."""

    already_confirmed = True


# --- signed, single-use links -----------------------------------------------------------------------------


def _serializer(context: AppContext) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(context.settings.resolved_secret_key, salt="account-link")


def _fingerprint(purpose: str, user: User, *, as_pending: bool = False) -> str:
    confirmed = user.email_verified_at is not None and not as_pending
    state = f"{user.email}|{'confirmed' if confirmed else 'pending'}" if purpose == CONFIRM \
        else f"{user.email}|{user.password_hash}"
    return hashlib.sha256(f"{purpose}|{state}".encode()).hexdigest()[:24]


def make_token(context: AppContext, purpose: str, user: User) -> str:
    """A token for `purpose` that stays valid until it is used or expires."""
    return str(_serializer(context).dumps({"p": purpose, "u": user.id, "f": _fingerprint(purpose, user)}))


def link(context: AppContext, purpose: str, user: User) -> str:
    """The absolute link mailed for `purpose` (on PUBLIC_URL)."""
    query = urlencode({"token": make_token(context, purpose, user)})
    return f"{context.settings.resolved_public_url}{LINK_PATHS[purpose]}?{query}"


def check_link(context: AppContext, purpose: str, token: str) -> None:
    """LinkRefused unless a token of `purpose` is genuine, fresh and unused, using nothing up: a link's page
    says at once that the link is spent, before anyone types a new password or presses a button."""
    with context.read_transaction() as db:
        _redeem(db, context, purpose, token, lock=False)


def _redeem(db: Session, context: AppContext, purpose: str, token: str, *, lock: bool) -> User:
    """The person a token of `purpose` is for, if it is genuine, fresh and unused; LinkRefused otherwise."""
    hours = CONFIRM_LINK_HOURS if purpose == CONFIRM else RESET_LINK_HOURS
    try:
        payload = _serializer(context).loads(token or "", max_age=hours * 3600)
    except SignatureExpired as exc:
        raise LinkRefused(_EXPIRED[purpose], code="link_expired", field="token") from exc
    except BadSignature as exc:
        raise LinkRefused("This link is not valid. Copy the whole link from the mail, or ask for a new one.",
                          field="token") from exc
    if not isinstance(payload, dict) or payload.get("p") != purpose:
        raise LinkRefused("This link is not valid. Copy the whole link from the mail, or ask for a new one.",
                          field="token")
    query = select(User).where(User.id == str(payload.get("u")))
    user = db.execute(query.with_for_update() if lock else query).scalar_one_or_none()
    if user is None or not hmac.compare_digest(_fingerprint(purpose, user), str(payload.get("f"))):
        if purpose == CONFIRM and user is not None and user.email_verified_at is not None and hmac.compare_digest(
                _fingerprint(purpose, user, as_pending=True), str(payload.get("f"))):  # mailed to this very address
            raise AlreadyConfirmed(_CONFIRMED, code="link_used", field="token")
        raise LinkRefused(_USED[purpose], code="link_used", field="token")
    return user


_EXPIRED = {
    CONFIRM: "This confirmation link has expired. Log in and send a new one from your account page.",
    RESET: "This reset link has expired (they last an hour). Ask for a new one.",
}
_USED = {
    CONFIRM: "This confirmation link was already used (or the address has changed since).",
    RESET: "This reset link was already used, or the password has changed since. Ask for a new one.",
}
_CONFIRMED = "This confirmation link was already used: your address is confirmed, nothing more to do."


# --- confirming the address -------------------------------------------------------------------------------


def send_verification(db: Session, context: AppContext, user: User) -> None:
    """Mail `user` a link that confirms their address (after `db` commits)."""
    message = mail.compose(context.settings, to=user.email, subject=f"Confirm your {mail.PRODUCT} address",
                           template="verify_email", link=link(context, CONFIRM, user), hours=CONFIRM_LINK_HOURS,
                           credits=context.settings.signup_credits if context.settings.email_confirms_signup else 0)
    tasks.send_after_commit(db, context, message)


def resend_verification(db: Session, context: AppContext, user_id: str) -> bool:
    """Mail the confirmation link again; False (and nothing sent) if the address is already confirmed."""
    user = db.get(User, user_id)
    if user is None:
        raise NotFound("No such account.")
    if user.email_verified_at is not None:
        return False
    send_verification(db, context, user)
    return True


def confirm_email(db: Session, context: AppContext, token: str, *, may_grant: Callable[[], bool]) -> User:
    """Mark the address the token was mailed to as confirmed. With a real mail server this is when
    SIGNUP_CREDITS arrive (once per mailbox ever, within the caller's per-address allowance `may_grant`)."""
    user = _redeem(db, context, CONFIRM, token, lock=True)
    mark_confirmed(db, context, user, may_grant=may_grant)
    return user


def mark_confirmed(db: Session, context: AppContext, user: User, *, may_grant: Callable[[], bool]) -> bool:
    """Confirm `user`'s address (a link, or an operator's `users verify`); whether it was not confirmed yet."""
    changed = db.execute(update(User).where(User.id == user.id, User.email_verified_at.is_(None))
                         .values(email_verified_at=utcnow())).rowcount  # type: ignore[attr-defined]
    db.refresh(user)
    if changed and context.settings.email_confirms_signup:
        grant_welcome_credits(db, context, user, may_grant=may_grant)
    return bool(changed)


# --- forgotten and changed passwords ----------------------------------------------------------------------


def request_reset(db: Session, context: AppContext, email: str, *, may_send: Callable[[str], bool]) -> None:
    """Mail a reset link if `email` has an account and `may_send(normalized email)`; nothing otherwise. The
    caller answers the same either way, so the answer says nothing about which addresses have accounts."""
    try:
        normalized = normalize_email(email)
    except ValidationFailed:
        return
    user = db.execute(select(User).where(User.email == normalized)).scalar_one_or_none()
    if user is None or not may_send(normalized):
        return
    message = mail.compose(context.settings, to=user.email, subject=f"Reset your {mail.PRODUCT} password",
                           template="reset_password", link=link(context, RESET, user), hours=RESET_LINK_HOURS)
    tasks.send_after_commit(db, context, message)


def reset_link(context: AppContext, email: str) -> str:
    """A reset link for an operator to hand over (`users reset-link`)."""
    with context.read_transaction() as db:
        user = db.execute(select(User).where(User.email == normalize_email(email))).scalar_one_or_none()
    if user is None:
        raise NotFound(f"No account for {email}.", field="email")
    return link(context, RESET, user)


def reset_password(context: AppContext, token: str, password: str) -> User:
    """Set a new password from a reset link, and end every session of the account (API keys stay). The new
    hash is made before the transaction opens; the token is checked again inside it, so it works once."""
    with context.read_transaction() as db:
        _redeem(db, context, RESET, token, lock=False)  # a bad link is refused before the slow hashing
    fresh = hash_password(check_password(password))
    with context.transaction() as db:
        user = _redeem(db, context, RESET, token, lock=True)
        user.password_hash = fresh
        db.execute(delete(LoginSession).where(LoginSession.user_id == user.id))
        db.flush()
    return user


def change_password(context: AppContext, user_id: str, current: str, new: str, *,
                    keep_session_id: str | None) -> int:
    """Replace the password after checking the current one, and end every other session (API keys stay);
    how many sessions ended. NotAuthenticated (field current_password) when the current one is wrong."""
    with context.read_transaction() as db:
        user = db.get(User, user_id)
        old_hash = user.password_hash if user else None
    if not verify_password(old_hash, current or ""):
        raise NotAuthenticated("Your current password is not right.", field="current_password",
                               code="invalid_credentials")
    try:
        check_password(new)
    except ValidationFailed as error:
        raise ValidationFailed(error.message, field="new_password", code=error.code) from error
    fresh = hash_password(new)
    with context.transaction() as db:
        changed = db.execute(update(User).where(User.id == user_id, User.password_hash == old_hash)
                             .values(password_hash=fresh)).rowcount  # type: ignore[attr-defined]
        if not changed:  # changed meanwhile by another request or a reset
            raise NotAuthenticated("Your password changed meanwhile; log in again.", field="current_password",
                                   code="invalid_credentials")
        return end_other_sessions(db, user_id, keep_session_id)


# --- sessions ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SessionView:
    id: str
    created_at: datetime
    last_seen_at: datetime
    browser: str
    ip_address: str | None
    current: bool


def list_sessions(db: Session, user_id: str, current_session_id: str | None) -> list[SessionView]:
    """The account's live sessions, the most recently used first (this browser's marked `current`)."""
    rows = db.execute(select(LoginSession).where(LoginSession.user_id == user_id, LoginSession.expires_at > utcnow())
                      .order_by(LoginSession.last_seen_at.desc())).scalars()
    return [SessionView(id=row.id, created_at=row.created_at, last_seen_at=row.last_seen_at,
                        browser=devices.describe(row.user_agent), ip_address=row.ip_address,
                        current=row.id == current_session_id) for row in rows]


def end_session_by_id(db: Session, user_id: str, session_id: str) -> None:
    """Sign one of the account's sessions out (NotFound for anyone else's)."""
    ended = db.execute(delete(LoginSession).where(LoginSession.user_id == user_id,
                                                  LoginSession.id == session_id)).rowcount  # type: ignore[attr-defined]
    if not ended:
        raise NotFound("No such session (it may have ended already).")


def end_other_sessions(db: Session, user_id: str, keep_session_id: str | None) -> int:
    """Sign out every session of the account but `keep_session_id`; how many ended."""
    query = delete(LoginSession).where(LoginSession.user_id == user_id)
    if keep_session_id:
        query = query.where(LoginSession.id != keep_session_id)
    return int(db.execute(query).rowcount or 0)  # type: ignore[attr-defined]

