"""Stripe webhook intake: verify the signature on the raw body, store the event once by its id, answer at once;
a worker handles it and marks it handled. Polar's pattern: nothing acts on an event before it is stored, and
a stored event is acted on once, whatever Stripe redelivers."""

from __future__ import annotations

import json
import logging
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import stripe
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from app import observability
from app.billing import events
from app.db import after_commit
from app.errors import AppError, PaymentsDisabled
from app.models import StripeEvent
from app.models.base import utcnow

if TYPE_CHECKING:
    from app.context import AppContext

log = logging.getLogger(__name__)

HANDLE_EVENT = "billing_handle_stripe_event"
"""Task: Stripe event id -> handle it once."""


class BadSignature(AppError):
    code = "invalid_signature"
    status = 400


TOLERANCE_SECONDS = stripe.Webhook.DEFAULT_TOLERANCE
"""How far a delivery's signed timestamp may be from now, either way (Stripe's default, 300 s)."""


def signed_timestamp(header: str) -> int | None:
    """The `t=` of a `Stripe-Signature` header (`t=<unix time>,v1=<hex>,…`), or None."""
    for part in header.split(","):
        name, _, value = part.strip().partition("=")
        if name == "t" and value.isdigit():
            return int(value)
    return None


def receive(context: AppContext, payload: bytes, signature: str | None) -> bool:
    """`_receive`, counted (app.observability) by event type and outcome."""
    try:
        return _receive(context, payload, signature)
    except BadSignature:
        observability.WEBHOOK_EVENTS.labels("unknown", "bad_signature").inc()
        raise


def _receive(context: AppContext, payload: bytes, signature: str | None) -> bool:
    """Verify and store one delivery. True when the event is new (a worker is told to handle it), False for a
    redelivery of an event already stored. Raises BadSignature (400) for anything Stripe did not sign, or
    signed more than TOLERANCE_SECONDS before or after now, PaymentsDisabled (503) when no webhook secret is
    configured."""
    secret = context.settings.stripe_webhook_secret
    if not secret:
        raise PaymentsDisabled("Stripe webhooks are not set up on this server (no STRIPE_WEBHOOK_SECRET).")
    try:
        event = stripe.Webhook.construct_event(payload, signature, secret, tolerance=TOLERANCE_SECONDS).to_dict()
    except stripe.SignatureVerificationError as exc:  # not signed with our secret, or older than the tolerance
        raise BadSignature(f"The Stripe signature does not match this body: {exc}") from exc
    except (ValueError, AttributeError, TypeError) as exc:  # not a JSON object
        raise BadSignature("The body is not a Stripe event.") from exc
    signed_at = signed_timestamp(signature or "")
    if signed_at is None or signed_at > time.time() + TOLERANCE_SECONDS:
        # The SDK only refuses old timestamps; one from the future would let a captured delivery be replayed
        # for as long as it stays "recent".
        raise BadSignature(f"Timestamp outside the tolerance zone ({signed_at}): it is in the future.")
    event_id, event_type = event.get("id"), event.get("type")
    if not isinstance(event_id, str) or not isinstance(event_type, str):
        raise BadSignature("A signed body that is not a Stripe event.")
    row = StripeEvent(id=event_id, type=event_type, livemode=bool(event.get("livemode")),
                      payload=payload.decode("utf-8"), attempts=0,
                      created=datetime.fromtimestamp(int(event.get("created") or 0), UTC))
    with context.transaction() as db:
        if db.get(StripeEvent, event_id) is not None:
            observability.WEBHOOK_EVENTS.labels(event_type, "duplicate").inc()
            return False
        try:
            with db.begin_nested():
                db.add(row)
                db.flush()
        except IntegrityError:
            observability.WEBHOOK_EVENTS.labels(event_type, "duplicate").inc()
            return False  # the same event, delivered twice at once: the other delivery stored it
        after_commit(db, lambda: context.queue.send(HANDLE_EVENT, event_id))
    observability.WEBHOOK_EVENTS.labels(event_type, "stored").inc()
    observability.WEBHOOK_LAG.labels("received").observe(max(0.0, (utcnow() - row.created).total_seconds()))
    log.info("stripe event %s (%s) stored", event_id, event_type)
    return True


def handle(context: AppContext, event_id: str) -> None:
    """Task HANDLE_EVENT: act on a stored event once, in one transaction with marking it handled. A failure
    rolls everything back and is recorded; the sweeper sends the event again later."""
    try:
        with context.transaction() as db:
            row = db.execute(select(StripeEvent).where(StripeEvent.id == event_id).with_for_update()
                             ).scalar_one_or_none()
            if row is None or row.handled_at is not None:
                return
            body = json.loads(row.payload)
            obj = (body.get("data") or {}).get("object") or {}
            outcome = events.handle(db, row.type, obj)
            row.handled_at = utcnow()
            row.outcome = outcome[:300]
            row.attempts += 1
            row.last_error = None
            event_type, created = row.type, row.created
        observability.WEBHOOK_EVENTS.labels(event_type, "handled").inc()
        observability.WEBHOOK_LAG.labels("handled").observe(max(0.0, (utcnow() - created).total_seconds()))
        log.info("stripe event %s (%s): %s", event_id, row.type, outcome)
    except Exception as exc:
        log.exception("stripe event %s could not be handled", event_id)
        with context.transaction() as db:
            failed_type = db.execute(select(StripeEvent.type).where(StripeEvent.id == event_id)).scalar()
            observability.WEBHOOK_EVENTS.labels(failed_type or "unknown", "failed").inc()
            db.execute(update(StripeEvent).where(StripeEvent.id == event_id).values(
                attempts=StripeEvent.attempts + 1, last_error=f"{type(exc).__name__}: {exc}"[:2000]))
