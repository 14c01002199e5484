"""OpenAI Images API edits over httpx (`EDIT_BACKEND=openai`): gpt-image-2, or any OpenAI-compatible provider
at `OPENAI_BASE_URL`.

One edit is one multipart `POST {OPENAI_BASE_URL}/images/edits` with every reference as a repeated `image[]`
part and only the parameters the model accepts (app/backends/openai_models.py). Rate limits, server errors,
timeouts and dropped connections are retried here with backoff that honours `retry-after`, within
OPENAI_MAX_RETRIES; after that the runner's own bounded attempts take over (BackendUnavailable). What no
retry can mend (moderation, a refused request, a wrong key or model) fails the edit at once
(BackendRefused), so the customer's credits come back without waiting.
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
from dataclasses import dataclass
from typing import Any

import httpx
from PIL import Image, UnidentifiedImageError

from app.backends.base import (
    BackendRefused,
    BackendUnavailable,
    Capabilities,
    EditRequest,
    EditResult,
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
_SAFETY_VIOLATIONS = re.compile(r"safety_violations=\[([^\]]*)\]")


@dataclass(frozen=True)
class _Transient:
    """Why an attempt failed in a way worth retrying, and how long the provider asked us to wait."""

    code: str
    detail: str
    retry_after: float | None = None


class OpenAIBackend:
    """Edits through OpenAI's Images API. One instance per process; httpx's client is thread-safe."""

    name = "openai"

    def __init__(self, settings: Settings) -> None:
        if not settings.openai_api_key:
            raise ConfigurationError("EDIT_BACKEND=openai needs OPENAI_API_KEY (OpenAI's or the provider's)")
        self.model = settings.openai_image_model
        self.spec: ModelSpec = spec_for(self.model)
        self.capabilities = Capabilities(plans=False, transparent_output=self.spec.transparent_background,
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
        a misconfigured key, model or URL (`backend_misconfigured`) and an exhausted provider quota
        (`backend_quota`); BackendUnavailable once the retries of a transient failure are spent.
        """
        limit = self.capabilities.max_images
        if len(request.images) > limit:
            raise BackendRefused(f"{self.model} takes at most {limit} images.", code="invalid_request")
        width, height = request_size(self.spec, request.width, request.height)
        fields = self._fields(request, width, height)
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
            log.warning("OpenAI edit attempt %d failed (%s: %s); retrying in %.1fs", attempt + 1,
                        failure.code, failure.detail, wait)
            time.sleep(wait)
        raise BackendUnavailable(
            f"The image service did not complete the edit ({failure.detail}). Your credits were returned; "
            "please try again in a few minutes.", code=failure.code)

    # --- the request ----------------------------------------------------------------------------------

    def _fields(self, request: EditRequest, width: int, height: int) -> dict[str, str]:
        fields = {"prompt": request.prompt, "model": self.model, "quality": request.quality,
                  "size": f"{width}x{height}", "output_format": request.output_format}
        if self.spec.output_compression and request.output_format in ("jpeg", "webp"):
            # The runner re-encodes with the customer's compression; ask for the least lossy original.
            fields["output_compression"] = "100"
        if request.background != "auto":
            if request.background not in self.spec.backgrounds:
                raise BackendRefused(f"{self.model} cannot make a {request.background} background; "
                                     "choose background auto.", code="invalid_request")
            fields["background"] = request.background
        if self.spec.input_fidelity is not None:
            fields["input_fidelity"] = self.spec.input_fidelity
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
            log.error("OpenAI answered 200 without a usable image: %s", exc)
            raise BackendRefused("The image service answered without a usable image. Your credits were "
                                 "returned; please try again.", code="bad_output") from exc
        has_alpha = decoded.mode in ("RGBA", "LA", "PA") or "transparency" in decoded.info
        image = decoded.convert("RGBA" if has_alpha else "RGB")
        usage = body.get("usage") if isinstance(body.get("usage"), dict) else None
        count = len(request.images)
        steps = [f"{self.model} edited {count} image{'s' if count > 1 else ''} at {request.quality} quality, "
                 f"{width}x{height}"]
        if (width, height) != (request.width, request.height):
            steps.append(f"Fitted to the promised {request.width}x{request.height}")
        return EditResult(image=image, plan=steps, usage=usage, model=self.model)

    def _refuse_or_describe(self, response: httpx.Response) -> _Transient:
        """Raise BackendRefused for an answer no retry can mend; describe a transient one."""
        status = response.status_code
        error = _error_of(response)
        code = str(error.get("code") or "")
        kind = str(error.get("type") or "")
        message = str(error.get("message") or "")[:300]
        if status == 429 and (code in QUOTA_CODES or kind in QUOTA_CODES):
            log.error("OpenAI refused for quota or billing (%s): %s", code or kind, message)
            raise BackendRefused("The image service has no quota left for this site; the operator needs to "
                                 "top up the provider account. Your credits were returned.",
                                 code="backend_quota")
        if status in RETRIED_STATUSES or status >= 500:
            return _Transient("rate_limited" if status == 429 else "backend_unavailable", f"HTTP {status}",
                              _retry_after(response.headers))
        if status in (401, 403, 404):
            # The operator's key, organisation, model or URL is wrong. The provider's message can quote part
            # of the key, so it goes to the log only, never to the customer.
            log.error("OpenAI answered %d to %s for model %s: %s", status, response.request.url, self.model,
                      message)
            what = {401: "refused this site's API key", 403: "does not allow this site to use the model",
                    404: "does not know the model or address"}[status]
            raise BackendRefused(f"The image service {what}; the operator needs to check the OPENAI_* "
                                 "settings. Your credits were returned.", code="backend_misconfigured")
        if code == "moderation_blocked" or "moderation" in kind:
            flagged = _SAFETY_VIOLATIONS.search(message)
            because = f" (flagged: {flagged.group(1)})" if flagged and flagged.group(1).strip() else ""
            raise BackendRefused(f"The image service's safety system declined this edit{because}. Change the "
                                 "instruction or the images and try again; your credits were returned.",
                                 code="moderation_blocked")
        detail = message or f"HTTP {status}"
        raise BackendRefused(f"The image service could not do this edit: {detail} Your credits were "
                             "returned.", code="invalid_request")

    def _wait_before_retry(self, attempt: int, retry_after: float | None) -> float | None:
        """Seconds to wait before retry number attempt + 1, or None when the provider asks for longer than
        we will wait (then the runner's re-queue, with its own delay, is the better retry)."""
        if retry_after is not None:
            return retry_after if retry_after <= self.retry_max_wait_seconds else None
        backoff = self.retry_base_seconds * 2 ** attempt
        return min(backoff * (0.75 + random.random() / 4), self.retry_max_wait_seconds)


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
