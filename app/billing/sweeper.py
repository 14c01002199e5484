"""Keeps payments moving when a message or a webhook went missing: re-sends stored Stripe events that no
worker handled, and asks Stripe again about automatic recharges whose outcome never arrived."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import TYPE_CHECKING

from sqlalchemy import select, update

from app.billing.auto_recharge import RECHARGE_RETRY
from app.billing.webhooks import HANDLE_EVENT
from app.models import StripeEvent, TopUp
from app.models.base import utcnow

if TYPE_CHECKING:
    from app.context import AppContext

log = logging.getLogger(__name__)

# Handling an event takes milliseconds; one still unhandled this long after its message was sent lost it.
STALE_EVENT = timedelta(minutes=2)
# Stripe answers a PaymentIntent in seconds and sends its webhook soon after; past this, ask again.
STALE_RECHARGE = timedelta(minutes=5)
MAX_EVENT_ATTEMPTS = 10


def sweep(context: AppContext, *, stale_event: timedelta = STALE_EVENT,
          stale_recharge: timedelta = STALE_RECHARGE) -> int:
    """One pass; returns how many tasks it sent."""
    now = utcnow()
    with context.transaction() as db:
        event_ids = list(db.execute(select(StripeEvent.id).where(
            StripeEvent.handled_at.is_(None), StripeEvent.sent_at <= now - stale_event,
            StripeEvent.attempts < MAX_EVENT_ATTEMPTS).order_by(StripeEvent.created).limit(500)).scalars())
        if event_ids:
            db.execute(update(StripeEvent).where(StripeEvent.id.in_(event_ids)).values(sent_at=now))
        recharge_ids = list(db.execute(select(TopUp.id).where(
            TopUp.source == "auto_recharge", TopUp.status == "pending", TopUp.updated_at <= now - stale_recharge
        ).limit(100)).scalars())
        if recharge_ids:
            db.execute(update(TopUp).where(TopUp.id.in_(recharge_ids)).values(updated_at=now))
    for event_id in event_ids:
        context.queue.send(HANDLE_EVENT, event_id)
    for topup_id in recharge_ids:
        context.queue.send(RECHARGE_RETRY, topup_id)
    if event_ids or recharge_ids:
        log.info("billing sweeper re-sent %d event(s) and %d recharge(s)", len(event_ids), len(recharge_ids))
    return len(event_ids) + len(recharge_ids)
