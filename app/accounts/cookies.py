"""The signed session cookie (and the short-lived cookie that carries a new API key across a redirect).
The CSRF token that goes with a session is app.accounts.csrf's."""

from __future__ import annotations

from typing import TYPE_CHECKING

from itsdangerous import BadSignature, URLSafeSerializer, URLSafeTimedSerializer
from starlette.requests import Request
from starlette.responses import Response

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from app.context import AppContext

from app.accounts import csrf, service

SESSION_COOKIE = "session"


def _serializer(secret_key: str) -> URLSafeSerializer:
    return URLSafeSerializer(secret_key, salt="session")


def read_session_token(request: Request, secret_key: str) -> str | None:
    raw = request.cookies.get(SESSION_COOKIE)
    if not raw:
        return None
    try:
        token = _serializer(secret_key).loads(raw)
    except BadSignature:
        return None
    return token if isinstance(token, str) else None


def _secure(request: Request) -> bool:
    return csrf.served_over_https(request)


def set_session_cookie(response: Response, request: Request, token: str, *, secret_key: str, days: int) -> None:
    """Sign the browser in; its CSRF token changes with the new session."""
    csrf.rotate(request, token, secret_key)
    response.set_cookie(SESSION_COOKIE, _serializer(secret_key).dumps(token), max_age=days * 86400,
                        httponly=True, samesite="lax", secure=_secure(request), path="/")


NEW_KEY_COOKIE = "new_api_key"
NEW_KEY_SECONDS = 300


def _new_key_serializer(secret_key: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret_key, salt="new-api-key")


def hand_over_new_key(response: Response, request: Request, *, key: str, name: str, secret_key: str) -> None:
    """Carry a just-created API key across the redirect after the form post (so a reload cannot create
    another one); the account page shows it once and drops the cookie."""
    response.set_cookie(NEW_KEY_COOKIE, _new_key_serializer(secret_key).dumps({"key": key, "name": name}),
                        max_age=NEW_KEY_SECONDS, httponly=True, samesite="strict", secure=_secure(request),
                        path="/account")


def read_new_key(request: Request, *, secret_key: str) -> dict[str, str] | None:
    """The key handed over by `hand_over_new_key`; the page that shows it calls `forget_new_key`."""
    raw = request.cookies.get(NEW_KEY_COOKIE)
    if not raw:
        return None
    try:
        value = _new_key_serializer(secret_key).loads(raw, max_age=NEW_KEY_SECONDS)
    except BadSignature:
        return None
    return value if isinstance(value, dict) else None


def forget_new_key(response: Response) -> None:
    response.delete_cookie(NEW_KEY_COOKIE, path="/account")


def clear_session_cookie(response: Response, request: Request) -> None:
    """Sign the browser out; it gets a fresh signed-out CSRF token."""
    csrf.rotate(request, None, "")
    response.delete_cookie(SESSION_COOKIE, path="/")


def sign_in(request: Request, response: Response, db: Session, context: AppContext, user_id: str) -> None:
    """Start a session for this browser (remembering its user agent and address) and set its cookie."""
    from app.limits import client_address

    token = service.start_session(db, user_id, days=context.settings.session_days,
                                  user_agent=request.headers.get("user-agent"),
                                  ip_address=client_address(request, context.settings))
    set_session_cookie(response, request, token, secret_key=context.settings.resolved_secret_key,
                       days=context.settings.session_days)


def sign_out(request: Request, response: Response, db: Session, context: AppContext) -> None:
    """End this browser's session, if it has one, and drop its cookie."""
    token = read_session_token(request, context.settings.resolved_secret_key)
    if token:
        service.end_session(db, token)
    clear_session_cookie(response, request)
