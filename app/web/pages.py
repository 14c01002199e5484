"""Pages for people. Forms post back here (they work without JavaScript); the editor page enhances
itself with static/js and talks to the JSON API."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlparse

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from app.accounts import cookies
from app.accounts import service as accounts
from app.accounts.service import Principal
from app.api.multipart import Limits, parse_multipart
from app.api.schemas import edit_json
from app.billing import ledger
from app.deps import Context, DbSession, OptionalPrincipal, identify
from app.editor import service as edits
from app.editor import sizes
from app.editor.validation import MAX_IMAGES, MAX_PROMPT_CHARS, OUTPUT_FORMATS
from app.errors import AppError, Forbidden, NotAuthenticated
from app.web.templates import render

router = APIRouter(include_in_schema=False)


def signed_in(principal: OptionalPrincipal) -> Principal:
    if principal is None:
        raise NotAuthenticated("Sign in to continue.")
    return principal


PagePrincipal = Annotated[Principal, Depends(signed_in)]


def _check_form_csrf(request: Request, token: str | None) -> None:
    if not cookies.csrf_matches(request, token):
        raise Forbidden("This form expired; reload the page and try again.", code="csrf_failed")


def _safe_next(target: str | None) -> str:
    """Only same-site paths, so a login link cannot send people elsewhere."""
    if not target:
        return "/edit"
    parsed = urlparse(target)
    if parsed.scheme or parsed.netloc or not target.startswith("/") or target.startswith("//"):
        return "/edit"
    return target


def _pricing_context(context: Context) -> dict[str, Any]:
    return {"pricing": context.pricing, "long_edges": sizes.LONG_EDGE,
            "examples": {res: sizes.target_size(res, "16:9") for res in sizes.LONG_EDGE}}


@router.get("/", response_class=HTMLResponse)
def home(request: Request, context: Context) -> Response:
    return render(request, "home.html", **_pricing_context(context),
                  signup_credits=context.settings.signup_credits)


# --- sign-up, log-in, log-out ---------------------------------------------------------------------------


@router.get("/signup", response_class=HTMLResponse)
def signup_page(request: Request, context: Context, next: str | None = None) -> Response:
    return render(request, "auth.html", mode="signup", next=_safe_next(next),
                  signup_credits=context.settings.signup_credits)


@router.post("/signup", response_class=HTMLResponse)
def signup_submit(request: Request, db: DbSession, context: Context, email: Annotated[str, Form()] = "",
                  password: Annotated[str, Form()] = "", csrf_token: Annotated[str, Form()] = "",
                  next: Annotated[str, Form()] = "") -> Response:
    _check_form_csrf(request, csrf_token)
    try:
        with db.begin_nested():
            user = accounts.create_user(db, email=email, password=password,
                                        signup_credits=context.settings.signup_credits)
    except AppError as error:
        return render(request, "auth.html", status_code=error.status, db=db, mode="signup", error=error, email=email,
                      next=_safe_next(next), signup_credits=context.settings.signup_credits)
    return _signed_in_redirect(request, db, context, user, _safe_next(next))


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, next: str | None = None) -> Response:
    return render(request, "auth.html", mode="login", next=_safe_next(next))


@router.post("/login", response_class=HTMLResponse)
def login_submit(request: Request, db: DbSession, context: Context, email: Annotated[str, Form()] = "",
                 password: Annotated[str, Form()] = "", csrf_token: Annotated[str, Form()] = "",
                 next: Annotated[str, Form()] = "") -> Response:
    _check_form_csrf(request, csrf_token)
    try:
        user = accounts.authenticate(db, email=email, password=password)
    except AppError as error:
        return render(request, "auth.html", status_code=error.status, db=db, mode="login", error=error, email=email,
                      next=_safe_next(next))
    return _signed_in_redirect(request, db, context, user, _safe_next(next))


def _signed_in_redirect(request: Request, db: DbSession, context: Context, user: Any, target: str) -> Response:
    token = accounts.start_session(db, user, days=context.settings.session_days)
    response = RedirectResponse(target, status_code=303)
    cookies.set_session_cookie(response, request, token, secret_key=context.settings.resolved_secret_key,
                               days=context.settings.session_days)
    return response


@router.post("/logout")
def logout(request: Request, db: DbSession, context: Context, csrf_token: Annotated[str, Form()] = "") -> Response:
    _check_form_csrf(request, csrf_token)
    token = cookies.read_session_token(request, context.settings.resolved_secret_key)
    if token:
        accounts.end_session(db, token)
    response = RedirectResponse("/", status_code=303)
    cookies.clear_session_cookie(response)
    return response


# --- the editor, history and one edit -------------------------------------------------------------------


@router.get("/edit", response_class=HTMLResponse)
def editor(request: Request, principal: PagePrincipal, db: DbSession, context: Context,
           parent: Annotated[str | None, Query(alias="from")] = None, rerun: str | None = None) -> Response:
    """The editor. `?from=<id>` continues from an edit's result; `?rerun=<id>` starts from its inputs and
    settings."""
    start: dict[str, Any] | None = None
    source_id = parent or rerun
    if source_id:
        source = edits.get_edit(db, principal.user_id, source_id)
        start = {"mode": "from" if parent else "rerun", "edit": edit_json(source)}
    return render(request, "editor.html", db=db, principal=principal, start=start,
                  config={
                      "table": context.pricing.table, "extra": context.pricing.extra_reference_credits,
                      "long_edges": sizes.LONG_EDGE, "aspect_ratios": list(sizes.ASPECT_RATIOS),
                      "output_formats": list(OUTPUT_FORMATS), "max_images": MAX_IMAGES,
                      "max_prompt_chars": MAX_PROMPT_CHARS, "max_upload_bytes": context.settings.max_upload_bytes,
                      "plans": context.backend.capabilities.plans,
                      "transparent_output": context.backend.capabilities.transparent_output,
                      "start": start,
                  })


@router.post("/edit")
async def editor_submit(request: Request, context: Context) -> Response:
    """The editor form without JavaScript: the same submission as the API, then the edit's page."""
    principal = await run_in_threadpool(identify, request, context)
    if principal is None:
        raise NotAuthenticated("Sign in to continue.")
    limits = Limits(file_fields=frozenset({"image"}), max_files=MAX_IMAGES,
                    max_file_bytes=context.settings.max_upload_bytes)
    form = await parse_multipart(request, limits)
    try:
        _check_form_csrf(request, form.get(cookies.CSRF_FIELD))
        uploads = [upload for upload in form.files if upload.size > 0]  # an empty picker sends one empty part
        submission = edits.Submission(
            prompt=form.get("prompt"), images=uploads, quality=form.get("quality"),
            resolution=form.get("resolution"), aspect_ratio=form.get("aspect_ratio"),
            output_format=form.get("output_format"), parent_id=form.get("parent_id") or None, source="web")
        edit, _ = await run_in_threadpool(edits.submit, context, principal.user_id, submission)
    finally:
        form.close()
    return RedirectResponse(f"/edits/{edit.id}", status_code=303)


@router.get("/history", response_class=HTMLResponse)
def history(request: Request, principal: PagePrincipal, db: DbSession, cursor: str | None = None) -> Response:
    rows, next_cursor = edits.list_edits(db, principal.user_id, limit=12, cursor=cursor)
    return render(request, "history.html", db=db, principal=principal, edits=rows, next_cursor=next_cursor,
                  first_page=cursor is None)


@router.get("/edits/{edit_id}", response_class=HTMLResponse)
def edit_detail(edit_id: str, request: Request, principal: PagePrincipal, db: DbSession) -> Response:
    edit = edits.get_edit(db, principal.user_id, edit_id)
    return render(request, "edit_detail.html", db=db, principal=principal, edit=edit, data=edit_json(edit))


@router.post("/edits/{edit_id}/delete")
def edit_delete(edit_id: str, request: Request, principal: PagePrincipal, db: DbSession, context: Context,
                csrf_token: Annotated[str, Form()] = "") -> Response:
    _check_form_csrf(request, csrf_token)
    edits.delete_edit(context, db, principal.user_id, edit_id)
    return RedirectResponse("/history", status_code=303)


# --- account --------------------------------------------------------------------------------------------


def _account_page(request: Request, db: DbSession, principal: Principal, cursor: str | None,
                  **extra: Any) -> Response:
    before = int(cursor) if cursor and cursor.isdigit() else None
    rows = ledger.history(db, principal.user_id, limit=26, before_seq=before)
    next_cursor = str(rows[24].seq) if len(rows) > 25 else None
    return render(request, "account.html", db=db, principal=principal, transfers=rows[:25], next_cursor=next_cursor,
                  api_keys=accounts.list_api_keys(db, principal.user_id), signed=ledger.signed_amount, **extra)


@router.get("/account", response_class=HTMLResponse)
def account(request: Request, principal: PagePrincipal, db: DbSession, context: Context,
            cursor: str | None = None) -> Response:
    new_key = cookies.read_new_key(request, secret_key=context.settings.resolved_secret_key)
    page = _account_page(request, db, principal, cursor, new_key=new_key)
    if new_key is not None:
        cookies.forget_new_key(page)
    return page


@router.post("/account/api-keys", response_class=HTMLResponse)
def account_create_key(request: Request, principal: PagePrincipal, db: DbSession, context: Context,
                       name: Annotated[str, Form()] = "", csrf_token: Annotated[str, Form()] = "") -> Response:
    _check_form_csrf(request, csrf_token)
    try:
        with db.begin_nested():
            row, key = accounts.create_api_key(db, principal.user_id, name)
    except AppError as error:
        return _account_page(request, db, principal, None, key_error=error)
    response = RedirectResponse("/account#api-keys", status_code=303)
    cookies.hand_over_new_key(response, request, key=key, name=row.name,
                              secret_key=context.settings.resolved_secret_key)
    return response


@router.post("/account/api-keys/{key_id}/revoke")
def account_revoke_key(key_id: str, request: Request, principal: PagePrincipal, db: DbSession,
                       csrf_token: Annotated[str, Form()] = "") -> Response:
    _check_form_csrf(request, csrf_token)
    accounts.revoke_api_key(db, principal.user_id, key_id)
    return RedirectResponse("/account#api-keys", status_code=303)


@router.get("/help/instructions", response_class=HTMLResponse)
def help_instructions(request: Request) -> Response:
    return render(request, "help_instructions.html")
