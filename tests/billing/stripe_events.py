"""Stripe events in their documented shapes (Event wrapping a Checkout Session, PaymentIntent, Charge, Refund or
Dispute), signed as Stripe signs them: header `t=<timestamp>,v1=<hex HMAC-SHA256 of "<timestamp>.<body>">`
under the endpoint's webhook secret."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from typing import Any

API_VERSION = "2025-08-27.basil"


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(12)}"


def sign(body: str, secret: str, timestamp: int | None = None) -> str:
    moment = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{moment}.{body}".encode(), hashlib.sha256).hexdigest()
    return f"t={moment},v1={digest}"


def event(event_type: str, obj: dict[str, Any], *, event_id: str | None = None) -> dict[str, Any]:
    return {
        "id": event_id or new_id("evt"), "object": "event", "api_version": API_VERSION,
        "created": int(time.time()), "data": {"object": obj, "previous_attributes": {}}, "livemode": False,
        "pending_webhooks": 1, "request": {"id": None, "idempotency_key": None}, "type": event_type,
    }


def checkout_session(topup_id: str, session_id: str, *, amount: int, payment_intent: str,
                     payment_status: str = "paid", customer: str | None = None, currency: str = "usd",
                     status: str = "complete") -> dict[str, Any]:
    return {
        "id": session_id, "object": "checkout.session", "amount_subtotal": amount, "amount_total": amount,
        "cancel_url": "http://testserver/billing/cancel", "client_reference_id": topup_id, "currency": currency,
        "customer": customer, "customer_details": {"email": "buyer@example.com", "tax_exempt": "none"},
        "livemode": False, "metadata": {"topup_id": topup_id}, "mode": "payment", "payment_intent": payment_intent,
        "payment_method_types": ["card"], "payment_status": payment_status, "status": status,
        "success_url": "http://testserver/billing/success", "url": None,
    }


def payment_intent(intent_id: str, *, amount: int, topup_id: str | None, customer: str | None = None,
                   payment_method: str | None = None, status: str = "succeeded", charge_id: str | None = None,
                   error: str | None = None) -> dict[str, Any]:
    return {
        "id": intent_id, "object": "payment_intent", "amount": amount,
        "amount_received": amount if status == "succeeded" else 0, "capture_method": "automatic_async",
        "confirmation_method": "automatic", "currency": "usd", "customer": customer,
        "last_payment_error": {"code": "card_declined", "message": error, "type": "card_error"} if error else None,
        "latest_charge": charge_id, "livemode": False, "metadata": {"topup_id": topup_id} if topup_id else {},
        "payment_method": payment_method, "setup_future_usage": None, "status": status,
    }


def charge(charge_id: str, *, payment_intent: str | None, amount: int, amount_refunded: int = 0,
           topup_id: str | None = None) -> dict[str, Any]:
    return {
        "id": charge_id, "object": "charge", "amount": amount, "amount_captured": amount,
        "amount_refunded": amount_refunded, "captured": True, "currency": "usd", "disputed": False,
        "livemode": False, "metadata": {"topup_id": topup_id} if topup_id else {}, "paid": True,
        "payment_intent": payment_intent, "refunded": amount_refunded >= amount, "status": "succeeded",
    }


def refund(refund_id: str, *, payment_intent: str | None, charge_id: str, amount: int,
           status: str = "succeeded") -> dict[str, Any]:
    return {
        "id": refund_id, "object": "refund", "amount": amount, "charge": charge_id, "created": int(time.time()),
        "currency": "usd", "metadata": {}, "payment_intent": payment_intent, "reason": "requested_by_customer",
        "status": status,
    }


def dispute(dispute_id: str, *, payment_intent: str | None, charge_id: str, amount: int,
            status: str = "needs_response") -> dict[str, Any]:
    return {
        "id": dispute_id, "object": "dispute", "amount": amount, "charge": charge_id, "created": int(time.time()),
        "currency": "usd", "evidence_details": {"due_by": int(time.time()) + 7 * 86400, "has_evidence": False,
                                                "past_due": False, "submission_count": 0},
        "is_charge_refundable": False, "livemode": False, "metadata": {}, "payment_intent": payment_intent,
        "reason": "fraudulent", "status": status,
    }


def body_of(evt: dict[str, Any]) -> str:
    """The body as Stripe sends it (pretty-printed JSON; the signature covers these exact bytes)."""
    return json.dumps(evt, indent=2)
