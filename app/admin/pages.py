"""The operator console under /admin: a dashboard, finding a person, a person's page and the actions on it.

Only operators signed in with a browser session see it. Everyone else, signed in or not, with or without an
API key, gets 404 on every route here (the router's first dependency), so the console's existence is not
revealed. Forms post back and redirect (post/redirect/get); a form sent twice acts once (its `action_id`)."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from app.admin import service as admin
from app.api import stored_files
from app.api.paging import page_of, sequence_cursor
from app.billing import ledger
from app.billing.margin import usd
from app.deps import Context, CsrfProtected, DbSession, get_context
from app.editor import service as edits
from app.errors import AppError, NotFound
from app.models.base import utcnow
from app.web.templates import render
from app.web.viewer import AnyViewer, Viewer, principal_of

LEDGER_PAGE = 20
EDITS_PAGE = 12
DONE = {
    "grant": "Credits granted.",
    "take": "Credits taken.",
    "hold": "The account is on hold: its new edits are refused.",
    "release": "The hold is lifted.",
    "disable": "The account is disabled and its sessions have ended.",
    "enable": "The account is enabled again.",
}


def operator_viewer(viewer: AnyViewer) -> Viewer:
    """The viewer, if an operator in a browser session; 404 for anyone else (never 401 or 403)."""
    principal = viewer.principal
    if principal is None or not principal.is_operator or principal.via != "session":
        raise NotFound("There is nothing here.")
    return viewer


OperatorViewer = Annotated[Viewer, Depends(operator_viewer)]
# The operator check comes first, so that a stranger's unsafe request is a 404, not a CSRF refusal.
router = APIRouter(prefix="/admin", include_in_schema=False, dependencies=[Depends(operator_viewer), CsrfProtected])


def _operator(viewer: Viewer) -> admin.Operator:
    principal = principal_of(viewer)
    return admin.Operator(principal.user_id, principal.email)


def age(delta: timedelta | None) -> str:
    """A duration as people say it: "40 s", "12 min", "3 h 5 min", "2 d"."""
    if delta is None:
        return "—"
    seconds = max(0, int(delta.total_seconds()))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min"
    if seconds < 86400:
        return f"{seconds // 3600} h {seconds % 3600 // 60} min"
    return f"{seconds // 86400} d"


def _new_action_id() -> str:
    return secrets.token_urlsafe(18)


@router.get("", response_class=HTMLResponse)
def dashboard(request: Request, viewer: OperatorViewer, db: DbSession, context: Context, q: str = "",
              days: Annotated[int, Query(ge=1, le=366)] = admin.MARGIN_DAYS[0]) -> Response:
    """The dashboard; `days`: how far back the margin table goes."""
    found = admin.search_people(db, q) if q.strip() else None
    return render(request, "admin/index.html", viewer, q=q, found=found, limit=admin.SEARCH_LIMIT,
                  board=admin.dashboard(db), now=utcnow(), age=age, usd=usd, day_choices=admin.MARGIN_DAYS,
                  margin=admin.margin(db, context.pricing, context.provider_prices, days=days))


def _person_page(request: Request, db: DbSession, viewer: Viewer, user_id: str, *, cursor: str | None = None,
                 edits_cursor: str | None = None, error: AppError | None = None, form: dict[str, Any] | None = None,
                 done: str | None = None) -> Response:
    person = admin.get_person(db, user_id)
    rows = ledger.history(db, user_id, limit=LEDGER_PAGE + 1, before_seq=sequence_cursor(cursor))
    transfers, next_cursor = page_of(rows, LEDGER_PAGE, lambda row: str(row.seq))
    person_edits, next_edits = edits.list_edits(db, user_id, limit=EDITS_PAGE, cursor=edits_cursor or None)
    prices = get_context(request).provider_prices
    provider_costs = {edit.id: prices.cost_of(edit.model, edit.usage) for edit in person_edits}
    signed: Callable[..., int] = ledger.signed_amount
    return render(request, "admin/person.html", viewer, status_code=error.status if error else 200,
                  person=person, account=ledger.balance(db, user_id), transfers=transfers, next_cursor=next_cursor,
                  edits=person_edits, next_edits=next_edits, provider_costs=provider_costs,
                  topups=admin.topups(db, user_id),
                  actions=admin.actions_on(db, user_id), sessions=admin.session_count(db, user_id),
                  signed=signed, error=error, form=form or {}, done=DONE.get(done or ""),
                  new_action_id=_new_action_id, is_self=person.id == principal_of(viewer).user_id)


@router.get("/people/{user_id}", response_class=HTMLResponse)
def person(request: Request, viewer: OperatorViewer, db: DbSession, user_id: str, cursor: str | None = None,
           edits_cursor: str | None = None, done: str | None = None) -> Response:
    return _person_page(request, db, viewer, user_id, cursor=cursor, edits_cursor=edits_cursor, done=done)


def _act(request: Request, db: DbSession, viewer: Viewer, user_id: str, name: str, action: Callable[[], Any],
         form: dict[str, Any]) -> Response:
    """Run one action in a savepoint: on a refusal nothing of it stays, and the page says why."""
    try:
        with db.begin_nested():
            action()
    except AppError as error:
        return _person_page(request, db, viewer, user_id, error=error, form={**form, "action": name})
    return RedirectResponse(f"/admin/people/{user_id}?done={name}#actions", status_code=303)


Amount = Annotated[str, Form()]
Reason = Annotated[str, Form()]
ActionId = Annotated[str, Form()]


def _whole(amount: str) -> int:
    try:
        return int(amount.strip())
    except ValueError:
        return 0  # refused by the service with its message


@router.post("/people/{user_id}/grant", response_class=HTMLResponse)
def grant(request: Request, viewer: OperatorViewer, db: DbSession, user_id: str, amount: Amount = "",
          reason: Reason = "", action_id: ActionId = "") -> Response:
    return _act(request, db, viewer, user_id, "grant", lambda: admin.grant_credits(
        db, _operator(viewer), user_id, amount=_whole(amount), reason=reason, action_id=action_id),
        {"amount": amount, "reason": reason})


@router.post("/people/{user_id}/take", response_class=HTMLResponse)
def take(request: Request, viewer: OperatorViewer, db: DbSession, user_id: str, amount: Amount = "",
         reason: Reason = "", action_id: ActionId = "") -> Response:
    return _act(request, db, viewer, user_id, "take", lambda: admin.take_credits(
        db, _operator(viewer), user_id, amount=_whole(amount), reason=reason, action_id=action_id),
        {"amount": amount, "reason": reason})


@router.post("/people/{user_id}/hold", response_class=HTMLResponse)
def hold(request: Request, viewer: OperatorViewer, db: DbSession, user_id: str, reason: Reason = "",
         action_id: ActionId = "") -> Response:
    return _act(request, db, viewer, user_id, "hold", lambda: admin.set_hold(
        db, _operator(viewer), user_id, held=True, reason=reason, action_id=action_id), {"hold_reason": reason})


@router.post("/people/{user_id}/release", response_class=HTMLResponse)
def release(request: Request, viewer: OperatorViewer, db: DbSession, user_id: str, reason: Reason = "",
            action_id: ActionId = "") -> Response:
    return _act(request, db, viewer, user_id, "release", lambda: admin.set_hold(
        db, _operator(viewer), user_id, held=False, reason=reason, action_id=action_id), {"hold_reason": reason})


@router.post("/people/{user_id}/disable", response_class=HTMLResponse)
def disable(request: Request, viewer: OperatorViewer, db: DbSession, user_id: str, reason: Reason = "",
            action_id: ActionId = "") -> Response:
    return _act(request, db, viewer, user_id, "disable", lambda: admin.set_disabled(
        db, _operator(viewer), user_id, disabled=True, reason=reason, action_id=action_id),
        {"disable_reason": reason})


@router.post("/people/{user_id}/enable", response_class=HTMLResponse)
def enable(request: Request, viewer: OperatorViewer, db: DbSession, user_id: str, reason: Reason = "",
           action_id: ActionId = "") -> Response:
    return _act(request, db, viewer, user_id, "enable", lambda: admin.set_disabled(
        db, _operator(viewer), user_id, disabled=False, reason=reason, action_id=action_id),
        {"disable_reason": reason})


async def _preview(context: Context, edit_id: str, position: int | None) -> Response:
    """A stored preview of anyone's edit, streamed; the key is looked up in a short read, and the preview is
    made (on first request) with no transaction open."""
    def key() -> str:
        with context.read_transaction() as db:
            return admin.edit_image_key(db, edit_id, position=position)

    storage_key = await run_in_threadpool(key)
    return await run_in_threadpool(stored_files.preview, context.storage, storage_key,
                                   cache_control="private, max-age=3600")


@router.get("/edits/{edit_id}/result/preview", response_class=Response)
async def result_preview(viewer: OperatorViewer, context: Context, edit_id: str) -> Response:
    return await _preview(context, edit_id, None)


@router.get("/edits/{edit_id}/inputs/{position}/preview", response_class=Response)
async def input_preview(viewer: OperatorViewer, context: Context, edit_id: str, position: int) -> Response:
    return await _preview(context, edit_id, position)
