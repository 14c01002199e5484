"""FastAPI dependencies: the shared context, one transaction per request, and who is calling."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from app.accounts import cookies
from app.accounts.service import Principal, principal_for_api_key, principal_for_session
from app.context import AppContext
from app.errors import Forbidden, NotAuthenticated


def get_context(request: Request) -> AppContext:
    context: AppContext = request.app.state.context
    return context


Context = Annotated[AppContext, Depends(get_context)]


def get_db(context: Context) -> Iterator[Session]:
    """The request's unit of work: committed when the handler returns, rolled back if it raises.
    Scoped to the handler (not the response) so the commit happens before the answer is sent."""
    with context.transaction() as session:
        yield session


DbSession = Annotated[Session, Depends(get_db, scope="function")]


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def identify(request: Request, context: AppContext) -> Principal | None:
    """The caller, by API key or session cookie, looked up in a short transaction of its own (so that
    slow work later in the request does not hold a database lock)."""
    if hasattr(request.state, "principal"):
        cached: Principal | None = request.state.principal
        return cached
    principal: Principal | None = None
    key = _bearer(request)
    with context.transaction() as db:
        if key is not None:
            principal = principal_for_api_key(db, key)
            if principal is None:
                raise NotAuthenticated("That API key is not valid (revoked or mistyped).", code="invalid_api_key")
        else:
            token = cookies.read_session_token(request, context.settings.resolved_secret_key)
            principal = principal_for_session(db, token) if token else None
    request.state.principal = principal
    return principal


def optional_principal(request: Request, context: Context) -> Principal | None:
    return identify(request, context)


def require_principal(request: Request, context: Context) -> Principal:
    """The caller, who must be signed in. Cookie-authenticated unsafe requests must carry the CSRF token
    in the X-CSRF-Token header (the upload endpoint, which streams its body, also takes the form field)."""
    principal = identify(request, context)
    if principal is None:
        raise NotAuthenticated("Sign in or send an API key (Authorization: Bearer …).")
    if (principal.via == "session" and request.method not in cookies.SAFE_METHODS
            and not cookies.csrf_matches(request, request.headers.get(cookies.CSRF_HEADER))):
        raise Forbidden("Missing or wrong CSRF token; reload the page and try again.", code="csrf_failed")
    return principal


CurrentPrincipal = Annotated[Principal, Depends(require_principal)]
OptionalPrincipal = Annotated[Principal | None, Depends(optional_principal)]
