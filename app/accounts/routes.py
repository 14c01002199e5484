"""The accounts API under /api/v1: sign-up, log-in, log-out, who am I, API keys."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import StreamingResponse

from app import limits
from app.accounts import cookies, deletion, lifecycle
from app.accounts import export as exports
from app.accounts import service as accounts
from app.accounts.schemas import (
    Accepted,
    AccountDeletion,
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyList,
    ApiKeyOut,
    Credentials,
    EmailConfirmed,
    EmailToken,
    ExportOut,
    ForgotPassword,
    Me,
    PasswordChange,
    PasswordChanged,
    ResetPassword,
    SessionList,
    SessionOut,
    SignedUp,
)
from app.api import stored_files
from app.api.docs import API_ERRORS
from app.billing import ledger
from app.context import AppContext
from app.deps import Context, CsrfProtected, CurrentPrincipal, DbSession, credentials_in_body
from app.errors import Conflict
from app.models import User

router = APIRouter(prefix="/api/v1", tags=["accounts"], responses=API_ERRORS,
                   dependencies=[CsrfProtected, limits.ApiKeyLimited])


@router.post("/auth/signup", status_code=201)
@credentials_in_body
def signup(body: Credentials, request: Request, response: Response, db: DbSession, context: Context,
           address: limits.ClientAddress) -> SignedUp:
    """Create an account and sign in. The sign-up credits come once per mailbox, to a few new accounts per
    client address a day (README "Running in public")."""
    user = sign_up_limited(context, body.email, body.password, address)
    cookies.sign_in(request, response, db, context, user.id)
    return SignedUp(id=user.id, email=user.email, balance=ledger.balance(db, user.id).available)


@router.post("/auth/login")
@credentials_in_body
def login(body: Credentials, request: Request, response: Response, db: DbSession, context: Context,
          address: limits.ClientAddress) -> Me:
    """Sign in. Failures are limited per account and per client address (then a temporary lock); an unknown
    address is treated exactly like a known one."""
    user = authenticate_limited(context, body.email, body.password, address)
    cookies.sign_in(request, response, db, context, user.id)
    return Me.of(user.id, user.email, ledger.balance(db, user.id), email_verified=user.email_verified_at is not None)


def sign_up_limited(context: AppContext, email: str, password: str, address: str) -> User:
    """`sign_up` behind the per-address sign-up limits (`limits.signup_attempt`)."""
    with limits.signup_attempt(context, address):
        return accounts.sign_up(context, email=email, password=password,
                                may_grant=lambda: limits.take_signup_grant(context, address))


def authenticate_limited(context: AppContext, email: str, password: str, address: str) -> User:
    """`authenticate` behind the log-in limits: refused while locked, and every failure counted."""
    with limits.password_attempt(context, email, address):
        return accounts.authenticate(context, email=email, password=password)


@router.post("/auth/logout", status_code=204)
def logout(request: Request, db: DbSession, context: Context) -> Response:
    response = Response(status_code=204)
    cookies.sign_out(request, response, db, context)
    return response


@router.get("/me")
def me(principal: CurrentPrincipal, db: DbSession) -> Me:
    return Me.of(principal.user_id, principal.email, ledger.balance(db, principal.user_id),
                 email_verified=principal.email_verified)


@router.post("/api-keys", status_code=201)
def create_api_key(body: ApiKeyCreate, principal: CurrentPrincipal, db: DbSession) -> ApiKeyCreated:
    """A new API key; the key is in this answer only."""
    row, key = accounts.create_api_key(db, principal.user_id, body.name)
    return ApiKeyCreated(id=row.id, name=row.name, key=key, last4=row.last4, created_at=row.created_at)


@router.get("/api-keys")
def list_api_keys(principal: CurrentPrincipal, db: DbSession) -> ApiKeyList:
    return ApiKeyList(items=[ApiKeyOut.of(row) for row in accounts.list_api_keys(db, principal.user_id)])


@router.delete("/api-keys/{key_id}", status_code=204)
def revoke_api_key(key_id: str, principal: CurrentPrincipal, db: DbSession) -> Response:
    accounts.revoke_api_key(db, principal.user_id, key_id)
    return Response(status_code=204)


# --- mailed links, passwords and sessions (app.accounts.lifecycle) ----------------------------------------

RESET_ANSWER = "If an account uses this address, a link to choose a new password is on its way. It works for an hour."


@router.post("/auth/verify-email", dependencies=[limits.AccountLinksLimited])
@credentials_in_body
def verify_email(body: EmailToken, db: DbSession, context: Context, address: limits.ClientAddress) -> EmailConfirmed:
    """Confirm the address a link was mailed to (the link's page posts its token here, so that mail scanners
    that open links confirm nothing). With a real mail server, the sign-up credits arrive now."""
    user = lifecycle.confirm_email(db, context, body.token,
                                   may_grant=lambda: limits.take_signup_grant(context, address))
    return EmailConfirmed(email=user.email, email_verified=True)


@router.post("/auth/verify-email/resend", status_code=202)
def resend_verification(principal: CurrentPrincipal, db: DbSession, context: Context) -> Accepted:
    """Mail the confirmation link again (a few times an hour)."""
    limits.hit(context, limits.VERIFICATION_MAIL, principal.user_id)
    if not lifecycle.resend_verification(db, context, principal.user_id):
        raise Conflict("Your address is already confirmed.", code="already_verified")
    return Accepted(message=f"A new confirmation link is on its way to {principal.email}.")


@router.post("/auth/forgot-password", status_code=202, dependencies=[limits.PasswordResetLimited])
@credentials_in_body
def forgot_password(body: ForgotPassword, db: DbSession, context: Context) -> Accepted:
    """Mail a link to choose a new password. The answer is the same whether or not the address has an
    account (and when its own limit of mails is spent)."""
    lifecycle.request_reset(db, context, body.email, may_send=lambda email: limits.allows_reset_mail(context, email))
    return Accepted(message=RESET_ANSWER)


@router.post("/auth/reset-password", dependencies=[limits.AccountLinksLimited])
@credentials_in_body
def reset_password(body: ResetPassword, request: Request, response: Response, context: Context) -> Me:
    """Set a new password with the token of a reset link: every session of the account ends (API keys keep
    working) and this client is signed in with the new password."""
    user = lifecycle.reset_password(context, body.token, body.password)
    with context.transaction() as db:
        cookies.sign_in(request, response, db, context, user.id)
        balance = ledger.balance(db, user.id)
    return Me.of(user.id, user.email, balance, email_verified=user.email_verified_at is not None)


@router.post("/me/password")
def change_password(body: PasswordChange, principal: CurrentPrincipal, context: Context,
                    address: limits.ClientAddress) -> PasswordChanged:
    """Change the password (the current one is asked, and wrong answers count as failed log-ins); every
    other session ends, API keys keep working."""
    with limits.password_attempt(context, principal.email, address):
        ended = lifecycle.change_password(context, principal.user_id, body.current_password, body.new_password,
                                          keep_session_id=principal.session_id)
    return PasswordChanged(sessions_ended=ended)


@router.get("/me/sessions")
def list_sessions(principal: CurrentPrincipal, db: DbSession) -> SessionList:
    """The browsers signed in to this account, the most recently active first."""
    views = lifecycle.list_sessions(db, principal.user_id, principal.session_id)
    return SessionList(items=[SessionOut.of(view) for view in views])


@router.delete("/me/sessions/{session_id}", status_code=204)
def end_session(session_id: str, request: Request, principal: CurrentPrincipal, db: DbSession) -> Response:
    """Sign one browser out (this one too, if it names its own session)."""
    lifecycle.end_session_by_id(db, principal.user_id, session_id)
    response = Response(status_code=204)
    if session_id == principal.session_id:
        cookies.clear_session_cookie(response, request)
    return response


# --- your data: exports and deleting the account (app.accounts.export, app.accounts.deletion) -------------


@router.post("/me/exports", status_code=202)
def create_export(principal: CurrentPrincipal, db: DbSession, context: Context) -> ExportOut:
    """Ask for a ZIP of every edit (inputs, result, settings) and of the ledger; poll its status, then
    download it before `expires_at` (EXPORT_DAYS). Limited per person (RATE_LIMIT_EXPORT_PER_USER)."""
    limits.hit(context, limits.EXPORT, principal.user_id)
    row = exports.request_export(context, db, principal.user_id)
    return ExportOut.of(row, exports.status_of(row))


@router.get("/me/exports/{export_id}")
def get_export(export_id: str, principal: CurrentPrincipal, db: DbSession) -> ExportOut:
    row = exports.get_export(db, principal.user_id, export_id)
    return ExportOut.of(row, exports.status_of(row))


@router.get("/me/exports/{export_id}/download", response_class=StreamingResponse,
            responses={200: {"content": {"application/zip": {}}, "description": "the ZIP"}})
def download_export(export_id: str, principal: CurrentPrincipal, db: DbSession, context: Context) -> StreamingResponse:
    """The ZIP, as an attachment; 409 while it is being built, 410 once it has expired."""
    row, key = exports.download_key(db, principal.user_id, export_id)
    name = f"imagedit-export-{row.created_at.strftime('%Y-%m-%d')}-{row.id[:8]}.zip"
    return stored_files.stream(context.storage, key, content_type="application/zip", size=row.bytes, filename=name,
                               cache_control="private, no-store",
                               missing=exports.ExportExpired("This export is gone; ask for a new one."))


@router.delete("/me", status_code=204)
def delete_me(body: AccountDeletion, request: Request, principal: CurrentPrincipal, context: Context,
              address: limits.ClientAddress) -> Response:
    """Delete the account, confirmed with its password: queued edits are cancelled (credits returned), every
    file is removed, API keys and sessions end, the address is freed; 409 `edit_running` while an edit runs.
    The ledger keeps its entries under the anonymous account."""
    delete_with_password(context, principal.user_id, principal.email, body.password, address)
    response = Response(status_code=204)
    cookies.clear_session_cookie(response, request)
    return response


def delete_with_password(context: AppContext, user_id: str, email: str, password: str, address: str) -> None:
    """`delete_account` behind the log-in limits: a wrong password counts as a failed log-in."""
    with limits.password_attempt(context, email, address):
        deletion.delete_account(context, user_id, password)
