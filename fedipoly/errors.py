"""One error hierarchy for the application; the web layer maps `status` to an HTTP response."""

from __future__ import annotations

from typing import Any


class FedipolyError(Exception):
    """An expected failure with a clear message for the person or client that caused it."""

    status: int = 400
    code: str = "bad_request"

    def __init__(self, message: str, detail: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail


class ValidationFailed(FedipolyError):
    status = 400
    code = "invalid"


class Unauthorized(FedipolyError):
    status = 401
    code = "unauthorized"


class Forbidden(FedipolyError):
    status = 403
    code = "forbidden"


class NotFound(FedipolyError):
    status = 404
    code = "not_found"


class Conflict(FedipolyError):
    status = 409
    code = "conflict"


class Gone(FedipolyError):
    status = 410
    code = "gone"


class PayloadTooLarge(FedipolyError):
    status = 413
    code = "too_large"


class RateLimited(FedipolyError):
    """Too many attempts; `retry_after_seconds`, when known, becomes the Retry-After header."""

    status = 429
    code = "rate_limited"

    def __init__(
        self, message: str, detail: Any = None, *, retry_after_seconds: int | None = None
    ) -> None:
        super().__init__(message, detail)
        self.retry_after_seconds = retry_after_seconds


class StoreUnavailable(FedipolyError):
    """The database does not answer; callers answer 503 with Retry-After."""

    status = 503
    code = "store_unavailable"
    retry_after_seconds = 30


class UsernameTaken(Conflict):
    code = "username_taken"


class EmailTaken(Conflict):
    code = "email_taken"


class InvalidInvite(ValidationFailed):
    code = "invalid_invite"


class BadgeTaken(Conflict):
    """A badge with that slug exists already (whatever its status)."""

    code = "badge_taken"
