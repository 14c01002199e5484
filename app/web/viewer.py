"""Who is looking at a page: what the layout of every page needs (the person, their balance, the CSRF
token for its forms), gathered once per request by a dependency so that rendering does no I/O."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from app.accounts import csrf
from app.accounts.service import Principal
from app.billing import ledger
from app.billing.ledger import Balance
from app.context import AppContext
from app.deps import Context, identify, session_token
from app.errors import AppError, NotAuthenticated


@dataclass(frozen=True)
class Viewer:
    principal: Principal | None
    balance: Balance | None
    csrf_token: str


def viewer_for(request: Request, context: AppContext, db: Session | None = None) -> Viewer:
    """The viewer of this request. A broken API key or cookie makes an anonymous viewer here (error pages
    must still render). Pass the request's `db` when there is one: on SQLite a second transaction in the
    same thread would wait for the first one's lock."""
    try:
        principal = identify(request, context)
    except AppError:
        principal = None
    balance = None
    if principal is not None:
        if db is not None:
            balance = ledger.balance(db, principal.user_id)
        else:
            with context.read_transaction() as own:
                balance = ledger.balance(own, principal.user_id)
    token = csrf.expected_token(request, session_token(request, context) if principal else None,
                                context.settings.resolved_secret_key)
    return Viewer(principal, balance, token)


def page_viewer(request: Request, context: Context) -> Viewer:
    """In a short transaction of its own, so that a page whose work is slow (a call to Stripe) holds no
    database lock meanwhile; the handler's own session has not begun yet when this runs."""
    return viewer_for(request, context)


def signed_in_viewer(viewer: Annotated[Viewer, Depends(page_viewer)]) -> Viewer:
    """The viewer of a page that needs a signed-in person (the error renderer sends others to log in)."""
    if viewer.principal is None:
        raise NotAuthenticated("Sign in to continue.")
    return viewer


AnyViewer = Annotated[Viewer, Depends(page_viewer)]
SignedInViewer = Annotated[Viewer, Depends(signed_in_viewer)]


def principal_of(viewer: Viewer) -> Principal:
    assert viewer.principal is not None, "use SignedInViewer"
    return viewer.principal
