"""OpenAI Images API edits over httpx (`EDIT_BACKEND=openai`): gpt-image-2, or any OpenAI-compatible provider
at `OPENAI_BASE_URL`.

One edit is one multipart `POST {OPENAI_BASE_URL}/images/edits` with every reference as a repeated `image[]`
part and only the parameters the model accepts (app/backends/openai_models.py). Rate limits, server errors,
timeouts and dropped connections are retried here with backoff that honours `retry-after`, within
OPENAI_MAX_RETRIES; after that the runner's own bounded attempts take over (BackendUnavailable). What no
retry can mend (moderation, a refused request, a wrong key or model) fails the edit at once
(BackendRefused), so the customer's credits come back without waiting.

Every failed answer is classified by status, `type` and `code` in one ordered table (`_CLASSES`): what the
customer reads is written for them (never the provider's quota or moderation details), and what the
operator needs (status, type, code, message, `x-request-id`) travels in the exception's `detail`, which the
runner stores on the edit (`Edit.error_detail`) and which is logged with the request id.
"""

from __future__ import annotations

import base64
import binascii
import email.utils
import io
import logging
import random
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
from PIL import Image, UnidentifiedImageError

from app import observability
from app.backends.base import (
    BackendRefused,
    BackendUnavailable,
    Capabilities,
    EditRequest,
    EditResult,
    MadeSize,
    Plan,
    PlanRequest,
)
from app.backends.openai_models import ModelSpec, request_size, spec_for
from app.config import Settings
from app.errors import ConfigurationError

log = logging.getLogger(__name__)

# References above this long edge are scaled down before upload: the model works at most at 3840 px, and a
# 50-megapixel camera file would only cost upload time.
MAX_UPLOAD_EDGE = 3840
RETRIED_STATUSES = frozenset({408, 409, 429})
# OpenAI answers 429 both for "slow down" and for "your account has no quota left"; only waiting mends the
# first. These codes mark the second (OpenAI's documented billing and quota codes).
QUOTA_CODES = frozenset({"insufficient_quota", "credit_balance_exhausted", "billing_hard_limit_reached",
                         "organization_spend_limit_exceeded", "project_spend_limit_exceeded",
                         "organization_usage_limit_exceeded"})
# A 400 naming a parameter or value the model does not take: the adapter sent what the spec (or our table)
# does not allow, which only the operator can mend (`invalid_input_fidelity_model` and its kind).
UNSUPPORTED_CODES = frozenset({"unknown_parameter", "unsupported_parameter", "unsupported_value",
                               "invalid_input_fidelity_model"})
_MODEL_PARAMETER_CODE = re.compile(r"^invalid_\w+_model$")
_SAFETY_VIOLATIONS = re.compile(r"safety_violations=\[([^\]]*)\]")
QUOTA_MESSAGE = "The service is temporarily unable to edit images; your credits were returned."
MODERATION_MESSAGE = ("The image service's safety system declined this edit. Change the instruction or the "
                      "images and try again; your credits were returned.")


@dataclass(frozen=True)
class _Transient:
    """Why an attempt failed in a way worth retrying, and how long the provider asked us to wait."""

    code: str
    detail: str
    retry_after: float | None = None


@dataclass(frozen=True)
class ProviderError:
    """A failed answer as OpenAI describes it (`Error`: type, code, param, message) and its headers."""

    status: int
    type: str
    code: str
    param: str
    message: str
    request_id: str
    should_retry: bool | None
    """`x-should-retry`: True or False when the provider said, None when it did not."""

    @property
    def detail(self) -> str:
        """For operators: everything the provider said, with the request id OpenAI's support asks for."""
        what = " ".join(part for part in (self.type, self.code) if part) or "no error type"
        param = f" (param {self.param})" if self.param else ""
        return f"HTTP {self.status} {what}{param}: {self.message or '-'} [x-request-id {self.request_id or '-'}]"


def _is_quota(error: ProviderError) -> bool:
    # 429 insufficient_quota, and the billing hard limit that OpenAI answers as a 400.
    return error.code in QUOTA_CODES or error.type in QUOTA_CODES


def _is_unsupported(error: ProviderError) -> bool:
    return error.status == 400 and (error.code in UNSUPPORTED_CODES or bool(_MODEL_PARAMETER_CODE.match(error.code)))


def _is_moderation(error: ProviderError) -> bool:
    return error.code == "moderation_blocked" or "moderation" in error.type


def _is_retryable_status(error: ProviderError) -> bool:
    return error.status in RETRIED_STATUSES or error.status >= 500


# What each failed answer means, first match wins: the order is the precedence (a quota 429 is not a rate
# limit; a 400 the provider says to retry is retried; `x-should-retry: false` ends even a 5xx).
_CLASSES: tuple[tuple[str, Callable[[ProviderError], bool]], ...] = (
    ("quota", _is_quota),
    ("credentials", lambda error: error.status in (401, 403, 404)),
    ("unsupported", _is_unsupported),
    ("moderation", _is_moderation),
    ("told_not_to_retry", lambda error: error.should_retry is False and _is_retryable_status(error)),
    ("transient", lambda error: error.should_retry is True or _is_retryable_status(error)),
    ("refused", lambda error: True),
)


def classify(error: ProviderError) -> str:
    """The class of a failed answer: quota, credentials, unsupported, moderation, told_not_to_retry,
    transient or refused."""
    return next(name for name, matches in _CLASSES if matches(error))


class OpenAIBackend:
    """Edits through OpenAI's Images API. One instance per process; httpx's client is thread-safe."""

    name = "openai"

    def __init__(self, settings: Settings) -> None:
        if not settings.openai_api_key:
            raise ConfigurationError("EDIT_BACKEND=openai needs OPENAI_API_KEY (OpenAI's or the provider's)")
        self.model = settings.openai_image_model
        self.spec: ModelSpec = spec_for(self.model)
        if not self.spec.gpt_image:
            raise ConfigurationError(f"OPENAI_IMAGE_MODEL={self.model} is not a GPT image model: it takes one "
                                     "square PNG and no quality, format or background; use gpt-image-2")
        self.backgrounds = self.spec.allowed_backgrounds(settings.openai_preview_backgrounds)
        self.capabilities = Capabilities(plans=False, transparent_output="transparent" in self.backgrounds,
                                         max_images=min(9, self.spec.max_images))
        self.max_retries = settings.openai_max_retries
        self.retry_base_seconds = settings.openai_retry_base_seconds
        self.retry_max_wait_seconds = settings.openai_retry_max_wait_seconds
        self.max_output_pixels = settings.max_image_pixels
        timeout = settings.openai_timeout_seconds
        self._client = httpx.Client(
            base_url=settings.openai_base_url.rstrip("/") + "/",
            headers={"Authorization": f"Bearer {settings.openai_api_key}", "User-Agent": "imagedit/1.0"},
            timeout=httpx.Timeout(timeout, connect=min(10.0, timeout)),
        )

    def plan(self, request: PlanRequest) -> Plan | None:
        """None: the model decides how to carry out the instruction while it runs."""
        return None

    def edit(self, request: EditRequest) -> EditResult:
        """Send the edit to OpenAI and return the decoded image, its token usage and the model.

        Raises BackendRefused for moderation (`moderation_blocked`), a refused request (`invalid_request`),
        a misconfigured key, model or URL or a parameter the model does not take (`backend_misconfigured`),
        an exhausted provider quota or billing limit (`backend_quota`) and a failure the provider said not
        to retry (`x-should-retry: false`, `backend_unavailable`); BackendUnavailable once the retries of a
        transient failure are spent. Each carries the provider's detail for the operator in `detail`.
        """
        limit = self.capabilities.max_images
        if len(request.images) > limit:
            raise BackendRefused(f"{self.model} takes at most {limit} images.", code="invalid_request")
        width, height = request_size(self.spec, request.width, request.height)
        fields = self.request_fields(request)
        files = [("image[]", _encode_reference(image, index)) for index, image in enumerate(request.images)]
        failure = _Transient("backend_unavailable", "no attempt was made")
        for attempt in range(self.max_retries + 1):
            try:
                response = self._client.post("images/edits", data=fields, files=files)
            except httpx.TimeoutException:
                failure = _Transient("backend_timeout", "it did not answer in time")
            except httpx.TransportError as exc:
                failure = _Transient("backend_unavailable", f"the connection failed ({type(exc).__name__})")
            else:
                if response.status_code == 200:
                    return self._result(response, request, width, height)
                failure = self._refuse_or_describe(response)
            if attempt == self.max_retries:
                break
            wait = self._wait_before_retry(attempt, failure.retry_after)
            if wait is None:
                break
            observability.BACKEND_RETRIES.labels(backend=self.name, code=failure.code).inc()
            log.warning("OpenAI edit attempt %d failed (%s: %s); retrying in %.1fs", attempt + 1,
                        failure.code, failure.detail, wait)
            time.sleep(wait)
        raise BackendUnavailable(
            f"The image service did not complete the edit ({_customer_words(failure.code)}). Your credits "
            "were returned; please try again in a few minutes.", code=failure.code, detail=failure.detail)

    def made_size(self, width: int, height: int) -> MadeSize:
        """The size asked of the model for a promised width x height (`request_size`), and what a person
        should know before paying: that the picture is enlarged or reduced to the promised size (the model
        cannot make it), and that OpenAI calls the size experimental for the model."""
        made_width, made_height = request_size(self.spec, width, height)
        notes = []
        if (made_width, made_height) != (width, height):
            notes.append(_fitting_note(self.model, (made_width, made_height), (width, height)))
        limit = self.spec.experimental_above
        if limit is not None and self.spec.is_experimental(made_width, made_height):
            notes.append(f"{made_width} × {made_height} has more pixels than {limit[0]} × {limit[1]}, which OpenAI "
                         f"calls experimental for {self.model}: results may vary.")
        return MadeSize(made_width, made_height, tuple(notes))

    # --- the request ----------------------------------------------------------------------------------

    def request_fields(self, request: EditRequest) -> dict[str, str]:
        """The text fields of the multipart request for this edit: only what the model takes. Pure.

        Raises BackendRefused when the edit asks for something the model cannot do (a background)."""
        width, height = request_size(self.spec, request.width, request.height)
        output_format = request.output_format
        if request.background == "transparent" and output_format == "jpeg":
            output_format = "png"  # the spec asks for png or webp with transparency; the runner re-encodes
        fields = {"prompt": request.prompt, "model": self.model, "quality": request.quality,
                  "size": f"{width}x{height}", "output_format": output_format}
        if self.spec.output_compression and output_format in ("jpeg", "webp"):
            # The runner re-encodes with the customer's compression; ask for the least lossy original.
            fields["output_compression"] = "100"
        if request.background != "auto":
            if request.background not in self.backgrounds:
                raise BackendRefused(f"{self.model} cannot make a {request.background} background; "
                                     "choose background auto.", code="invalid_request")
            fields["background"] = request.background
        if self.spec.input_fidelity is not None:
            fields["input_fidelity"] = self.spec.input_fidelity
        if request.customer_id:
            fields["user"] = request.customer_id
        return fields

    # --- the answer -----------------------------------------------------------------------------------

    def _result(self, response: httpx.Response, request: EditRequest, width: int, height: int) -> EditResult:
        try:
            body = response.json()
            encoded = body["data"][0]["b64_json"]
            raw = base64.b64decode(encoded, validate=True)
            decoded = Image.open(io.BytesIO(raw))
            if decoded.width * decoded.height > self.max_output_pixels:  # checked before decoding the pixels
                raise ValueError(f"{decoded.width}x{decoded.height} is larger than any answer we asked for")
            decoded.load()
        except (ValueError, KeyError, IndexError, TypeError, binascii.Error, UnidentifiedImageError,
                OSError) as exc:
            request_id = response.headers.get("x-request-id", "-")
            log.error("OpenAI answered 200 without a usable image [x-request-id %s]: %s", request_id, exc)
            raise BackendRefused("The image service answered without a usable image. Your credits were "
                                 "returned; please try again.", code="bad_output",
                                 detail=f"HTTP 200 without a usable image: {exc} [x-request-id {request_id}]"
                                 ) from exc
        has_alpha = decoded.mode in ("RGBA", "LA", "PA") or "transparency" in decoded.info
        image = decoded.convert("RGBA" if has_alpha else "RGB")
        usage = body.get("usage") if isinstance(body.get("usage"), dict) else None
        count = len(request.images)
        steps = [f"{self.model} edited {count} image{'s' if count > 1 else ''} at {request.quality} quality, "
                 f"{width} × {height}"]
        # What the editor said before the charge, said again with the result.
        made = self.made_size(request.width, request.height)
        return EditResult(image=image, plan=[*steps, *made.notes], usage=usage, model=self.model)

    def _refuse_or_describe(self, response: httpx.Response) -> _Transient:
        """Raise BackendRefused for an answer no retry can mend; describe a transient one. Every failure is
        logged with the provider's request id."""
        error = _provider_error(response)
        kind = classify(error)
        if kind == "transient":
            log.warning("OpenAI answered %s", error.detail)
            code = "rate_limited" if error.status == 429 else "backend_unavailable"
            return _Transient(code, error.detail, _retry_after(response.headers))
        if kind == "quota":
            log.error("OpenAI refused for quota or billing; top up or raise the limit of the provider "
                      "account: %s", error.detail)
            raise BackendRefused(QUOTA_MESSAGE, code="backend_quota", detail=error.detail)
        if kind == "credentials":
            # The operator's key, organisation, model or URL is wrong. The provider's message can quote part
            # of the key, so it is kept out of the customer's message and the stored detail.
            log.error("OpenAI answered %s to %s for model %s", error.detail, response.request.url, self.model)
            what = {401: "refused this site's API key", 403: "does not allow this site to use the model",
                    404: "does not know the model or address"}[error.status]
            masked = f"HTTP {error.status} {error.code or '-'} for model {self.model} " \
                     f"[x-request-id {error.request_id or '-'}]"
            raise BackendRefused(f"The image service {what}; the operator needs to check the OPENAI_* "
                                 "settings. Your credits were returned.", code="backend_misconfigured",
                                 detail=masked)
        if kind == "unsupported":
            log.error("OpenAI refused a parameter this site sent to %s (check OPENAI_IMAGE_MODEL and the "
                      "model table): %s", self.model, error.detail)
            raise BackendRefused("The image service refused a setting this site sent; the operator has been "
                                 "told. Your credits were returned.", code="backend_misconfigured",
                                 detail=error.detail)
        if kind == "moderation":
            # The guide advises a generic message; the categories stay with the operator.
            categories = ", ".join(flagged_categories(error.message))
            log.warning("OpenAI's safety system blocked an edit%s: %s",
                        f" (flagged: {categories})" if categories else "", error.detail)
            raise BackendRefused(MODERATION_MESSAGE, code="moderation_blocked", detail=error.detail)
        if kind == "told_not_to_retry":
            log.warning("OpenAI answered %s and asked not to retry", error.detail)
            raise BackendRefused("The image service could not complete the edit. Your credits were returned; "
                                 "please try again later.", code="backend_unavailable", detail=error.detail)
        log.warning("OpenAI refused the request: %s", error.detail)
        detail = error.message[:300] or f"HTTP {error.status}"
        raise BackendRefused(f"The image service could not do this edit: {detail} Your credits were "
                             "returned.", code="invalid_request", detail=error.detail)

    def _wait_before_retry(self, attempt: int, retry_after: float | None) -> float | None:
        """Seconds to wait before retry number attempt + 1, or None when the provider asks for longer than
        we will wait (then the runner's re-queue, with its own delay, is the better retry)."""
        if retry_after is not None:
            return retry_after if retry_after <= self.retry_max_wait_seconds else None
        backoff = self.retry_base_seconds * 2 ** attempt
        return min(backoff * (0.75 + random.random() / 4), self.retry_max_wait_seconds)


def _provider_error(response: httpx.Response) -> ProviderError:
    error = _error_of(response)
    should_retry = response.headers.get("x-should-retry", "").strip().lower()
    return ProviderError(status=response.status_code, type=str(error.get("type") or ""),
                         code=str(error.get("code") or ""), param=str(error.get("param") or ""),
                         message=str(error.get("message") or "")[:500],
                         request_id=response.headers.get("x-request-id", ""),
                         should_retry={"true": True, "false": False}.get(should_retry))


def _fitting_note(model: str, made: tuple[int, int], promised: tuple[int, int]) -> str:
    """How a picture made at `made` becomes the promised size: the runner cover-fits (scales until both
    edges are covered, then trims the overflow evenly)."""
    scale = max(promised[0] / made[0], promised[1] / made[1])
    how = "enlarged" if scale > 1 else "reduced"
    trimmed = made[0] * promised[1] != made[1] * promised[0]
    note = (f"{model} cannot make {promised[0]} × {promised[1]}: made at {made[0]} × {made[1]}, then {how} to "
            f"{promised[0]} × {promised[1]}{', its edges trimmed a little to fit the shape' if trimmed else ''}.")
    if scale > 1:
        note += f" It has no more detail than {made[0]} × {made[1]}."
    return note


def flagged_categories(text: str) -> list[str]:
    """The categories OpenAI's safety system named in a moderation refusal (its message, or the detail
    stored from it, ends `safety_violations=[sexual, violence]`); [] when it named none."""
    flagged = _SAFETY_VIOLATIONS.search(text)
    return [name.strip() for name in flagged.group(1).split(",") if name.strip()] if flagged else []


def _customer_words(code: str) -> str:
    return {"backend_timeout": "it did not answer in time", "rate_limited": "it is busy"}.get(
        code, "it is unavailable")


def _error_of(response: httpx.Response) -> dict[str, Any]:
    """OpenAI's `{"error": {message, type, param, code}}`, or {} when the body is something else."""
    try:
        body = response.json()
    except ValueError:
        return {}
    error = body.get("error") if isinstance(body, dict) else None
    return error if isinstance(error, dict) else {}


def _retry_after(headers: httpx.Headers) -> float | None:
    """The wait the provider asked for: `retry-after-ms`, `retry-after` in seconds or as an HTTP date."""
    for name, divisor in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is None:
            continue
        try:
            return max(0.0, float(value) / divisor)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value:
        try:
            moment = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        return max(0.0, moment.timestamp() - time.time())
    return None


def _encode_reference(image: Image.Image, index: int) -> tuple[str, bytes, str]:
    """One reference as an upload part: PNG when it has transparency (which may matter to the edit), else a
    high-quality JPEG, several times smaller than PNG for photos."""
    if max(image.size) > MAX_UPLOAD_EDGE:
        image = image.copy()
        image.thumbnail((MAX_UPLOAD_EDGE, MAX_UPLOAD_EDGE), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    if image.mode == "RGBA":
        image.save(buffer, "PNG", compress_level=1)
        return f"image-{index + 1}.png", buffer.getvalue(), "image/png"
    image.convert("RGB").save(buffer, "JPEG", quality=95)
    return f"image-{index + 1}.jpg", buffer.getvalue(), "image/jpeg"
