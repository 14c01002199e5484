"""Erase an account: every file goes, the person's details become a tombstone, and the ledger stays.

The `users` row is kept, with the address replaced by `deleted-<id>@deleted.invalid`, an unusable password
hash and `deleted_at`: its transfers keep their account id (so `ledger verify` still balances), and the
free-credit grant `signup-mailbox:<hash>` stays recorded, so a new account for the same mailbox gets no
free credits again. The address itself is free to sign up again.

A running edit blocks deletion (409 `edit_running`): its worker is about to store a result and charge it,
so waiting for it would hold a request open for minutes; the person tries again once it has finished.
Queued edits are cancelled and their credits returned first.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from app.accounts.passwords import verify_password
from app.billing import ledger
from app.db import after_commit
from app.editor import files
from app.editor.service import cancel_queued
from app.errors import Conflict, NotFound, ValidationFailed
from app.models import ApiKey, BillingProfile, Edit, Export, LoginSession, Transfer, User
from app.models.base import utcnow

if TYPE_CHECKING:
    from app.context import AppContext

UNUSABLE_PASSWORD = "!deleted"
"""Not an Argon2 hash: no password verifies against it."""


def tombstone_email(user_id: str) -> str:
    return f"deleted-{user_id}@deleted.invalid"


@dataclass(frozen=True)
class Erased:
    edits: int
    cancelled: int
    files: int


@dataclass(frozen=True)
class Standing:
    """What a person gives up by deleting the account, stated before they confirm."""

    available: int
    paid_unspent: int
    """Of `available`, up to this many were bought (top-ups), not granted."""
    running: int
    queued: int


def standing(db: Session, user_id: str) -> Standing:
    balance = ledger.balance(db, user_id)
    bought = sum(db.execute(select(Transfer.amount).where(Transfer.account_id == user_id,
                                                          Transfer.kind == "topup")).scalars())
    statuses = list(db.execute(select(Edit.status).where(
        Edit.user_id == user_id, Edit.status.in_(("queued", "running")), Edit.deleted_at.is_(None))).scalars())
    return Standing(available=balance.available, paid_unspent=min(balance.available, bought),
                    running=statuses.count("running"), queued=statuses.count("queued"))


def delete_account(context: AppContext, user_id: str, password: str) -> Erased:
    """The person deletes their own account, confirming with their password (checked with no transaction
    open: Argon2 is slow)."""
    with context.read_transaction() as db:
        user = db.get(User, user_id)
        if user is None or user.deleted_at is not None:
            raise NotFound("No such account.")
        password_hash = user.password_hash
    if not verify_password(password_hash, password or ""):
        raise ValidationFailed("That is not your password.", field="password", code="wrong_password")
    with context.transaction() as db:
        return erase(context, db, user_id)


def erase(context: AppContext, db: Session, user_id: str) -> Erased:
    """Erase the account in `db`'s transaction (the operator's `users delete` calls this directly); its
    files are removed once that commits."""
    ledger.lock_account(db, user_id)  # no edit is submitted for this person meanwhile
    user = db.get(User, user_id)
    if user is None or user.deleted_at is not None:
        raise NotFound("No such account.")
    edits = list(db.execute(select(Edit).where(Edit.user_id == user_id)).scalars())
    if any(edit.status == "running" for edit in edits):
        raise Conflict("An edit is running; delete the account once it has finished (usually within a "
                       "minute).", code="edit_running")
    keys: list[str] = []
    cancelled = 0
    for edit in edits:
        if edit.status == "queued":
            cancel_queued(db, edit)
            cancelled += 1
        keys += files.stored_keys(edit)
        edit.deleted_at = edit.deleted_at or utcnow()
        edit.prompt = ""
    keys += [key for key in db.execute(select(Export.storage_key).where(Export.user_id == user_id)).scalars()
             if key]
    db.execute(delete(Export).where(Export.user_id == user_id))
    now = utcnow()
    db.execute(update(ApiKey).where(ApiKey.user_id == user_id, ApiKey.revoked_at.is_(None)).values(revoked_at=now))
    db.execute(delete(LoginSession).where(LoginSession.user_id == user_id))
    db.execute(delete(BillingProfile).where(BillingProfile.user_id == user_id))
    user.email = tombstone_email(user_id)
    user.password_hash = UNUSABLE_PASSWORD
    user.email_verified_at = None
    user.deleted_at = now
    db.flush()
    after_commit(db, lambda: files.remove(context.storage, keys))
    return Erased(edits=len(edits), cancelled=cancelled, files=len(keys))
