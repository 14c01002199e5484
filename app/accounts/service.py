"""People, their sign-in sessions and their API keys."""

from __future__ import annotations

import functools
import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.accounts.passwords import (
    MAX_PASSWORD_LENGTH,
    MIN_PASSWORD_LENGTH,
    hash_password,
    needs_rehash,
    verify_password,
)
from app.billing import ledger
from app.errors import Conflict, NotAuthenticated, NotFound, ValidationFailed
from app.models import ApiKey, LoginSession, User
from app.models.base import utcnow

if TYPE_CHECKING:
    from app.context import AppContext

API_KEY_PREFIX = "sk-ie-"
# A key in use is marked at most this often, so that every API call does not write.
LAST_USED_GRANULARITY = timedelta(minutes=1)


@dataclass(frozen=True)
class Principal:
    """Who is calling, and how they proved it."""

    user_id: str
    email: str
    via: str  # "session" or "api_key"
    key_id: str | None = None
    key_use_unrecorded: bool = False
    email_verified: bool = False
    session_id: str | None = None
    session_seen_unrecorded: bool = False
    is_operator: bool = False
    """May use the operator console (/admin)."""


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@functools.cache
def _common_passwords() -> frozenset[str]:
    lines = (Path(__file__).with_name("common_passwords.txt")).read_text().splitlines()
    return frozenset(line.strip() for line in lines if line.strip() and not line.startswith("#"))


def is_common_password(password: str) -> bool:
    """Whether `password` is among the most common ones (common_passwords.txt), whatever its case."""
    return password.strip().lower() in _common_passwords()


def normalize_email(email: str | None) -> str:
    try:
        return validate_email((email or "").strip(), check_deliverability=False).normalized.lower()
    except EmailNotValidError as exc:
        raise ValidationFailed(f"Enter a valid email address ({exc}).", field="email", code="invalid_email") from exc


def check_password(password: str | None) -> str:
    password = password or ""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationFailed(f"Use a password of at least {MIN_PASSWORD_LENGTH} characters.", field="password",
                               code="password_too_short")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise ValidationFailed("That password is too long.", field="password", code="password_too_long")
    if is_common_password(password):
        raise ValidationFailed("That password is one of the most common ones and is guessed first; choose "
                               "another (a few unrelated words work well).", field="password",
                               code="password_too_common")
    return password


def create_user(db: Session, *, email: str, password: str, signup_credits: int) -> User:
    """A new person, as an operator makes one (`users create`) or a test builds one: hashed here and granted
    `signup_credits` outright. People signing up themselves go through `sign_up`."""
    normalized = normalize_email(email)
    user = _insert_user(db, normalized, hash_password(check_password(password)))
    if signup_credits > 0:
        ledger.transfer(db, transfer_id=_starting_grant_id(user.id), user_id=user.id, kind="grant",
                        amount=signup_credits, reason="Welcome credits")
    return user


def _starting_grant_id(user_id: str) -> str:
    return f"signup:{user_id}"


def sign_up(context: AppContext, *, email: str, password: str, may_grant: Callable[[], bool]) -> User:
    """A person signing themselves up. The password is hashed before any transaction opens (it is the slow
    part). SIGNUP_CREDITS are granted once per mailbox, ever (`a+shop@x` and `a@x` are one; so are dotted
    Gmail variants), and only if `may_grant()` (asked once the input is valid: the caller's per-address
    allowance of free accounts)."""
    normalized = normalize_email(email)
    password_hash = hash_password(check_password(password))
    # With a real mail server the credits wait for the confirmed address (app.accounts.lifecycle).
    grant_now = not context.settings.email_confirms_signup
    grant_allowed = may_grant() if grant_now else False
    with context.transaction() as db:
        user = _insert_user(db, normalized, password_hash)
        if grant_now:
            grant_welcome_credits(db, context, user, may_grant=lambda: grant_allowed)
        from app.accounts import lifecycle  # the confirmation mail (lifecycle imports this module)

        lifecycle.send_verification(db, context, user)
    return user


def welcome_grant_id(normalized_email: str) -> str:
    return f"signup-mailbox:{_digest(mailbox(normalized_email))[:40]}"


def welcome_credits_due(db: Session, context: AppContext, user: User) -> bool:
    """Whether `user` may still get SIGNUP_CREDITS: there are some, their mailbox never had them, and the
    account was not given starting credits when an operator made it (`users create`)."""
    return (context.settings.signup_credits > 0 and ledger.find(db, welcome_grant_id(user.email)) is None
            and ledger.find(db, _starting_grant_id(user.id)) is None)


def grant_welcome_credits(db: Session, context: AppContext, user: User, *, may_grant: Callable[[], bool]) -> bool:
    """SIGNUP_CREDITS for `user` if `welcome_credits_due` and `may_grant()` (asked only then: the caller's
    per-address allowance). Whether credits were granted now."""
    grant_id = welcome_grant_id(user.email)
    amount = context.settings.signup_credits
    if not welcome_credits_due(db, context, user) or not may_grant():
        return False
    try:
        with db.begin_nested():
            ledger.transfer(db, transfer_id=grant_id, user_id=user.id, kind="grant", amount=amount,
                            reason="Welcome credits")
    except IntegrityError:
        return False  # a concurrent sign-up or confirmation of the same mailbox got the grant
    return True


def mailbox(normalized_email: str) -> str:
    """The mailbox an address delivers to, for the free-credit rule: no `+tag`, and for Gmail no dots."""
    local, _, domain = normalized_email.rpartition("@")
    local = local.split("+", 1)[0]
    if domain in ("gmail.com", "googlemail.com"):
        local, domain = local.replace(".", ""), "gmail.com"
    return f"{local}@{domain}"


def _insert_user(db: Session, normalized_email: str, password_hash: str) -> User:
    if db.execute(select(User.id).where(User.email == normalized_email)).first() is not None:
        raise Conflict("An account with this email already exists; log in instead.", field="email",
                       code="email_taken")
    user = User(email=normalized_email, password_hash=password_hash)
    db.add(user)
    try:
        with db.begin_nested():
            db.flush()
    except IntegrityError as exc:  # a concurrent sign-up with the same email won the race
        raise Conflict("An account with this email already exists; log in instead.", field="email",
                       code="email_taken") from exc
    ledger.open_account(db, user.id)
    return user


def authenticate(context: AppContext, *, email: str, password: str) -> User:
    """The user with these credentials; NotAuthenticated otherwise (without saying which part was wrong).
    The hash is checked with no transaction open: Argon2 is slow on purpose, and a lock held meanwhile
    would stall everyone else."""
    try:
        normalized = normalize_email(email)
    except ValidationFailed:
        normalized = ""
    with context.read_transaction() as db:
        user = db.execute(select(User).where(User.email == normalized)).scalar_one_or_none()
    if not verify_password(user.password_hash if user else None, password or "") or user is None:
        raise NotAuthenticated("Wrong email or password.", code="invalid_credentials")
    if user.disabled_at is not None:  # told only to whoever knows the password
        raise NotAuthenticated("This account has been disabled; contact the operator of this service.",
                               code="account_disabled")
    if needs_rehash(user.password_hash):
        fresh = hash_password(password)
        with context.transaction() as db:
            db.execute(update(User).where(User.id == user.id).values(password_hash=fresh))
    return user


def find_user(db: Session, email: str) -> User:
    user = db.execute(select(User).where(User.email == normalize_email(email))).scalar_one_or_none()
    if user is None:
        raise NotFound(f"No account for {email}.", field="email")
    return user


def start_session(db: Session, user_id: str, *, days: int, user_agent: str | None = None,
                  ip_address: str | None = None) -> str:
    """A new sign-in from the browser `user_agent` at `ip_address`; returns the token for the cookie (only its
    hash is stored)."""
    token = secrets.token_urlsafe(32)
    db.add(LoginSession(token_hash=_digest(token), user_id=user_id, expires_at=utcnow() + timedelta(days=days),
                        user_agent=(user_agent or "")[:300] or None, ip_address=(ip_address or "")[:64] or None))
    db.flush()
    return token


def end_session(db: Session, token: str) -> None:
    db.execute(delete(LoginSession).where(LoginSession.token_hash == _digest(token)))


def principal_for_session(db: Session, token: str) -> Principal | None:
    row = db.execute(
        select(User.id, User.email, User.email_verified_at, LoginSession.expires_at,
               LoginSession.id.label("session_id"), LoginSession.last_seen_at, User.is_operator)
        .join(LoginSession, LoginSession.user_id == User.id)
        .where(LoginSession.token_hash == _digest(token), User.disabled_at.is_(None))
    ).first()
    if row is None or row.expires_at <= utcnow():
        return None
    stale = row.last_seen_at is None or utcnow() - row.last_seen_at > LAST_USED_GRANULARITY
    return Principal(row.id, row.email, "session", email_verified=row.email_verified_at is not None,
                     session_id=row.session_id, session_seen_unrecorded=stale, is_operator=row.is_operator)


def mark_session_seen(db: Session, session_id: str) -> None:
    db.execute(update(LoginSession).where(LoginSession.id == session_id).values(last_seen_at=utcnow()))


def create_api_key(db: Session, user_id: str, name: str | None) -> tuple[ApiKey, str]:
    """A new key; returns the row and the key itself, which is never stored and shown only now."""
    name = (name or "").strip() or "API key"
    if len(name) > 100:
        raise ValidationFailed("Name the key in 100 characters or fewer.", field="name")
    key = API_KEY_PREFIX + secrets.token_urlsafe(32)
    row = ApiKey(user_id=user_id, name=name, key_hash=_digest(key), last4=key[-4:])
    db.add(row)
    db.flush()
    return row, key


def list_api_keys(db: Session, user_id: str) -> list[ApiKey]:
    return list(db.execute(select(ApiKey).where(ApiKey.user_id == user_id, ApiKey.revoked_at.is_(None))
                           .order_by(ApiKey.created_at.desc())).scalars())


def revoke_api_key(db: Session, user_id: str, key_id: str) -> None:
    row = db.get(ApiKey, key_id)
    if row is None or row.user_id != user_id or row.revoked_at is not None:
        raise NotFound("No such API key.")
    row.revoked_at = utcnow()


def principal_for_api_key(db: Session, key: str) -> Principal | None:
    """Who holds this key (a read: `mark_api_key_used` records the use, in a write of its own)."""
    row = db.execute(
        select(ApiKey.id, ApiKey.user_id, ApiKey.last_used_at, User.email, User.email_verified_at,
               User.is_operator)
        .join(User, User.id == ApiKey.user_id)
        .where(ApiKey.key_hash == _digest(key), ApiKey.revoked_at.is_(None), User.disabled_at.is_(None))
    ).first()
    if row is None:
        return None
    stale = row.last_used_at is None or utcnow() - row.last_used_at > LAST_USED_GRANULARITY
    return Principal(row.user_id, row.email, "api_key", key_id=row.id, key_use_unrecorded=stale,
                     email_verified=row.email_verified_at is not None, is_operator=row.is_operator)


def mark_api_key_used(db: Session, key_id: str) -> None:
    db.execute(update(ApiKey).where(ApiKey.id == key_id).values(last_used_at=utcnow()))
