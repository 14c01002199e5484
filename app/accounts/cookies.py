"""The two cookies a browser holds: the signed session and the CSRF token (double-submit).

The CSRF token is readable by our scripts (not HttpOnly); an unsafe request authenticated by the session
cookie must echo it in the `X-CSRF-Token` header or a `csrf_token` form field. Another site can make the
browser send our cookies but cannot read them, so it cannot echo the token.
"""

from __future__ import annotations

import hmac
import secrets

from itsdangerous import BadSignature, URLSafeSerializer, URLSafeTimedSerializer
from starlette.requests import Request
from starlette.responses import Response

SESSION_COOKIE = "session"
CSRF_COOKIE = "csrftoken"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})


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
    return request.url.scheme == "https"


def set_session_cookie(response: Response, request: Request, token: str, *, secret_key: str, days: int) -> None:
    """Sign the browser in; it also gets a CSRF token now if it has none, for its first unsafe request."""
    csrf_token(request)
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


def clear_session_cookie(response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/")


def csrf_token(request: Request) -> str:
    """This browser's CSRF token: the cookie's, or a new one that the middleware sets on the response."""
    existing = request.cookies.get(CSRF_COOKIE) or getattr(request.state, "new_csrf_token", None)
    if existing:
        return str(existing)
    token = secrets.token_urlsafe(32)
    request.state.new_csrf_token = token
    return token


def set_csrf_cookie_if_new(request: Request, response: Response) -> None:
    token = getattr(request.state, "new_csrf_token", None)
    if token and not request.cookies.get(CSRF_COOKIE):
        response.set_cookie(CSRF_COOKIE, token, max_age=365 * 86400, httponly=False, samesite="lax",
                            secure=_secure(request), path="/")


def csrf_matches(request: Request, submitted: str | None) -> bool:
    cookie = request.cookies.get(CSRF_COOKIE)
    return bool(cookie and submitted and hmac.compare_digest(cookie, submitted))
