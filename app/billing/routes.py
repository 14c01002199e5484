"""Billing's front doors: the JSON API (checkout, a top-up's progress, Stripe's webhook) and the pages
(/billing, the Checkout success and cancel pages, and the forms they post). Handlers stay thin."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from app.accounts import cookies
from app.accounts.service import Principal
from app.api.openapi import API_ERRORS, answer
from app.billing import auto_recharge, ledger, webhooks
from app.billing.checkout import get_topup, start_checkout
from app.billing.receipts import receipts, topup_json
from app.billing.schemas import CheckoutOut, CheckoutRequest, TopUpOut, WebhookAck
from app.deps import Context, CurrentPrincipal, DbSession
from app.errors import AppError, Forbidden, PayloadTooLarge
from app.models import BillingProfile
from app.web.pages import PagePrincipal
from app.web.templates import render

# Stripe's events are a few kilobytes; anything far larger is not one.
MAX_WEBHOOK_BYTES = 1024 * 1024

api = APIRouter(prefix="/api/v1/billing", tags=["billing"], responses=API_ERRORS)
pages = APIRouter(include_in_schema=False)


@api.post("/checkout", responses=answer(CheckoutOut))
def checkout(body: CheckoutRequest, principal: CurrentPrincipal, context: Context) -> dict[str, Any]:
    """Start buying a pack: answers the Stripe Checkout page to send the person to. The credits arrive when
    Stripe confirms the payment (webhook). 503 `payments_disabled` when Stripe is not configured."""
    started = start_checkout(context, principal.user_id, body.pack_id)
    return {"url": started.url, "topup_id": started.topup_id}


@api.get("/topups/{topup_id}", responses=answer(TopUpOut))
def topup(topup_id: str, principal: CurrentPrincipal, db: DbSession) -> dict[str, Any]:
    """One of your top-ups: whether its credits have arrived."""
    return topup_json(db, get_topup(db, principal.user_id, topup_id))


@api.post("/stripe/webhook", responses=answer(WebhookAck))
async def stripe_webhook(request: Request, context: Context) -> dict[str, Any]:
    """Stripe's signed events. 2xx once stored (a redelivery changes nothing); 400 when the signature does not
    match the raw body or is older than the tolerance. A worker acts on the event."""
    payload = await request.body()
    if len(payload) > MAX_WEBHOOK_BYTES:
        raise PayloadTooLarge("That is not a Stripe event.", code="request_too_large")
    new = await run_in_threadpool(webhooks.receive, context, payload, request.headers.get("stripe-signature"))
    return {"received": True, "duplicate": not new}


# --- pages ----------------------------------------------------------------------------------------------


def _check_csrf(request: Request, token: str | None) -> None:
    if not cookies.csrf_matches(request, token):
        raise Forbidden("This form expired; reload the page and try again.", code="csrf_failed")


def _billing_page(request: Request, db: Session, context: Context, principal: Principal, *,
                  status_code: int = 200, **extra: Any) -> Response:
    profile = db.get(BillingProfile, principal.user_id)
    return render(request, "billing.html", status_code, db=db, principal=principal, packs=context.pricing.packs,
                  profile=profile, receipts=receipts(db, principal.user_id),
                  transfers=ledger.history(db, principal.user_id, limit=25), signed=ledger.signed_amount,
                  **extra)


@pages.get("/billing", response_class=HTMLResponse)
def billing(request: Request, principal: PagePrincipal, db: DbSession, context: Context,
            saved: str | None = None) -> Response:
    return _billing_page(request, db, context, principal, saved=saved)


@pages.post("/billing/checkout")
def billing_checkout(request: Request, principal: PagePrincipal, context: Context,
                     pack_id: Annotated[str, Form()] = "", save_card: Annotated[str, Form()] = "",
                     csrf_token: Annotated[str, Form()] = "") -> Response:
    """The Buy buttons: off to Stripe's checkout page, or back to the billing page saying why not."""
    _check_csrf(request, csrf_token)
    try:
        started = start_checkout(context, principal.user_id, pack_id, save_card=bool(save_card))
    except AppError as error:
        with context.transaction() as db:
            return _billing_page(request, db, context, principal, status_code=error.status, checkout_error=error)
    return RedirectResponse(started.url, status_code=303)


@pages.post("/billing/auto-recharge")
def billing_auto_recharge(request: Request, principal: PagePrincipal, db: DbSession, context: Context,
                          enabled: Annotated[str, Form()] = "", threshold: Annotated[str, Form()] = "",
                          pack_id: Annotated[str, Form()] = "", csrf_token: Annotated[str, Form()] = "") -> Response:
    _check_csrf(request, csrf_token)
    try:
        with db.begin_nested():
            auto_recharge.update_settings(
                db, principal.user_id, enabled=bool(enabled), threshold=_whole_number(threshold), pack_id=pack_id,
                pack_ids=[pack.id for pack in context.pricing.packs])
    except AppError as error:
        return _billing_page(request, db, context, principal, status_code=error.status, recharge_error=error,
                             recharge_form={"enabled": bool(enabled), "threshold": threshold, "pack_id": pack_id})
    return RedirectResponse("/billing?saved=auto-recharge#auto-recharge", status_code=303)


def _whole_number(text: str) -> int | None:
    text = text.strip()
    return int(text) if text.isdigit() and len(text) <= 9 else None


@pages.get("/billing/success", response_class=HTMLResponse)
def billing_success(request: Request, principal: PagePrincipal, db: DbSession,
                    topup: str | None = None) -> Response:
    """Where Stripe sends the person after paying. It never grants credits: it shows whether the webhook has
    put them in yet, and static/js/billing.js updates it when it does."""
    row = get_topup(db, principal.user_id, topup) if topup else None
    return render(request, "billing_success.html", db=db, principal=principal, topup=row,
                  data=topup_json(db, row) if row else None)


@pages.get("/billing/cancel", response_class=HTMLResponse)
def billing_cancel(request: Request, principal: PagePrincipal, db: DbSession, context: Context) -> Response:
    return render(request, "billing_cancel.html", db=db, principal=principal, packs=context.pricing.packs)


router = APIRouter()
router.include_router(api)
router.include_router(pages)
