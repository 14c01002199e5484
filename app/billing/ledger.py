"""The credit ledger, after TigerBeetle's rules.

Every movement is an immutable `Transfer` whose id is its idempotency key. Each kind of transfer moves the
account's running sums by a fixed `Effect`; one conditional UPDATE applies it only if the account stays
valid (available credit never below zero), which is race-free on SQLite (BEGIN IMMEDIATE) and PostgreSQL
alike. A reservation is a pending `reserve`, later settled exactly once by a `post` or a `void`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session, aliased

from app.errors import InsufficientCredits
from app.models import Account, Edit, Transfer


@dataclass(frozen=True)
class Effect:
    """How a transfer of amount 1 moves an account's sums."""

    credits_posted: int = 0
    debits_posted: int = 0
    debits_pending: int = 0
    outstanding: int = 0

    @property
    def on_available(self) -> int:
        return self.credits_posted - self.debits_posted - self.debits_pending


KINDS: dict[str, Effect] = {
    "grant": Effect(credits_posted=1),  # sign-up credits, operator grants
    "topup": Effect(credits_posted=1),  # a paid top-up
    "reserve": Effect(debits_pending=1),  # credits held for a submitted edit
    "post": Effect(debits_posted=1, debits_pending=-1),  # the held credits charged: the edit succeeded
    "void": Effect(debits_pending=-1),  # the held credits returned: the edit failed
    "debit": Effect(debits_posted=1),  # credits taken back (refund, lost dispute)
    "owe": Effect(outstanding=1),  # credits taken back that were already spent: blocks new edits
    "settle": Effect(debits_posted=1, outstanding=-1),  # an outstanding amount paid from new credits
}
SETTLING_KINDS = ("post", "void")


@dataclass(frozen=True)
class Balance:
    available: int
    reserved: int
    outstanding: int
    on_hold: bool


class LedgerError(Exception):
    """A transfer that breaks the ledger's rules (a bug, never a person's mistake)."""


def open_account(db: Session, user_id: str) -> Account:
    account = Account(user_id=user_id, credits_posted=0, debits_posted=0, debits_pending=0, outstanding=0,
                      on_hold=False)
    db.add(account)
    db.flush()
    return account


def lock_account(db: Session, user_id: str) -> Account:
    """Lock the account row for the rest of the transaction (PostgreSQL; SQLite's BEGIN IMMEDIATE already
    serialises writers). Taken before inserting rows that point at the account, so that the foreign key's
    share lock cannot deadlock against a later update."""
    account = db.execute(
        select(Account).where(Account.user_id == user_id).with_for_update().execution_options(
            populate_existing=True)
    ).scalar_one()
    return account


def balance(db: Session, user_id: str) -> Balance:
    account = db.execute(
        select(Account).where(Account.user_id == user_id).execution_options(populate_existing=True)
    ).scalar_one()
    return Balance(account.available, account.debits_pending, account.outstanding, account.on_hold)


def find(db: Session, transfer_id: str) -> Transfer | None:
    return db.execute(select(Transfer).where(Transfer.id == transfer_id)).scalar_one_or_none()


def transfer(db: Session, *, transfer_id: str, user_id: str, kind: str, amount: int, reason: str = "",
             edit_id: str | None = None, pending_id: str | None = None) -> Transfer:
    """Record one transfer, or return the one already recorded under `transfer_id` (idempotent).

    Raises InsufficientCredits when it would take available credit below zero; nothing changes then.
    """
    if kind not in KINDS:
        raise LedgerError(f"unknown transfer kind {kind!r}")
    if amount <= 0:
        raise LedgerError("a transfer moves a positive amount")
    lock_account(db, user_id)
    existing = find(db, transfer_id)
    if existing is not None:
        if existing.kind != kind or existing.amount != amount or existing.account_id != user_id:
            raise LedgerError(f"transfer {transfer_id} was recorded with other terms")
        return existing
    effect = KINDS[kind]
    row = db.execute(
        text(
            "UPDATE accounts SET credits_posted = credits_posted + :cp, debits_posted = debits_posted + :dp,"
            " debits_pending = debits_pending + :pe, outstanding = outstanding + :ou"
            " WHERE user_id = :user_id"
            " AND (credits_posted + :cp) - (debits_posted + :dp) - (debits_pending + :pe) >= 0"
            " AND debits_pending + :pe >= 0 AND outstanding + :ou >= 0"
            " RETURNING credits_posted - debits_posted - debits_pending"
        ),
        {"cp": effect.credits_posted * amount, "dp": effect.debits_posted * amount,
         "pe": effect.debits_pending * amount, "ou": effect.outstanding * amount, "user_id": user_id},
    ).first()
    if row is None:
        available = balance(db, user_id).available
        raise InsufficientCredits(
            f"This needs {amount} credits and {available} are available.", field="credits")
    record = Transfer(id=transfer_id, account_id=user_id, kind=kind, amount=amount, reason=reason,
                      edit_id=edit_id, pending_id=pending_id, balance_after=row[0])
    db.add(record)
    db.flush()
    # The ORM's copy of the account is stale after the raw UPDATE; reload it when next read.
    account = db.get(Account, user_id)
    if account is not None:
        db.expire(account)
    return record


def settle(db: Session, *, pending_id: str, kind: str, reason: str = "") -> Transfer:
    """Post or void a reservation, exactly once. Settling again returns the first settlement, whatever
    its kind: a reservation that was voided is never charged afterwards, and the other way round."""
    if kind not in SETTLING_KINDS:
        raise LedgerError(f"{kind!r} does not settle a reservation")
    reservation = find(db, pending_id)
    if reservation is None or reservation.kind != "reserve":
        raise LedgerError(f"no reservation {pending_id}")
    lock_account(db, reservation.account_id)
    settled = db.execute(select(Transfer).where(Transfer.pending_id == pending_id)).scalar_one_or_none()
    if settled is not None:
        return settled
    transfer_id = pending_id.removesuffix(":reserve") + f":{kind}"
    return transfer(db, transfer_id=transfer_id, user_id=reservation.account_id, kind=kind,
                    amount=reservation.amount, reason=reason, edit_id=reservation.edit_id, pending_id=pending_id)


def settle_outstanding(db: Session, user_id: str, *, transfer_id: str, reason: str) -> int:
    """Pay what the account owes (credits taken back after they were spent) from its available credits,
    as far as they go. Call it right after new credits arrive. Returns the amount settled."""
    owed = balance(db, user_id)
    amount = min(owed.outstanding, owed.available)
    if amount > 0:
        transfer(db, transfer_id=transfer_id, user_id=user_id, kind="settle", amount=amount, reason=reason)
    return amount


def signed_amount(record: Transfer) -> int:
    """What a transfer did to the available balance, with its sign."""
    return KINDS[record.kind].on_available * record.amount


def history(db: Session, user_id: str, *, limit: int, before_seq: int | None = None) -> Sequence[Transfer]:
    """A person's transfers, newest first."""
    query = select(Transfer).where(Transfer.account_id == user_id)
    if before_seq is not None:
        query = query.where(Transfer.seq < before_seq)
    return db.execute(query.order_by(Transfer.seq.desc()).limit(limit)).scalars().all()


@dataclass(frozen=True)
class Mismatch:
    account: str
    problem: str


def verify(db: Session) -> list[Mismatch]:
    """Recompute every account from its transfers and check the settlement rules. Empty means healthy."""
    problems: list[Mismatch] = []
    sums: dict[str, dict[str, int]] = {}
    rows = db.execute(
        select(Transfer.account_id, Transfer.kind, func.sum(Transfer.amount)).group_by(
            Transfer.account_id, Transfer.kind)
    ).all()
    for account_id, kind, total in rows:
        effect = KINDS.get(kind)
        if effect is None:
            problems.append(Mismatch(account_id, f"unknown transfer kind {kind!r}"))
            continue
        account_sums = sums.setdefault(account_id, dict.fromkeys(Effect.__dataclass_fields__, 0))
        for name in account_sums:
            account_sums[name] += getattr(effect, name) * int(total)
    for account in db.execute(select(Account)).scalars():
        expected = sums.get(account.user_id, dict.fromkeys(Effect.__dataclass_fields__, 0))
        for name, value in expected.items():
            if getattr(account, name) != value:
                problems.append(Mismatch(account.user_id, f"{name} is {getattr(account, name)}, transfers say {value}"))
        if account.available < 0:
            problems.append(Mismatch(account.user_id, f"available credit is {account.available}"))
    # Every settlement matches its reservation; no reservation of a finished edit is left pending.
    reserved = aliased(Transfer)
    pairs = db.execute(
        select(Transfer, reserved).outerjoin(reserved, reserved.id == Transfer.pending_id)
        .where(Transfer.kind.in_(SETTLING_KINDS))
    ).all()
    for settlement, reservation in pairs:
        if reservation is None or reservation.kind != "reserve":
            problems.append(Mismatch(settlement.account_id, f"{settlement.id} settles no reservation"))
        elif reservation.amount != settlement.amount or reservation.account_id != settlement.account_id:
            problems.append(Mismatch(settlement.account_id, f"{settlement.id} does not match {reservation.id}"))
    settled_ids = select(Transfer.pending_id).where(Transfer.pending_id.is_not(None))
    stranded = db.execute(
        select(Transfer.account_id, Transfer.id).join(Edit, Edit.id == Transfer.edit_id).where(
            Transfer.kind == "reserve", Transfer.id.not_in(settled_ids),
            Edit.status.in_(("succeeded", "failed")))
    ).all()
    for account_id, transfer_id in stranded:
        problems.append(Mismatch(account_id, f"{transfer_id} is still pending but its edit has finished"))
    return problems
