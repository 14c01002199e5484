"""The account pages: sign-up, log-in, log-out and the account page (balance, ledger, API keys). Forms post
back here and work without JavaScript."""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated, Any
from urllib.parse import urlparse

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from app import limits
from app.accounts import cookies, deletion, lifecycle
from app.accounts import export as exports
from app.accounts import service as accounts
from app.accounts.routes import authenticate_limited, delete_with_password, sign_up_limited
from app.api.paging import page_of, sequence_cursor
from app.billing import ledger
from app.context import AppContext
from app.deps import Context, CsrfProtected, DbSession
from app.errors import AppError, TooManyRequests
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


@router.post("/signup", response_class=HTMLResponse)
def signup_submit(request: Request, viewer: AnyViewer, db: DbSession, context: Context,
                  address: limits.ClientAddress, email: Annotated[str, Form()] = "",
                  password: Annotated[str, Form()] = "", next: Annotated[str, Form()] = "") -> Response:
    try:
        user = sign_up_limited(context, email, password, address)
    except AppError as error:
        return _refused_form(request, "auth.html", viewer, error, mode="signup", email=email,
                             next=_safe_next(next), signup_credits=context.settings.signup_credits)
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
        return _refused_form(request, "auth.html", viewer, error, mode="login", email=email, next=_safe_next(next))
    return _signed_in_redirect(request, db, context, user, _safe_next(next))


def _refused_form(request: Request, template: str, viewer: Viewer, error: AppError, **values: Any) -> Response:
    """The form again, with `error` on it and what was typed kept; a limit's refusal says when to come back
    (`Retry-After`) as every 429 does, and in its message."""
    response = render(request, template, viewer, status_code=error.status, error=error, **values)
    if isinstance(error, TooManyRequests):
        response.headers["Retry-After"] = str(error.retry_after)
    return response


def _signed_in_redirect(request: Request, db: Session, context: AppContext, user: User, target: str) -> Response:
    response = RedirectResponse(target, status_code=303)
    cookies.sign_in(request, response, db, context, user.id)
    return response


@router.post("/logout")
def logout(request: Request, db: DbSession, context: Context) -> Response:
    response = RedirectResponse("/", status_code=303)
    cookies.sign_out(request, response, db, context)
    return response


def _account_page(request: Request, db: DbSession, viewer: Viewer, cursor: str | None, **extra: Any) -> Response:
    user_id = principal_of(viewer).user_id
    rows = ledger.history(db, user_id, limit=LEDGER_PAGE + 1, before_seq=sequence_cursor(cursor))
    transfers, next_cursor = page_of(rows, LEDGER_PAGE, lambda row: str(row.seq))
    extra.setdefault("notice", NOTICES.get(request.query_params.get("done", "")))
    extra.update(_your_data(request, db, user_id))
    return render(request, "account.html", viewer, transfers=transfers, next_cursor=next_cursor,
                  api_keys=accounts.list_api_keys(db, user_id), signed=ledger.signed_amount,
                  email_verified=principal_of(viewer).email_verified,
                  session_days=request.app.state.context.settings.session_days,
                  signup_credits_pending=_credits_wait_for_confirmation(db, request.app.state.context, user_id),
                  sessions=lifecycle.list_sessions(db, user_id, principal_of(viewer).session_id), **extra)


def _credits_wait_for_confirmation(db: Session, context: AppContext, user_id: str) -> bool:
    user = db.get(User, user_id)
    return (context.settings.email_confirms_signup and user is not None and user.email_verified_at is None
            and accounts.welcome_credits_due(db, context, user))


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
        return _account_page(request, db, viewer, None, key_error=error, status_code=error.status)
    response = RedirectResponse("/account#api-keys", status_code=303)
    cookies.hand_over_new_key(response, request, key=key, name=row.name,
                              secret_key=context.settings.resolved_secret_key)
    return response


@router.post("/account/api-keys/{key_id}/revoke")
def account_revoke_key(key_id: str, viewer: SignedInViewer, db: DbSession) -> Response:
    accounts.revoke_api_key(db, principal_of(viewer).user_id, key_id)
    return RedirectResponse("/account#api-keys", status_code=303)


# --- mailed links, passwords and sessions (app.accounts.lifecycle) ----------------------------------------

NOTICES = {
    "password-changed": "Your password is changed. Every other browser was signed out; API keys keep working.",
    "password-reset": "Your new password is set and every other browser was signed out. You are signed in here.",
    "sessions-ended": "The other browsers are signed out.",
    "session-ended": "That browser is signed out.",
    "verification-sent": "A new confirmation link is on its way. It works for three days.",
}


@router.get("/verify-email", response_class=HTMLResponse)
def verify_email_page(request: Request, viewer: AnyViewer, context: Context, token: str = "") -> Response:
    """The page a confirmation link opens: a button posts the token (so mail scanners confirm nothing); a
    spent, expired or broken link says so at once instead."""
    error = _link_refusal(context, lifecycle.CONFIRM, token)
    if error is not None:
        return render(request, "verify_email.html", viewer, status_code=error.status, token=token, state="error",
                      error=error)
    return render(request, "verify_email.html", viewer, token=token, state="ask")


def _link_refusal(context: AppContext, purpose: str, token: str) -> AppError | None:
    """Why a mailed link's page cannot offer its form, checked as it opens without using the link up. Not
    counted against ACCOUNT_LINKS: a guessed token fails its signature before the database is asked, so the
    check tells a prober nothing, and opening one's own link (or a mail scanner doing so) should not spend
    the network's allowance for using links."""
    if not token:
        return None  # the page asks for the whole link
    try:
        lifecycle.check_link(context, purpose, token)
    except lifecycle.LinkRefused as error:
        return error
    return None


@router.post("/verify-email", response_class=HTMLResponse)
def verify_email_submit(request: Request, viewer: AnyViewer, db: DbSession, context: Context,
                        address: limits.ClientAddress, token: Annotated[str, Form()] = "") -> Response:
    try:
        limits.hit_address(context, limits.ACCOUNT_LINKS, address)
        with db.begin_nested():
            user = lifecycle.confirm_email(db, context, token,
                                           may_grant=lambda: limits.take_signup_grant(context, address))
    except AppError as error:
        # A spent link says why; a limit's refusal leaves the button to press again later.
        state = "error" if isinstance(error, lifecycle.LinkRefused) else "ask"
        return _refused_form(request, "verify_email.html", viewer, error, token=token, state=state)
    if viewer.principal is None or viewer.principal.user_id != user.id:
        return render(request, "verify_email.html", viewer, state="done", email=user.email, credits_now=None)
    balance = ledger.balance(db, user.id)  # the credits just granted, in the page and in its header alike
    return render(request, "verify_email.html", replace(viewer, balance=balance), state="done", email=user.email,
                  credits_now=balance)


@router.get("/forgot-password", response_class=HTMLResponse)
def forgot_password_page(request: Request, viewer: AnyViewer, email: str = "") -> Response:
    return render(request, "forgot_password.html", viewer, email=email, sent=False)


@router.post("/forgot-password", response_class=HTMLResponse)
def forgot_password_submit(request: Request, viewer: AnyViewer, db: DbSession, context: Context,
                           address: limits.ClientAddress, email: Annotated[str, Form()] = "") -> Response:
    try:
        limits.hit_address(context, limits.PASSWORD_RESET_ADDRESS, address)
    except AppError as error:
        return _refused_form(request, "forgot_password.html", viewer, error, email=email, sent=False)
    lifecycle.request_reset(db, context, email,
                            may_send=lambda normalized: limits.allows_reset_mail(context, normalized))
    return render(request, "forgot_password.html", viewer, email=email, sent=True)


@router.get("/reset-password", response_class=HTMLResponse)
def reset_password_page(request: Request, viewer: AnyViewer, context: Context, token: str = "") -> Response:
    """The page a reset link opens: the new-password form, or at once why the link cannot be used."""
    error = _link_refusal(context, lifecycle.RESET, token)
    return render(request, "reset_password.html", viewer, status_code=error.status if error else 200, token=token,
                  error=error)


@router.post("/reset-password", response_class=HTMLResponse)
def reset_password_submit(request: Request, viewer: AnyViewer, context: Context, address: limits.ClientAddress,
                          token: Annotated[str, Form()] = "", password: Annotated[str, Form()] = "") -> Response:
    try:
        limits.hit_address(context, limits.ACCOUNT_LINKS, address)
        user = lifecycle.reset_password(context, token, password)
    except AppError as error:
        return _refused_form(request, "reset_password.html", viewer, error, token=token)
    with context.transaction() as db:
        return _signed_in_redirect(request, db, context, user, "/account?done=password-reset#security")


@router.post("/account/verify-email/resend", response_class=HTMLResponse)
def account_resend_verification(request: Request, viewer: SignedInViewer, db: DbSession,
                                context: Context) -> Response:
    user_id = principal_of(viewer).user_id
    try:
        limits.hit(context, limits.VERIFICATION_MAIL, user_id)
        lifecycle.resend_verification(db, context, user_id)
    except AppError as error:
        return _account_page(request, db, viewer, None, verify_error=error)
    return RedirectResponse("/account?done=verification-sent#security", status_code=303)


@router.post("/account/password", response_class=HTMLResponse)
def account_change_password(request: Request, viewer: SignedInViewer, context: Context,
                            address: limits.ClientAddress, current_password: Annotated[str, Form()] = "",
                            new_password: Annotated[str, Form()] = "") -> Response:
    principal = principal_of(viewer)
    try:
        with limits.password_attempt(context, principal.email, address):
            lifecycle.change_password(context, principal.user_id, current_password, new_password,
                                      keep_session_id=principal.session_id)
    except AppError as error:
        with context.read_transaction() as db:
            return _account_page(request, db, viewer, None, password_error=error, status_code=error.status)
    return RedirectResponse("/account?done=password-changed#security", status_code=303)


@router.post("/account/sessions/end-others")
def account_end_other_sessions(viewer: SignedInViewer, db: DbSession) -> Response:
    principal = principal_of(viewer)
    lifecycle.end_other_sessions(db, principal.user_id, principal.session_id)
    return RedirectResponse("/account?done=sessions-ended#sessions", status_code=303)


@router.post("/account/sessions/{session_id}/end")
def account_end_session(session_id: str, request: Request, viewer: SignedInViewer, db: DbSession) -> Response:
    principal = principal_of(viewer)
    lifecycle.end_session_by_id(db, principal.user_id, session_id)
    if session_id == principal.session_id:
        response = RedirectResponse("/login", status_code=303)
        cookies.clear_session_cookie(response, request)
        return response
    return RedirectResponse("/account?done=session-ended#sessions", status_code=303)


# --- your data: exports and deleting the account (app.accounts.export, app.accounts.deletion) -------------


def _your_data(request: Request, db: Session, user_id: str) -> dict[str, Any]:
    settings = request.app.state.context.settings
    rows = exports.recent_exports(db, user_id)
    return {"exports": [(row, exports.status_of(row)) for row in rows], "export_days": settings.export_days,
            "standing": deletion.standing(db, user_id),
            "export_started": request.query_params.get("done") == "export-started"}


@router.post("/account/exports", response_class=HTMLResponse)
def account_create_export(request: Request, viewer: SignedInViewer, db: DbSession, context: Context) -> Response:
    user_id = principal_of(viewer).user_id
    try:
        limits.hit(context, limits.EXPORT, user_id)
    except AppError as error:
        return _account_page(request, db, viewer, None, export_error=error, status_code=error.status)
    exports.request_export(context, db, user_id)
    return RedirectResponse("/account?done=export-started#your-data", status_code=303)


@router.post("/account/delete", response_class=HTMLResponse)
def account_delete(request: Request, viewer: SignedInViewer, context: Context, address: limits.ClientAddress,
                   password: Annotated[str, Form()] = "") -> Response:
    """Delete the account after the password confirms it (failures count like failed log-ins)."""
    principal = principal_of(viewer)
    try:
        delete_with_password(context, principal.user_id, principal.email, password, address)
    except AppError as error:
        with context.read_transaction() as db:
            return _account_page(request, db, viewer, None, delete_error=error, status_code=error.status)
    response = RedirectResponse("/account/deleted", status_code=303)
    cookies.clear_session_cookie(response, request)
    return response


@router.get("/account/deleted", response_class=HTMLResponse)
def account_deleted(request: Request, viewer: AnyViewer) -> Response:
    if viewer.principal is not None:  # a deletion signs the browser out: this account is not gone
        return RedirectResponse("/account", status_code=303)
    return render(request, "account_deleted.html", viewer)

