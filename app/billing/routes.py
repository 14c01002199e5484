"""Billing's front doors: the JSON API (the ledger, checkout, a top-up's progress, Stripe's webhook) and the
pages (/billing, the Checkout success and cancel pages, and the forms they post). Handlers stay thin."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from app import limits
from app.api.docs import API_ERRORS
from app.api.paging import Page, page_of, sequence_cursor
from app.billing import auto_recharge, ledger, webhooks
from app.billing.checkout import get_topup, start_checkout
from app.billing.receipts import receipts
from app.billing.schemas import CheckoutOut, CheckoutRequest, TopUpOut, TransferOut, WebhookAck
from app.context import AppContext
from app.deps import Context, CsrfProtected, CurrentPrincipal, DbSession
from app.errors import AppError
from app.models import BillingProfile
from app.web.templates import render
from app.web.viewer import SignedInViewer, Viewer, principal_of

api = APIRouter(prefix="/api/v1", tags=["billing"], responses=API_ERRORS,
                dependencies=[CsrfProtected, limits.ApiKeyLimited])
webhook = APIRouter(prefix="/api/v1/billing", tags=["billing"], responses=API_ERRORS)
pages = APIRouter(include_in_schema=False, dependencies=[CsrfProtected])

Limit = Annotated[int, Query(ge=1, le=100)]


@api.get("/ledger")
def get_ledger(principal: CurrentPrincipal, db: DbSession, limit: Limit = 50,
               cursor: str | None = None) -> Page[TransferOut]:
    """A person's credit movements, newest first."""
    rows = ledger.history(db, principal.user_id, limit=limit + 1, before_seq=sequence_cursor(cursor))
    items, next_cursor = page_of(rows, limit, lambda row: str(row.seq))
    return Page[TransferOut](items=[TransferOut.of(row) for row in items], next_cursor=next_cursor)


@api.post("/billing/checkout")
def checkout(body: CheckoutRequest, principal: CurrentPrincipal, context: Context) -> CheckoutOut:
    """Start buying a pack: answers the Stripe Checkout page to send the person to. The credits arrive when
    Stripe confirms the payment (webhook). 503 `payments_disabled` when Stripe is not configured."""
    started = start_checkout(context, principal.user_id, body.pack_id)
    return CheckoutOut(url=started.url, topup_id=started.topup_id)


@api.get("/billing/topups/{topup_id}")
def topup(topup_id: str, principal: CurrentPrincipal, db: DbSession) -> TopUpOut:
    """One of your top-ups: whether its credits have arrived."""
    return TopUpOut.of(db, get_topup(db, principal.user_id, topup_id))


@webhook.post("/stripe/webhook")
async def stripe_webhook(request: Request, context: Context) -> WebhookAck:
    """Stripe's signed events (no cookie, no CSRF token: the signature proves the sender). 2xx once stored
    (a redelivery changes nothing); 400 when the signature does not match the raw body or its time is
    outside the tolerance. The body is bounded before it is read (app.limits). A worker acts on the event."""
    payload = await request.body()
    new = await run_in_threadpool(webhooks.receive, context, payload, request.headers.get("stripe-signature"))
    return WebhookAck(received=True, duplicate=not new)


# --- pages ----------------------------------------------------------------------------------------------


def _billing_page(request: Request, db: Session, context: AppContext, viewer: Viewer, *,
                  status_code: int = 200, **extra: Any) -> Response:
    user_id = principal_of(viewer).user_id
    return render(request, "billing.html", viewer, status_code, packs=context.pricing.packs,
                  profile=db.get(BillingProfile, user_id), receipts=receipts(db, user_id),
                  transfers=ledger.history(db, user_id, limit=25), signed=ledger.signed_amount, **extra)


@pages.get("/billing", response_class=HTMLResponse)
def billing(request: Request, viewer: SignedInViewer, db: DbSession, context: Context,
            saved: str | None = None) -> Response:
    return _billing_page(request, db, context, viewer, saved=saved)


@pages.post("/billing/checkout")
def billing_checkout(request: Request, viewer: SignedInViewer, context: Context,
                     pack_id: Annotated[str, Form()] = "", save_card: Annotated[str, Form()] = "") -> Response:
    """The Buy buttons: off to Stripe's checkout page, or back to the billing page saying why not. No
    transaction is open while Stripe is called."""
    try:
        started = start_checkout(context, principal_of(viewer).user_id, pack_id, save_card=bool(save_card))
    except AppError as error:
        with context.transaction() as db:
            return _billing_page(request, db, context, viewer, status_code=error.status, checkout_error=error)
    return RedirectResponse(started.url, status_code=303)


@pages.post("/billing/auto-recharge")
def billing_auto_recharge(request: Request, viewer: SignedInViewer, db: DbSession, context: Context,
                          enabled: Annotated[str, Form()] = "", threshold: Annotated[str, Form()] = "",
                          pack_id: Annotated[str, Form()] = "") -> Response:
    try:
        with db.begin_nested():
            auto_recharge.update_settings(
                db, principal_of(viewer).user_id, enabled=bool(enabled), threshold=_whole_number(threshold),
                pack_id=pack_id, pack_ids=[pack.id for pack in context.pricing.packs])
    except AppError as error:
        return _billing_page(request, db, context, viewer, status_code=error.status, recharge_error=error,
                             recharge_form={"enabled": bool(enabled), "threshold": threshold, "pack_id": pack_id})
    return RedirectResponse("/billing?saved=auto-recharge#auto-recharge", status_code=303)


def _whole_number(text: str) -> int | None:
    text = text.strip()
    return int(text) if text.isdigit() and len(text) <= 9 else None


@pages.get("/billing/success", response_class=HTMLResponse)
def billing_success(request: Request, viewer: SignedInViewer, db: DbSession, topup: str | None = None) -> Response:
    """Where Stripe sends the person after paying. It never grants credits: it shows whether the webhook has
    put them in yet, and static/js/billing.js updates it when it does."""
    row = get_topup(db, principal_of(viewer).user_id, topup) if topup else None
    return render(request, "billing_success.html", viewer, topup=row,
                  data=TopUpOut.of(db, row).model_dump(mode="json") if row else None)


@pages.get("/billing/cancel", response_class=HTMLResponse)
def billing_cancel(request: Request, viewer: SignedInViewer, context: Context) -> Response:
    return render(request, "billing_cancel.html", viewer, packs=context.pricing.packs)


router = APIRouter()
for part in (api, webhook, pages):
    router.include_router(part)
