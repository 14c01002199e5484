"""create_app(): settings, routers, middleware and the lifespan of the shared services and workers."""

from __future__ import annotations

import contextlib
import hmac
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import fastapi_offline
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.responses import Response

from app import observability, readiness
from app.accounts import cookies, csrf
from app.body_limit import install_body_limit
from app.config import Settings
from app.context import AppContext, build_context
from app.error_handlers import install_error_handlers
from app.errors import NotFound
from app.workers import Workers

log = logging.getLogger(__name__)
READY_CACHE_SECONDS = 2.0
ROOT = Path(__file__).resolve().parent.parent
SWAGGER_ASSETS = Path(fastapi_offline.__file__).resolve().parent / "static"
DOCS_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>API reference · Imagedit</title>
<link rel="stylesheet" href="/static/css/app.css"><link rel="stylesheet" href="/docs/assets/swagger-ui.css">
<link rel="stylesheet" href="/static/css/docs.css"><link rel="icon" href="/static/img/logo.svg">
</head><body class="docs-page"><a class="skip" href="#main">Skip to content</a>
<header class="site-header"><div class="wrap bar">
<a class="brand" href="/"><img src="/static/img/logo.svg" alt="" width="28" height="28"><span>Imagedit</span></a>
<nav class="nav" aria-label="Main"><a href="/edit">Back to the editor</a><a href="/help/instructions">Help</a>
<a href="/docs" aria-current="page">API</a></nav></div></header>
<main id="main" class="wrap"><div class="page-head"><div><p class="eyebrow">Developers</p><h1>API reference</h1></div>
<p class="muted small">Authenticate with <code>Authorization: Bearer &lt;key&gt;</code> (make one on your
<a href="/account">account page</a>).</p></div><div id="swagger-ui"></div></main>
<footer class="site-footer"><div class="wrap footer-bar">
<span>Imagedit · self-hosted plain-language image editing</span>
<span class="footer-links"><a href="/">Home</a> · <a href="/help/instructions">What the editor understands</a> ·
<a href="/#faq">FAQ</a></span></div></footer>
<script src="/docs/assets/swagger-ui-bundle.js"></script><script src="/static/js/docs.js"></script>
</body></html>"""

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Content-Security-Policy": "default-src 'self'; img-src 'self' blob: data:; style-src 'self'; "
                               "script-src 'self'; connect-src 'self'; frame-ancestors 'none'; "
                               "form-action 'self' https://checkout.stripe.com",
}


def _private(request: Request) -> bool:
    return "authorization" in request.headers or cookies.SESSION_COOKIE in request.cookies


def _holds_metrics_token(request: Request, token: str | None) -> bool:
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    return bool(token) and scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(),
                                                                               (token or "").encode())


def create_app(settings: Settings | None = None, *, context: AppContext | None = None,
               run_workers: bool | None = None) -> FastAPI:
    """The web app. `run_workers` defaults to: yes with the in-process queue, no with a shared broker
    (then `python -m app worker` processes do the edits)."""
    settings = context.settings if context is not None else (settings or Settings())

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        ctx = context or build_context(settings)
        app.state.context = ctx
        workers_wanted = ctx.queue.in_process if run_workers is None else run_workers
        workers = Workers(ctx, settings.edit_workers)
        if workers_wanted:
            workers.start()
        try:
            yield
        finally:
            workers.stop()
            if context is None:
                ctx.engine.dispose()

    app = FastAPI(title="Imagedit API", version="1.0", lifespan=lifespan, docs_url=None,
                  openapi_url="/openapi.json", redoc_url=None)
    from app.accounts import pages as account_pages
    from app.accounts import routes as accounts
    from app.api import openai_compat
    from app.billing import routes as billing
    from app.editor import pages as editor_pages
    from app.editor import routes as editor
    from app.web import pages as site_pages

    for router in (accounts.router, editor.router, billing.router, openai_compat.router, account_pages.router,
                   editor_pages.router, site_pages.router):
        app.include_router(router)
    from app.admin import pages as admin_pages

    app.include_router(admin_pages.router)
    app.mount("/static", StaticFiles(directory=ROOT / "static"), name="static")
    app.mount("/docs/assets", StaticFiles(directory=SWAGGER_ASSETS), name="swagger-assets")

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        """The API reference: Swagger UI from local files, started by a static script (our CSP allows no
        inline script and no CDN)."""
        return HTMLResponse(DOCS_PAGE)
    install_error_handlers(app)
    install_body_limit(app, settings)

    @app.get("/healthz", include_in_schema=False)
    def healthz(request: Request) -> dict[str, str]:
        """For load balancers and the container's HEALTHCHECK: the database answers."""
        from sqlalchemy import text

        with request.app.state.context.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        return {"status": "ok"}

    ready_checks = readiness.Cached(readiness.check, seconds=READY_CACHE_SECONDS)

    @app.get("/readyz", include_in_schema=False)
    def readyz(request: Request) -> JSONResponse:
        """Readiness (app.readiness): database at the head revision, broker, storage, a live worker; 503
        with the failing part named when any is missing. The checks run at most once every few seconds
        whoever asks (each one touches storage), and only a caller with METRICS_TOKEN reads the details."""
        checks = ready_checks(request.app.state.context)
        ok = all(each.ok for each in checks.values())
        trusted = _holds_metrics_token(request, settings.metrics_token)
        return JSONResponse({"status": "ok" if ok else "failing",
                             "checks": {name: {"ok": each.ok, "detail": each.detail if trusted else ""}
                                        for name, each in checks.items()}},
                            status_code=200 if ok else 503)

    @app.get("/metrics", include_in_schema=False)
    def metrics(request: Request) -> Response:
        """Prometheus metrics for whoever holds METRICS_TOKEN; 404 for everyone else, and for everyone
        while it is unset, so that nothing tells a stranger the page exists."""
        if not _holds_metrics_token(request, settings.metrics_token):
            raise NotFound("There is no page at this address.")
        ctx = request.app.state.context
        body = observability.render([observability.QueueCollector(lambda: readiness.queue_backlog(ctx))])
        return Response(body, media_type=observability.CONTENT_TYPE)

    @app.middleware("http")
    async def browser_defaults(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        response: Response = await call_next(request)
        csrf.set_cookie_if_changed(request, response)
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        if csrf.served_over_https(request):
            response.headers.setdefault("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
        if _private(request):
            # A signed-in page or a private answer (it may show a new API key) stays out of every cache.
            # Stored images set their own private, immutable caching.
            response.headers.setdefault("Cache-Control", "no-store")
        return response

    # Outermost, outside Starlette's ServerErrorMiddleware, so that a 500 carries its X-Request-ID too.
    build_middleware_stack = app.build_middleware_stack
    app.build_middleware_stack = (  # type: ignore[method-assign]
        lambda: observability.RequestObserver(build_middleware_stack()))
    return app
