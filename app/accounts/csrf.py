"""Cross-site request forgery: one token rule and one check, used by every unsafe cookie-authenticated
request (pages and JSON API alike).

A signed-in browser's token is an HMAC of its session, so it cannot be chosen by the client and changes at
every log-in; before sign-in (the log-in and sign-up forms) it is a random value in the `csrftoken` cookie.
The token is also in that cookie (readable by our scripts, not HttpOnly) and in a `<meta>` of every page;
an unsafe request must echo it in the `X-CSRF-Token` header or the `csrf_token` form field. Another site
can make the browser send our cookies but can read neither, and its `Origin` is refused outright.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import Response

from app.errors import Forbidden

CSRF_COOKIE = "csrftoken"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})


def token_for_session(session_token: str, secret_key: str) -> str:
    return hmac.new(secret_key.encode(), f"csrf:{session_token}".encode(), hashlib.sha256).hexdigest()


def expected_token(request: Request, session_token: str | None, secret_key: str) -> str:
    """The token this browser must echo: bound to its session, or (signed out) its random cookie value,
    or a new random value that `set_cookie_if_changed` stores on the answer."""
    if session_token:
        return token_for_session(session_token, secret_key)
    pending = getattr(request.state, "csrf_token", None)
    if pending:
        return str(pending)
    cookie = request.cookies.get(CSRF_COOKIE)
    if cookie and len(cookie) >= 32:
        return cookie
    fresh = secrets.token_urlsafe(32)
    request.state.csrf_token = fresh
    return fresh


def rotate(request: Request, session_token: str | None, secret_key: str) -> None:
    """A new session began (log-in, sign-up) or ended (log-out): the answer carries the new token."""
    request.state.csrf_token = (token_for_session(session_token, secret_key) if session_token
                                else secrets.token_urlsafe(32))


def served_over_https(request: Request) -> bool:
    """Whether browsers reach us over https: this request's scheme (behind a proxy listed in
    FORWARDED_ALLOW_IPS, the one it forwards), or a PUBLIC_URL that says so."""
    public_url = request.app.state.context.settings.public_url or ""
    return request.url.scheme == "https" or public_url.startswith("https://")


def set_cookie_if_changed(request: Request, response: Response) -> None:
    """Store the token chosen during this request, if the browser's cookie does not already hold it."""
    token = getattr(request.state, "csrf_token", None)
    if token and request.cookies.get(CSRF_COOKIE) != token:
        response.set_cookie(CSRF_COOKIE, token, max_age=365 * 86400, httponly=False, samesite="lax",
                            secure=served_over_https(request), path="/")


def _same_origin(request: Request, public_url: str | None) -> bool:
    origin = request.headers.get("origin")
    if origin is None:
        return True  # programs and older browsers send none: the token decides
    parsed = urlsplit(origin)
    own = {f"{request.url.scheme}://{request.url.netloc}"}
    if public_url:
        public = urlsplit(public_url)
        own.add(f"{public.scheme}://{public.netloc}")
    return f"{parsed.scheme}://{parsed.netloc}" in own


FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data", "text/plain")


def refuse_foreign_origin(request: Request, public_url: str | None) -> None:
    if not _same_origin(request, public_url):
        raise Forbidden("This request came from another site and was refused.", code="csrf_failed")


def verify(request: Request, submitted: str | None, *, session_token: str | None, secret_key: str,
           public_url: str | None) -> None:
    """Refuse an unsafe request that came from another site, or that rides on a session (or, signed out, is
    a form another site could post: log-in CSRF) without echoing this browser's token. A signed-out JSON
    call is no browser's session to abuse: another site cannot send JSON without our consent (CORS)."""
    if request.method in SAFE_METHODS:
        return
    refuse_foreign_origin(request, public_url)
    is_form = request.headers.get("content-type", "").startswith(FORM_TYPES)
    if session_token is None and not is_form:
        return
    expected = token_for_session(session_token, secret_key) if session_token else request.cookies.get(CSRF_COOKIE)
    if not (expected and submitted and hmac.compare_digest(expected, submitted)):
        raise Forbidden("This form expired or came from elsewhere; reload the page and try again.",
                        code="csrf_failed")
