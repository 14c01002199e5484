"""Domain errors. Each carries a stable code, a message for people and an HTTP status; every front door
(pages, JSON API, OpenAI-compatible endpoint) renders them in its own envelope."""

from __future__ import annotations


class AppError(Exception):
    code = "error"
    status = 400

    def __init__(self, message: str, *, field: str | None = None, code: str | None = None,
                 status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status


class ValidationFailed(AppError):
    code = "invalid_request"
    status = 422


class PayloadTooLarge(AppError):
    code = "file_too_large"
    status = 413


class UnsupportedMedia(AppError):
    code = "unsupported_image_type"
    status = 415


class NotAuthenticated(AppError):
    code = "not_authenticated"
    status = 401


class Forbidden(AppError):
    code = "forbidden"
    status = 403


class NotFound(AppError):
    code = "not_found"
    status = 404


class Conflict(AppError):
    code = "conflict"
    status = 409


class InsufficientCredits(AppError):
    code = "insufficient_credits"
    status = 402


class AccountOnHold(AppError):
    code = "account_on_hold"
    status = 402


class EditRefused(AppError):
    """The backend's plan refused the instruction before anything was charged."""

    code = "edit_refused"
    status = 422

    def __init__(self, message: str, *, clause: str | None = None, code: str | None = None) -> None:
        super().__init__(message, field="prompt", code=code)
        self.clause = clause


class PaymentsDisabled(AppError):
    code = "payments_disabled"
    status = 503


class ConfigurationError(Exception):
    """The operator's settings cannot work (unknown backend, missing key). Raised at start-up."""


class TooManyRequests(AppError):
    """A rate limit refused the request. Every front door answers 429 with `Retry-After: retry_after`."""

    code = "rate_limited"
    status = 429

    def __init__(self, message: str, *, retry_after: int, field: str | None = None, code: str | None = None) -> None:
        super().__init__(message, field=field, code=code)
        self.retry_after = max(1, int(retry_after))
