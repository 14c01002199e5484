"""What operators do to people's accounts, and what they see of the service: find a person, grant or take
credits, hold or release an account, disable or enable it; the dashboard's counts, the provider's failures
and whether the credit prices pay for the provider. Every action is written to `admin_actions` in the same
transaction as the change itself, so the trail never misses one."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from app.accounts.service import find_user
from app.billing import ledger, payments
from app.billing.margin import MarginRow, credit_value, margin_report, total
from app.billing.pricing import Pricing
from app.billing.provider_costs import ProviderPrices
from app.editor.failures import CONSOLE_CODES, Failure, recent_failures
from app.errors import AppError, Conflict, InsufficientCredits, NotFound, ValidationFailed
from app.models import Account, AdminAction, Edit, LoginSession, StripeEvent, TopUp, User
from app.models.base import new_id, utcnow

SEARCH_LIMIT = 25
MAX_REASON = 500
MAX_AMOUNT = 1_000_000
ACTION_ID = re.compile(r"^[A-Za-z0-9_-]{16,64}$")


@dataclass(frozen=True)
class Operator:
    """Who acts: an operator's id and address, for the trail."""

    user_id: str
    email: str


class OperatorOnly(AppError):
    """An action an operator may not take (on their own account, for one)."""

    code = "not_allowed"
    status = 409


def search_people(db: Session, query: str, *, limit: int = SEARCH_LIMIT) -> list[tuple[User, Account]]:
    """People whose address contains `query` (case-insensitive), or whose id is `query`; at most `limit`,
    by address."""
    needle = query.strip().lower()[:320]
    if not needle:
        return []
    match = User.email.contains(needle, autoescape=True)
    if re.fullmatch(r"[0-9a-f]{32}", needle):
        match = match | (User.id == needle)
    rows = db.execute(
        select(User, Account).join(Account, Account.user_id == User.id).where(match)
        .order_by(User.email).limit(limit)
    ).all()
    return [(user, account) for user, account in rows]


def get_person(db: Session, user_id: str) -> User:
    user = db.get(User, user_id)
    if user is None:
        raise NotFound("No such person.")
    return user


def topups(db: Session, user_id: str, *, limit: int = 20) -> Sequence[TopUp]:
    """A person's latest purchases, newest first."""
    return db.execute(select(TopUp).where(TopUp.user_id == user_id).order_by(TopUp.created_at.desc())
                      .limit(limit)).scalars().all()


def actions_on(db: Session, user_id: str, *, limit: int = 50) -> Sequence[AdminAction]:
    """What operators did to this person, newest first."""
    return db.execute(select(AdminAction).where(AdminAction.target_user_id == user_id)
                      .order_by(AdminAction.created_at.desc()).limit(limit)).scalars().all()


def session_count(db: Session, user_id: str) -> int:
    return db.execute(select(func.count()).select_from(LoginSession)
                      .where(LoginSession.user_id == user_id)).scalar_one()


def edit_image_key(db: Session, edit_id: str, *, position: int | None) -> str:
    """The storage key of an edit's result (`position` None) or of its n-th input, whoever owns it."""
    edit = db.get(Edit, edit_id)
    if edit is None or edit.deleted_at is not None:
        raise NotFound("No such edit.")
    if position is None:
        if edit.status != "succeeded" or edit.result_key is None:
            raise NotFound("This edit has no result.", code="no_result")
        return edit.result_key
    item = next((entry for entry in edit.inputs if entry.position == position), None)
    if item is None:
        raise NotFound("This edit has no such input.")
    return item.storage_key


# --- actions --------------------------------------------------------------------------------------------


def _reason(reason: str) -> str:
    reason = " ".join((reason or "").split())
    if not reason:
        raise ValidationFailed("Say why (it is kept in the account's trail).", field="reason", code="reason_missing")
    if len(reason) > MAX_REASON:
        raise ValidationFailed(f"Keep the reason to {MAX_REASON} characters.", field="reason")
    return reason


def _amount(amount: int) -> int:
    if amount <= 0 or amount > MAX_AMOUNT:
        raise ValidationFailed(f"Enter a whole number of credits from 1 to {MAX_AMOUNT:,}.", field="amount")
    return amount


def _action_id(action_id: str | None) -> str:
    """The form's one-time id (a second submission of the same form acts once), or a fresh one."""
    if action_id and ACTION_ID.fullmatch(action_id):
        return action_id
    return new_id()


def _already_done(db: Session, action_id: str) -> AdminAction | None:
    return db.get(AdminAction, action_id)


def _record(db: Session, operator: Operator, person: User, action: str, reason: str, *, action_id: str,
            amount: int | None = None) -> AdminAction:
    row = AdminAction(id=action_id, operator_id=operator.user_id, operator_email=operator.email, action=action,
                      target_user_id=person.id, target_email=person.email, amount=amount, reason=reason)
    db.add(row)
    db.flush()
    return row


def grant_credits(db: Session, operator: Operator, user_id: str, *, amount: int, reason: str,
                  action_id: str | None = None) -> AdminAction:
    """Give a person `amount` credits (a `grant` transfer), then settle what they owe from them."""
    amount, reason, action_id = _amount(amount), _reason(reason), _action_id(action_id)
    person = get_person(db, user_id)
    ledger.lock_account(db, user_id)
    if (done := _already_done(db, action_id)) is not None:
        return done
    transfer_id = f"admin:{action_id}"
    ledger.transfer(db, transfer_id=transfer_id, user_id=user_id, kind="grant", amount=amount,
                    reason=f"Granted by the operator: {reason}")
    ledger.settle_outstanding(db, user_id, transfer_id=f"{transfer_id}:settle",
                              reason="Outstanding credits paid from this grant")
    return _record(db, operator, person, "grant", reason, action_id=action_id, amount=amount)


def take_credits(db: Session, operator: Operator, user_id: str, *, amount: int, reason: str,
                 action_id: str | None = None) -> AdminAction:
    """Take `amount` of a person's available credits (a `debit` transfer). Never more than are available:
    credits reserved for running edits stay theirs until the edits end."""
    amount, reason, action_id = _amount(amount), _reason(reason), _action_id(action_id)
    person = get_person(db, user_id)
    ledger.lock_account(db, user_id)
    if (done := _already_done(db, action_id)) is not None:
        return done
    available = ledger.balance(db, user_id).available
    if amount > available:
        raise InsufficientCredits(f"Only {available} credits are available; take at most {available}.",
                                  field="amount")
    ledger.transfer(db, transfer_id=f"admin:{action_id}", user_id=user_id, kind="debit", amount=amount,
                    reason=f"Taken by the operator: {reason}")
    return _record(db, operator, person, "take", reason, action_id=action_id, amount=amount)


def set_hold(db: Session, operator: Operator, user_id: str, *, held: bool, reason: str,
             action_id: str | None = None) -> AdminAction:
    """Put the account on hold (its new edits are refused with `account_on_hold`, as while a payment is
    disputed) or lift the operator's hold (refused while a dispute is open: that hold is the disputes')."""
    reason, action_id = _reason(reason), _action_id(action_id)
    person = get_person(db, user_id)
    ledger.lock_account(db, user_id)
    if (done := _already_done(db, action_id)) is not None:
        return done
    if held:
        person.held_at = person.held_at or utcnow()
        db.execute(update(Account).where(Account.user_id == user_id).values(on_hold=True))
        account = db.get(Account, user_id)
        if account is not None:
            db.expire(account)
    else:
        person.held_at = None
        db.flush()
        # What is left is the disputes' hold, as app.billing.payments keeps it.
        if payments.refresh_hold(db, user_id):
            raise Conflict("A payment dispute is open on this account: it stays on hold until the dispute "
                           "closes.", code="dispute_open")
    return _record(db, operator, person, "hold" if held else "release", reason, action_id=action_id)


def set_disabled(db: Session, operator: Operator, user_id: str, *, disabled: bool, reason: str,
                 action_id: str | None = None) -> AdminAction:
    """Disable an account (it can no longer log in or use its API keys; its sessions end now) or enable it
    again. An operator cannot disable their own account."""
    reason, action_id = _reason(reason), _action_id(action_id)
    person = get_person(db, user_id)
    if disabled and person.id == operator.user_id:
        raise OperatorOnly("You cannot disable your own account.")
    if (done := _already_done(db, action_id)) is not None:
        return done
    if disabled:
        if person.disabled_at is None:
            person.disabled_at = utcnow()
        db.execute(delete(LoginSession).where(LoginSession.user_id == user_id))
    else:
        person.disabled_at = None
    db.flush()
    return _record(db, operator, person, "disable" if disabled else "enable", reason, action_id=action_id)


# --- the dashboard --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class QueueDepth:
    queued: int
    running: int
    oldest_queued_at: datetime | None

    def oldest_age(self, now: datetime) -> timedelta | None:
        return now - self.oldest_queued_at if self.oldest_queued_at else None


@dataclass(frozen=True)
class Dashboard:
    failures: list[tuple[str, int]]
    """Failed edits of the window by error code, most frequent first."""
    failed_total: int
    succeeded: int
    queue: QueueDepth
    events: Sequence[StripeEvent]
    unhandled_events: int
    since: datetime
    provider_failures: list[Failure]
    """The window's failures only the operator can mend (quota, billing, a refused setting, an outage) and
    the provider's moderation refusals, newest first, with what the provider said."""
    flagged: list[tuple[str, int]]
    """The moderation categories of those refusals, most frequent first."""


def dashboard(db: Session, *, window: timedelta = timedelta(days=1), event_limit: int = 15,
              failure_limit: int = 20) -> Dashboard:
    """The state of the service at a glance: the last `window` of edits, the queue, the latest webhooks."""
    now = utcnow()
    since = now - window
    failures = db.execute(
        select(Edit.error_code, func.count()).where(Edit.status == "failed", Edit.finished_at >= since)
        .group_by(Edit.error_code).order_by(func.count().desc(), Edit.error_code)
    ).all()
    succeeded = db.execute(select(func.count()).select_from(Edit)
                           .where(Edit.status == "succeeded", Edit.finished_at >= since)).scalar_one()
    counts = dict(db.execute(select(Edit.status, func.count()).where(Edit.status.in_(("queued", "running")))
                             .group_by(Edit.status)).all())
    oldest = db.execute(select(func.min(Edit.created_at)).where(Edit.status == "queued")).scalar_one()
    events = db.execute(select(StripeEvent).order_by(StripeEvent.received_at.desc())
                        .limit(event_limit)).scalars().all()
    unhandled = db.execute(select(func.count()).select_from(StripeEvent)
                           .where(StripeEvent.handled_at.is_(None))).scalar_one()
    failure_list = [(code or "unknown", int(count)) for code, count in failures]
    provider_failures = recent_failures(db, days=window / timedelta(days=1), now=now, codes=CONSOLE_CODES,
                                        limit=failure_limit)
    flagged = Counter(category for failure in provider_failures for category in failure.categories)
    return Dashboard(failures=failure_list, failed_total=sum(count for _, count in failure_list),
                     succeeded=int(succeeded),
                     queue=QueueDepth(int(counts.get("queued", 0)), int(counts.get("running", 0)),
                                      _aware(oldest)),
                     events=events, unhandled_events=int(unhandled), since=since,
                     provider_failures=provider_failures,
                     flagged=sorted(flagged.items(), key=lambda item: (-item[1], item[0])))


MARGIN_DAYS = (7, 30, 90)


@dataclass(frozen=True)
class Margin:
    """Whether the credit prices pay for the provider (app.billing.margin), for the console."""

    days: int
    rows: list[MarginRow]
    total: MarginRow
    credit_value: Decimal | None
    """USD per credit at the cheapest pack; None when no pack is priced in USD (then nothing is shown)."""


def margin(db: Session, pricing: Pricing, prices: ProviderPrices, *, days: int) -> Margin:
    """The margin rows of the last `days` days, newest day first, and their total."""
    try:
        value = credit_value(pricing)
    except ValueError:
        return Margin(days, [], total([]), None)
    rows = margin_report(db, pricing, prices, days=days, now=utcnow())
    newest_first = sorted(rows, key=lambda row: row.day or datetime.min.date(), reverse=True)
    return Margin(days, newest_first, total(rows), value)


def _aware(value: datetime | None) -> datetime | None:
    """`min()` over a UTCDateTime column comes back as the database stores it (naive on SQLite)."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


def promote(db: Session, email: str) -> User:
    """Make the person with this address an operator (the command line's `users promote`)."""
    user = find_user(db, email)
    user.is_operator = True
    db.flush()
    return user
