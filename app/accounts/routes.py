"""The accounts API under /api/v1: sign-up, log-in, log-out, who am I, API keys."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from sqlalchemy.orm import Session

from app import limits
from app.accounts import cookies
from app.accounts import service as accounts
from app.accounts.schemas import ApiKeyCreate, ApiKeyCreated, ApiKeyList, ApiKeyOut, Credentials, Me, SignedUp
from app.api.docs import API_ERRORS
from app.billing import ledger
from app.context import AppContext
from app.deps import Context, CsrfProtected, CurrentPrincipal, DbSession, credentials_in_body, session_token
from app.errors import NotAuthenticated
from app.models import User

router = APIRouter(prefix="/api/v1", tags=["accounts"], responses=API_ERRORS,
                   dependencies=[CsrfProtected, limits.ApiKeyLimited])


@router.post("/auth/signup", status_code=201, dependencies=[limits.SignupLimited])
@credentials_in_body
def signup(body: Credentials, request: Request, response: Response, db: DbSession, context: Context,
           address: limits.ClientAddress) -> SignedUp:
    """Create an account and sign in. The sign-up credits come once per mailbox, to a few new accounts per
    client address a day (README "Running in public")."""
    user = accounts.sign_up(context, email=body.email, password=body.password,
                            may_grant=lambda: limits.take_signup_grant(context, address))
    _sign_in(request, response, db, context, user.id)
    return SignedUp(id=user.id, email=user.email, balance=ledger.balance(db, user.id).available)


@router.post("/auth/login")
@credentials_in_body
def login(body: Credentials, request: Request, response: Response, db: DbSession, context: Context,
          address: limits.ClientAddress) -> Me:
    """Sign in. Failures are limited per account and per client address (then a temporary lock); an unknown
    address is treated exactly like a known one."""
    user = authenticate_limited(context, body.email, body.password, address)
    _sign_in(request, response, db, context, user.id)
    return Me.of(user.id, user.email, ledger.balance(db, user.id))


def authenticate_limited(context: AppContext, email: str, password: str, address: str) -> User:
    """`authenticate` behind the log-in limits: refused while locked, and every failure counted."""
    limits.before_login(context, email, address)
    try:
        return accounts.authenticate(context, email=email, password=password)
    except NotAuthenticated:
        limits.after_failed_login(context, email, address)
        raise


def _sign_in(request: Request, response: Response, db: Session, context: AppContext, user_id: str) -> None:
    token = accounts.start_session(db, user_id, days=context.settings.session_days)
    cookies.set_session_cookie(response, request, token, secret_key=context.settings.resolved_secret_key,
                               days=context.settings.session_days)


@router.post("/auth/logout", status_code=204)
def logout(request: Request, db: DbSession, context: Context) -> Response:
    token = session_token(request, context)
    if token is not None:
        accounts.end_session(db, token)
    response = Response(status_code=204)
    cookies.clear_session_cookie(response, request)
    return response


@router.get("/me")
def me(principal: CurrentPrincipal, db: DbSession) -> Me:
    return Me.of(principal.user_id, principal.email, ledger.balance(db, principal.user_id))


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
