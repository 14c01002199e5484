"""What a payment means for the ledger: its credits once it succeeded, the refunded or lost-in-dispute share
taken back, and the hold while a dispute is open.

Everything here is a function of the state recorded about the payment (the `TopUp` and its `StripePayment`),
not of the event that happened to arrive: `reconcile` moves the ledger from wherever it is to where that state
says it should be, with transfer ids derived from the payment and the state. So events may come twice, late or
in any order (a refund before the payment's completion), and the balance still ends the same.

Lock order, everywhere a payment is touched: the payment's row, then its top-up, then the billing profile,
then the account (the ledger). Edits only ever lock the account, so no cycle can form.
"""

from __future__ import annotations

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.billing import ledger
from app.models import Account, BillingProfile, StripePayment, TopUp, User
from app.models.base import utcnow

# Dispute statuses after which the account is no longer held (Stripe's dispute.status values).
DISPUTE_CLOSED = frozenset({"won", "lost", "warning_closed", "prevented"})


def credit_id(payment_intent_id: str) -> str:
    """The ledger transfer that credits a payment: one per payment, whichever event reports it."""
    return f"stripe:{payment_intent_id}"


def lock_payment(db: Session, payment_intent_id: str) -> StripePayment:
    """The payment's row, created on first mention and locked for the rest of the transaction. Every change
    about a payment starts here, so two events about the same payment are applied one after the other."""
    query = select(StripePayment).where(StripePayment.payment_intent_id == payment_intent_id).with_for_update()
    payment = db.execute(query.execution_options(populate_existing=True)).scalar_one_or_none()
    if payment is not None:
        return payment
    try:
        with db.begin_nested():
            db.add(StripePayment(payment_intent_id=payment_intent_id, amount_refunded=0, refunds={},
                                 dispute_amount=0, credits_taken_back=0))
            db.flush()
    except IntegrityError:
        pass  # another worker created it first; its row is committed now and we lock it below
    return db.execute(query.execution_options(populate_existing=True)).scalar_one()


def find_payment(db: Session, payment_intent_id: str | None, charge_id: str | None) -> str | None:
    """The payment intent an event is about: named in the event, or known from its charge."""
    if payment_intent_id:
        return payment_intent_id
    if charge_id:
        return db.execute(select(StripePayment.payment_intent_id).where(
            StripePayment.charge_id == charge_id)).scalar_one_or_none()
    return None


def topup_for(db: Session, payment_intent_id: str, topup_id: str | None = None) -> TopUp | None:
    """Our top-up behind a payment: by the id Stripe echoes in the metadata, else by the payment intent."""
    if topup_id:
        topup = db.get(TopUp, topup_id, populate_existing=True)
        if topup is not None and topup.payment_intent_id in (None, payment_intent_id):
            return topup
    return db.execute(select(TopUp).where(TopUp.payment_intent_id == payment_intent_id).execution_options(
        populate_existing=True)).scalar_one_or_none()


def payment_succeeded(db: Session, payment: StripePayment, topup: TopUp, *, customer: str | None = None,
                      payment_method: str | None = None) -> str:
    """Stripe says the top-up's payment succeeded: mark it paid, keep the card if the person asked to, end an
    automatic recharge's turn, and bring the ledger up to date (the credits, then any refund that came first).
    Idempotent. `payment` must be locked (lock_payment)."""
    topup.payment_intent_id = payment.payment_intent_id
    if topup.status != "paid":
        topup.status = "paid"
        topup.paid_at = utcnow()
        topup.failure_message = None
    topup.recharge_slot = None
    topup.updated_at = utcnow()
    db.flush()
    if topup.save_card and (customer or payment_method):
        profile = profile_for(db, topup.user_id)
        if customer:
            profile.customer_id = customer
        if payment_method and payment_method != profile.payment_method_id:
            profile.payment_method_id = payment_method
            profile.card_saved_at = utcnow()
        db.flush()
    return reconcile(db, payment, topup)


def profile_for(db: Session, user_id: str) -> BillingProfile:
    """The person's billing profile, created on first use."""
    profile = db.get(BillingProfile, user_id)
    if profile is None:
        profile = BillingProfile(user_id=user_id, recharge_enabled=False, recharge_threshold=20)
        db.add(profile)
        db.flush()
    return profile


def credits_to_take_back(credits: int, amount: int, refunded: int, lost_in_dispute: int) -> int:
    """The share of a payment's credits that refunds and a lost dispute take back: proportional to the money
    returned, rounded in the person's favour, and all of them once all the money is returned."""
    returned = min(amount, refunded + lost_in_dispute)
    if returned <= 0:
        return 0
    if returned >= amount:
        return credits
    return credits * returned // amount


def reconcile(db: Session, payment: StripePayment, topup: TopUp) -> str:
    """Bring the ledger to what is known about a paid top-up: credit it once (settling any outstanding amount
    from the new credits first), take back the refunded or lost share not yet taken back (what is no longer
    available is recorded as outstanding, so no balance goes negative), and set the account's hold.
    Returns what it did, for the event's outcome."""
    user_id = topup.user_id
    notes: list[str] = []
    if topup.status == "paid":
        ledger.lock_account(db, user_id)
        transfer_id = credit_id(payment.payment_intent_id)
        if ledger.find(db, transfer_id) is None:
            reason = ("Automatic top-up" if topup.source == "auto_recharge" else "Bought") + \
                f": {topup.credits} credits"
            ledger.transfer(db, transfer_id=transfer_id, user_id=user_id, kind="topup", amount=topup.credits,
                            reason=reason)
            notes.append(f"credited {topup.credits}")
            settled = ledger.settle_outstanding(db, user_id, transfer_id=f"{transfer_id}:settle",
                                                reason="Outstanding credits paid from this top-up")
            if settled:
                notes.append(f"settled {settled} outstanding")
        lost = payment.dispute_amount if payment.dispute_status == "lost" else 0
        target = credits_to_take_back(topup.credits, topup.amount, payment.refunded, lost)
        missing = target - payment.credits_taken_back
        if missing > 0:
            why = "dispute lost" if lost else "payment refunded"
            available = ledger.balance(db, user_id).available
            take = min(missing, available)
            if take > 0:
                ledger.transfer(db, transfer_id=f"{transfer_id}:back:{target}", user_id=user_id, kind="debit",
                                amount=take, reason=f"Taken back: {why}")
            if missing > take:
                # Already spent: owed, which blocks new edits until the next top-up pays it.
                ledger.transfer(db, transfer_id=f"{transfer_id}:owe:{target}", user_id=user_id, kind="owe",
                                amount=missing - take, reason=f"Outstanding: {why}, credits already spent")
            payment.credits_taken_back = target
            db.flush()
            notes.append(f"took back {take}" + (f", {missing - take} outstanding" if missing > take else ""))
    if refresh_hold(db, user_id):
        notes.append("account on hold")
    return "; ".join(notes) or "nothing to change"


def refresh_hold(db: Session, user_id: str) -> bool:
    """Hold the account while any of its payments has an open dispute or an operator holds it; release it
    when neither does."""
    open_disputes = db.execute(
        select(func.count()).select_from(StripePayment).join(
            TopUp, TopUp.payment_intent_id == StripePayment.payment_intent_id).where(
            TopUp.user_id == user_id, StripePayment.dispute_status.is_not(None),
            StripePayment.dispute_status.not_in(DISPUTE_CLOSED))
    ).scalar_one()
    operator_hold = db.execute(select(User.held_at).where(User.id == user_id)).scalar_one_or_none()
    held = open_disputes > 0 or operator_hold is not None
    db.execute(update(Account).where(Account.user_id == user_id, Account.on_hold != held).values(on_hold=held))
    account = db.get(Account, user_id)
    if account is not None:
        db.expire(account)
    return held
