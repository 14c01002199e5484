"""The account pages: sign-up, log-in, log-out and the account page (balance, ledger, API keys). Forms post
back here and work without JavaScript."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlparse

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from app import limits
from app.accounts import cookies
from app.accounts import service as accounts
from app.accounts.routes import authenticate_limited
from app.api.paging import page_of, sequence_cursor
from app.billing import ledger
from app.context import AppContext
from app.deps import Context, CsrfProtected, DbSession, session_token
from app.errors import AppError
from app.models import User
from app.web.templates import render
from app.web.viewer import AnyViewer, SignedInViewer, Viewer, principal_of

router = APIRouter(include_in_schema=False, dependencies=[CsrfProtected])
LEDGER_PAGE = 25


def _safe_next(target: str | None) -> str:
    """Only same-site paths, so a login link cannot send people elsewhere."""
    if not target:
        return "/edit"
    parsed = urlparse(target)
    if parsed.scheme or parsed.netloc or not target.startswith("/") or target.startswith("//"):
        return "/edit"
    return target


@router.get("/signup", response_class=HTMLResponse)
def signup_page(request: Request, viewer: AnyViewer, context: Context, next: str | None = None) -> Response:
    return render(request, "auth.html", viewer, mode="signup", next=_safe_next(next),
                  signup_credits=context.settings.signup_credits)


@router.post("/signup", response_class=HTMLResponse, dependencies=[limits.SignupLimited])
def signup_submit(request: Request, viewer: AnyViewer, db: DbSession, context: Context,
                  address: limits.ClientAddress, email: Annotated[str, Form()] = "",
                  password: Annotated[str, Form()] = "", next: Annotated[str, Form()] = "") -> Response:
    try:
        user = accounts.sign_up(context, email=email, password=password,
                                may_grant=lambda: limits.take_signup_grant(context, address))
    except AppError as error:
        return render(request, "auth.html", viewer, status_code=error.status, mode="signup", error=error,
                      email=email, next=_safe_next(next), signup_credits=context.settings.signup_credits)
    return _signed_in_redirect(request, db, context, user, _safe_next(next))


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, viewer: AnyViewer, next: str | None = None) -> Response:
    return render(request, "auth.html", viewer, mode="login", next=_safe_next(next))


@router.post("/login", response_class=HTMLResponse)
def login_submit(request: Request, viewer: AnyViewer, db: DbSession, context: Context,
                 address: limits.ClientAddress, email: Annotated[str, Form()] = "",
                 password: Annotated[str, Form()] = "", next: Annotated[str, Form()] = "") -> Response:
    try:
        user = authenticate_limited(context, email, password, address)
    except AppError as error:
        return render(request, "auth.html", viewer, status_code=error.status, mode="login", error=error,
                      email=email, next=_safe_next(next))
    return _signed_in_redirect(request, db, context, user, _safe_next(next))


def _signed_in_redirect(request: Request, db: DbSession, context: AppContext, user: User, target: str) -> Response:
    token = accounts.start_session(db, user.id, days=context.settings.session_days)
    response = RedirectResponse(target, status_code=303)
    cookies.set_session_cookie(response, request, token, secret_key=context.settings.resolved_secret_key,
                               days=context.settings.session_days)
    return response


@router.post("/logout")
def logout(request: Request, db: DbSession, context: Context) -> Response:
    token = session_token(request, context)
    if token:
        accounts.end_session(db, token)
    response = RedirectResponse("/", status_code=303)
    cookies.clear_session_cookie(response, request)
    return response


def _account_page(request: Request, db: DbSession, viewer: Viewer, cursor: str | None, **extra: Any) -> Response:
    user_id = principal_of(viewer).user_id
    rows = ledger.history(db, user_id, limit=LEDGER_PAGE + 1, before_seq=sequence_cursor(cursor))
    transfers, next_cursor = page_of(rows, LEDGER_PAGE, lambda row: str(row.seq))
    return render(request, "account.html", viewer, transfers=transfers, next_cursor=next_cursor,
                  api_keys=accounts.list_api_keys(db, user_id), signed=ledger.signed_amount, **extra)


@router.get("/account", response_class=HTMLResponse)
def account(request: Request, viewer: SignedInViewer, db: DbSession, context: Context,
            cursor: str | None = None) -> Response:
    new_key = cookies.read_new_key(request, secret_key=context.settings.resolved_secret_key)
    page = _account_page(request, db, viewer, cursor, new_key=new_key)
    if new_key is not None:
        cookies.forget_new_key(page)
    return page


@router.post("/account/api-keys", response_class=HTMLResponse)
def account_create_key(request: Request, viewer: SignedInViewer, db: DbSession, context: Context,
                       name: Annotated[str, Form()] = "") -> Response:
    try:
        with db.begin_nested():
            row, key = accounts.create_api_key(db, principal_of(viewer).user_id, name)
    except AppError as error:
        return _account_page(request, db, viewer, None, key_error=error)
    response = RedirectResponse("/account#api-keys", status_code=303)
    cookies.hand_over_new_key(response, request, key=key, name=row.name,
                              secret_key=context.settings.resolved_secret_key)
    return response


@router.post("/account/api-keys/{key_id}/revoke")
def account_revoke_key(key_id: str, viewer: SignedInViewer, db: DbSession) -> Response:
    accounts.revoke_api_key(db, principal_of(viewer).user_id, key_id)
    return RedirectResponse("/account#api-keys", status_code=303)
