"""FastAPI dependencies every front door shares: the context, one transaction per request, who is calling,
and the one CSRF check."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from app.accounts import cookies, csrf
from app.accounts.service import (
    Principal,
    mark_api_key_used,
    mark_session_seen,
    principal_for_api_key,
    principal_for_session,
)
from app.context import AppContext
from app.errors import NotAuthenticated

Endpoint = TypeVar("Endpoint", bound=Callable[..., Any])


def get_context(request: Request) -> AppContext:
    context: AppContext = request.app.state.context
    return context


Context = Annotated[AppContext, Depends(get_context)]


def get_db(request: Request, context: Context) -> Iterator[Session]:
    """The request's unit of work: committed when the handler returns, rolled back if it raises.
    Scoped to the handler (not the response) so the commit happens before the answer is sent. A safe
    request (GET, HEAD) only reads, and so takes no write lock. The transaction begins at its first query."""
    unit = context.read_transaction if request.method in csrf.SAFE_METHODS else context.transaction
    with unit() as session:
        yield session


DbSession = Annotated[Session, Depends(get_db, scope="function")]


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def session_token(request: Request, context: AppContext) -> str | None:
    return cookies.read_session_token(request, context.settings.resolved_secret_key)


def identify(request: Request, context: AppContext) -> Principal | None:
    """The caller, by API key or session cookie, looked up in a short transaction of its own (so that
    slow work later in the request does not hold a database lock). Cached on the request."""
    if hasattr(request.state, "principal"):
        cached: Principal | None = request.state.principal
        return cached
    principal: Principal | None = None
    key = bearer_token(request)
    with context.read_transaction() as db:
        if key is not None:
            principal = principal_for_api_key(db, key)
            if principal is None:
                raise NotAuthenticated("That API key is not valid (revoked or mistyped).", code="invalid_api_key")
        else:
            token = session_token(request, context)
            principal = principal_for_session(db, token) if token else None
    if principal is not None and principal.key_id and principal.key_use_unrecorded:
        with context.transaction() as db:
            mark_api_key_used(db, principal.key_id)
    if principal is not None and principal.session_id and principal.session_seen_unrecorded:
        with context.transaction() as db:  # at most once a minute per session (LAST_USED_GRANULARITY)
            mark_session_seen(db, principal.session_id)
    request.state.principal = principal
    return principal


def optional_principal(request: Request, context: Context) -> Principal | None:
    return identify(request, context)


def require_principal(request: Request, context: Context) -> Principal:
    principal = identify(request, context)
    if principal is None:
        raise NotAuthenticated("Sign in or send an API key (Authorization: Bearer …).")
    return principal


CurrentPrincipal = Annotated[Principal, Depends(require_principal)]
OptionalPrincipal = Annotated[Principal | None, Depends(optional_principal)]


def check_csrf(request: Request, context: AppContext, submitted: str | None) -> None:
    """The CSRF rule (app.accounts.csrf) for this request: requests that carry an API key are exempt (a
    browser never adds one by itself); everything else that is unsafe must come from our pages. A JSON
    log-in or sign-up is authenticated by what it carries, not by the cookie, so it is judged as signed out."""
    if bearer_token(request) is not None:
        return
    by_body = getattr(request.scope.get("endpoint"), CREDENTIALS_IN_BODY, False)
    principal = None if by_body else identify(request, context)
    live_session = session_token(request, context) if principal is not None else None
    csrf.verify(request, submitted, session_token=live_session, secret_key=context.settings.resolved_secret_key,
                public_url=context.settings.public_url)


async def csrf_protected(request: Request, context: Context) -> None:
    """Every router's dependency: the token comes in the X-CSRF-Token header or, from an HTML form, in its
    csrf_token field. The upload doors stream their body, so their dependency (app.api.uploads) applies
    this same rule once the form is parsed; any other form is read here."""
    if request.method in csrf.SAFE_METHODS:
        return
    if getattr(request.scope.get("endpoint"), STREAMS_UPLOAD, False):
        return
    submitted = request.headers.get(csrf.CSRF_HEADER)
    content_type = request.headers.get("content-type", "")
    if submitted is None and content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        field = (await request.form()).get(csrf.CSRF_FIELD)
        submitted = field if isinstance(field, str) else None
    await run_in_threadpool(check_csrf, request, context, submitted)


CsrfProtected = Depends(csrf_protected)
STREAMS_UPLOAD = "streams_upload"
"""Set on an endpoint whose body the upload dependency streams and CSRF-checks itself."""
CREDENTIALS_IN_BODY = "credentials_in_body"


def credentials_in_body(endpoint: Endpoint) -> Endpoint:
    """Mark a route that authenticates by the e-mail and password it receives, never by the cookie."""
    setattr(endpoint, CREDENTIALS_IN_BODY, True)
    return endpoint


def signed_in_page(principal: OptionalPrincipal) -> Principal:
    """A page that needs a signed-in person (the error renderer sends others to the log-in page)."""
    if principal is None:
        raise NotAuthenticated("Sign in to continue.")
    return principal


PagePrincipal = Annotated[Principal, Depends(signed_in_page)]
