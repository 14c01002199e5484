"""Jinja2 set-up shared by the pages: one environment, with what every page needs in its context."""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path
from typing import Any

from fastapi.templating import Jinja2Templates
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import HTMLResponse

from app.accounts import cookies
from app.errors import AppError

ROOT = Path(__file__).resolve().parent.parent.parent
templates = Jinja2Templates(directory=ROOT / "templates")


@cache
def _asset_version(path: str) -> str:
    file = ROOT / "static" / path
    return hashlib.sha256(file.read_bytes()).hexdigest()[:10] if file.exists() else "0"


def asset(path: str) -> str:
    """A static file's URL with a content hash, so browsers cache it until it changes."""
    return f"/static/{path}?v={_asset_version(path)}"


def credits_label(amount: int) -> str:
    return f"{amount} credit" if abs(amount) == 1 else f"{amount} credits"


def money(amount: int, currency: str = "usd") -> str:
    symbol = {"usd": "$", "eur": "€", "gbp": "£"}.get(currency.lower(), currency.upper() + " ")
    return f"{symbol}{amount / 100:,.2f}".replace(".00", "")


templates.env.globals.update(asset=asset)
templates.env.filters.update(credits=credits_label, money=money)


def render(request: Request, name: str, status_code: int = 200, *, db: Session | None = None,
           **context: Any) -> HTMLResponse:
    """A page, with the signed-in person (if any), their balance and the CSRF token in its context.

    Pass the request's `db` when the handler has one: on SQLite a second transaction in the same thread
    would wait for the first one's write lock."""
    from app.deps import identify

    app_context = request.app.state.context
    principal = context.pop("principal", None) or _safe_identify(request, app_context, identify)
    base: dict[str, Any] = {
        "request": request,
        "principal": principal,
        "csrf_token": cookies.csrf_token(request),
        "payments_enabled": app_context.settings.payments_enabled,
        "backend": app_context.backend,
    }
    if principal is not None and "balance" not in context:
        from app.billing import ledger

        if db is not None:
            base["balance"] = ledger.balance(db, principal.user_id)
        else:
            with app_context.transaction() as own:
                base["balance"] = ledger.balance(own, principal.user_id)
    base.update(context)
    return templates.TemplateResponse(request, name, base, status_code=status_code)


def _safe_identify(request: Request, app_context: Any, identify: Any) -> Any:
    try:
        return identify(request, app_context)
    except AppError:
        return None


def render_error_page(request: Request, error: AppError) -> HTMLResponse:
    titles = {404: "Not found", 403: "Not allowed", 402: "Not enough credits", 500: "Something went wrong"}
    return render(request, "error.html", status_code=error.status, error=error,
                  title=titles.get(error.status, "That did not work"))
