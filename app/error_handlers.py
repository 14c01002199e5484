"""How each front door answers an error: the JSON API's envelope, OpenAI's envelope under /v1/ (its
module registers that renderer), and a page for people. Never a stack trace."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse, RedirectResponse, Response

from app.errors import AppError

log = logging.getLogger(__name__)

Renderer = Callable[[Request, AppError], Response]
_renderers: list[tuple[str, Renderer]] = []

_HTTP_CODES = {400: "bad_request", 401: "not_authenticated", 403: "forbidden", 404: "not_found",
               405: "method_not_allowed", 409: "conflict", 413: "request_too_large", 415: "unsupported_media_type",
               422: "invalid_request", 429: "rate_limited", 500: "internal_error", 503: "service_unavailable"}


def register_error_renderer(path_prefix: str, renderer: Renderer) -> None:
    """Let a front door under `path_prefix` render errors in its own envelope."""
    _renderers.append((path_prefix, renderer))


def api_error(exc: AppError) -> JSONResponse:
    return JSONResponse({"error": {"code": exc.code, "message": exc.message, "field": exc.field}},
                        status_code=exc.status)


def _render(request: Request, exc: AppError) -> Response:
    response = _in_envelope(request, exc)
    retry_after = getattr(exc, "retry_after", None)  # a refusal by a limit says when to come back, on every door
    if retry_after is not None:
        response.headers["Retry-After"] = str(max(1, math.ceil(retry_after)))
    return response


def _in_envelope(request: Request, exc: AppError) -> Response:
    path = request.url.path
    for prefix, renderer in _renderers:
        if path.startswith(prefix):
            return renderer(request, exc)
    if path.startswith("/api/"):
        return api_error(exc)
    if exc.status == 401:
        return RedirectResponse(f"/login?next={quote(path)}", status_code=303)
    from app.web.templates import render_error_page
    from app.web.viewer import viewer_for

    return render_error_page(request, exc, viewer_for(request, request.app.state.context))


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(AppError)
    async def _app_error(request: Request, exc: AppError) -> Response:
        return _render(request, exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        first = exc.errors()[0] if exc.errors() else {}
        if first.get("type") == "json_invalid":
            return _render(request, AppError("The body is not valid JSON.", code="invalid_json", status=422))
        location = [str(part) for part in first.get("loc", ()) if part not in ("body", "query", "path")]
        field = ".".join(location) or None
        message = first.get("msg", "Invalid request")
        if field:
            message = f"{field}: {message}"
        return _render(request, AppError(message, field=field, code="invalid_request", status=422))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        message = exc.detail if isinstance(exc.detail, str) else "Request failed"
        if exc.status_code == 404:
            message = "Not found."
        error = AppError(message, code=_HTTP_CODES.get(exc.status_code, "error"), status=exc.status_code)
        response = _render(request, error)
        for name, value in (exc.headers or {}).items():
            response.headers[name] = value
        return response

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return _render(request, AppError("Something went wrong on our side. Please try again.",
                                         code="internal_error", status=500))
