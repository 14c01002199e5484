"""The site's own pages, which belong to no one domain: the home page and the instruction guide."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from app.deps import Context, CsrfProtected
from app.editor import sizes
from app.web.templates import render
from app.web.viewer import AnyViewer

router = APIRouter(include_in_schema=False, dependencies=[CsrfProtected])


@router.get("/", response_class=HTMLResponse)
def home(request: Request, viewer: AnyViewer, context: Context) -> Response:
    return render(request, "home.html", viewer, pricing=context.pricing, long_edges=sizes.LONG_EDGE,
                  examples={res: sizes.target_size(res, "16:9") for res in sizes.LONG_EDGE},
                  signup_credits=context.settings.signup_credits)


@router.get("/help")
def help_index() -> Response:
    # The instruction guide is the only help page; /help is where people look for it.
    return RedirectResponse("/help/instructions", status_code=308)


@router.get("/help/instructions", response_class=HTMLResponse)
def help_instructions(request: Request, viewer: AnyViewer, context: Context) -> Response:
    return render(request, "help_instructions.html", viewer, long_edges=sizes.LONG_EDGE,
                  noted_sizes=sizes.noted_sizes(context.backend))
