"""Jinja2 set-up shared by the pages: one environment, with what every page needs in its context."""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path
from typing import Any

from fastapi.templating import Jinja2Templates
from starlette.requests import Request
from starlette.responses import HTMLResponse

from app.errors import AppError
from app.web.viewer import Viewer

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


def render(request: Request, name: str, viewer: Viewer, status_code: int = 200, **context: Any) -> HTMLResponse:
    """A page, with what its layout needs from `viewer` (app.web.viewer) and the site's settings."""
    settings = request.app.state.context.settings
    base: dict[str, Any] = {
        "request": request,
        "principal": viewer.principal,
        "balance": viewer.balance,
        "csrf_token": viewer.csrf_token,
        "payments_enabled": settings.payments_enabled,
        "backend": request.app.state.context.backend,
    }
    base.update(context)
    return templates.TemplateResponse(request, name, base, status_code=status_code)


def render_error_page(request: Request, error: AppError, viewer: Viewer) -> HTMLResponse:
    titles = {404: "Not found", 403: "Not allowed", 402: "Not enough credits", 429: "Slow down",
              500: "Something went wrong"}
    return render(request, "error.html", viewer, status_code=error.status, error=error,
                  title=titles.get(error.status, "That did not work"))
