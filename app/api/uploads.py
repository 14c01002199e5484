"""The one door for image uploads, shared by the JSON API, the editor page's form and the OpenAI-compatible
endpoint: who is calling, then the multipart body parsed as it streams within hard limits, then the CSRF
rule for cookie-authenticated callers, and the per-person submission limit. The parsed files are closed
when the request ends."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from app import limits
from app.accounts import csrf
from app.accounts.service import Principal
from app.api.multipart import Limits, ParsedForm, parse_multipart
from app.context import AppContext
from app.deps import STREAMS_UPLOAD, check_csrf, get_context, identify
from app.editor.validation import MAX_IMAGES
from app.errors import NotAuthenticated

Endpoint = TypeVar("Endpoint", bound=Callable[..., Any])


@dataclass
class Upload:
    principal: Principal
    form: ParsedForm


def streams_upload(endpoint: Endpoint) -> Endpoint:
    """Mark a route whose body `upload_form` reads (the router-wide CSRF dependency leaves it to us)."""
    setattr(endpoint, STREAMS_UPLOAD, True)
    return endpoint


def upload_form(file_fields: frozenset[str], *, api_key_only: bool = False,
                ) -> Callable[[Request], AsyncIterator[Upload]]:
    """A dependency that yields the caller and their parsed upload. `api_key_only` for a door that has no
    CSRF token to offer (the OpenAI-compatible one), so a session cookie alone is not enough."""

    async def dependency(request: Request) -> AsyncIterator[Upload]:
        context: AppContext = get_context(request)
        principal = await run_in_threadpool(identify, request, context)
        if principal is None or (api_key_only and principal.via != "api_key"):
            raise NotAuthenticated("Sign in or send an API key (Authorization: Bearer …).")
        header_token = request.headers.get(csrf.CSRF_HEADER)
        # What can be judged before the body is read is judged first: another site's Origin, a token sent
        # as a header (our scripts), an API key; only a plain form's field must wait for the parse.
        checked_early = header_token is not None or principal.via == "api_key"
        if checked_early:
            await run_in_threadpool(check_csrf, request, context, header_token)
        else:
            csrf.refuse_foreign_origin(request, context.settings.public_url)
        await run_in_threadpool(limits.hit, context, limits.SUBMIT, principal.user_id)
        form_limits = Limits(file_fields=file_fields, max_files=MAX_IMAGES,
                             max_file_bytes=context.settings.max_upload_bytes)
        form = await parse_multipart(request, form_limits)
        try:
            if not checked_early:
                await run_in_threadpool(check_csrf, request, context, form.get(csrf.CSRF_FIELD))
            yield Upload(principal, form)
        finally:
            form.close()

    return dependency
