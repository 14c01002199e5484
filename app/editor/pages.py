"""The editor's pages: the editor, history and one edit. The editor enhances itself with static/js and talks
to the JSON API; without JavaScript its form posts here."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from app.api.uploads import Upload, streams_upload, upload_form
from app.deps import Context, CsrfProtected, DbSession
from app.editor import service as edits
from app.editor import sizes
from app.editor.schemas import EditOut
from app.editor.validation import MAX_IMAGES, MAX_PROMPT_CHARS, OUTPUT_FORMATS
from app.web.templates import render
from app.web.viewer import SignedInViewer, principal_of

router = APIRouter(include_in_schema=False, dependencies=[CsrfProtected])
HISTORY_PAGE = 12


@router.get("/edit", response_class=HTMLResponse)
def editor(request: Request, viewer: SignedInViewer, db: DbSession, context: Context,
           parent: Annotated[str | None, Query(alias="from")] = None, rerun: str | None = None) -> Response:
    """The editor. `?from=<id>` continues from an edit's result; `?rerun=<id>` starts from its inputs and
    settings."""
    start: dict[str, Any] | None = None
    source_id = parent or rerun
    if source_id:
        source = edits.get_edit(db, principal_of(viewer).user_id, source_id)
        start = {"mode": "from" if parent else "rerun", "edit": EditOut.of(source).model_dump(mode="json")}
    capabilities = context.backend.capabilities
    return render(request, "editor.html", viewer, start=start, config={
        "table": context.pricing.table, "extra": context.pricing.extra_reference_credits,
        "long_edges": sizes.LONG_EDGE, "aspect_ratios": list(sizes.ASPECT_RATIOS),
        "output_formats": list(OUTPUT_FORMATS), "max_images": MAX_IMAGES, "max_prompt_chars": MAX_PROMPT_CHARS,
        "max_upload_bytes": context.settings.max_upload_bytes, "plans": capabilities.plans,
        "transparent_output": capabilities.transparent_output, "start": start,
    }, form_key=uuid.uuid4().hex)


@router.post("/edit")
@streams_upload
async def editor_submit(upload: Annotated[Upload, Depends(upload_form(frozenset({"image"})))],
                        context: Context) -> Response:
    """The editor form without JavaScript: the same submission as the API, then the edit's page."""
    form = upload.form
    uploads = [file for file in form.files if file.size > 0]  # an empty picker sends one empty part
    submission = edits.Submission(
        prompt=form.get("prompt"), images=uploads, quality=form.get("quality"),
        resolution=form.get("resolution"), aspect_ratio=form.get("aspect_ratio"),
        output_format=form.get("output_format"), parent_id=form.get("parent_id") or None,
        form_key=form.get("form_key") or None, source="web")
    edit, _ = await run_in_threadpool(edits.submit, context, upload.principal.user_id, submission)
    return RedirectResponse(f"/edits/{edit.id}", status_code=303)


@router.get("/history", response_class=HTMLResponse)
def history(request: Request, viewer: SignedInViewer, db: DbSession, cursor: str | None = None) -> Response:
    rows, next_cursor = edits.list_edits(db, principal_of(viewer).user_id, limit=HISTORY_PAGE, cursor=cursor)
    return render(request, "history.html", viewer, edits=rows, next_cursor=next_cursor, first_page=cursor is None)


@router.get("/edits/{edit_id}", response_class=HTMLResponse)
def edit_detail(edit_id: str, request: Request, viewer: SignedInViewer, db: DbSession, context: Context) -> Response:
    principal = principal_of(viewer)
    edit = edits.get_edit(db, principal.user_id, edit_id)
    # What the provider charged and said is the operator's business: customers see neither.
    operator = principal.is_operator
    return render(request, "edit_detail.html", viewer, edit=edit, data=EditOut.of(edit).model_dump(mode="json"),
                  operator=operator,
                  provider_cost=context.provider_prices.cost_of(edit.model, edit.usage) if operator else None)


@router.post("/edits/{edit_id}/delete")
def edit_delete(edit_id: str, viewer: SignedInViewer, db: DbSession, context: Context) -> Response:
    edits.delete_edit(context, db, principal_of(viewer).user_id, edit_id)
    return RedirectResponse("/history", status_code=303)
