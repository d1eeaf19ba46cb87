"""Domain error types. The app factory maps them to HTTP in one place."""

from __future__ import annotations

from typing import Any


class ShoeboxError(Exception):
    """An error a client can act on: it carries its HTTP status and a stable code."""

    status = 500
    code = "INTERNAL_ERROR"

    def __init__(self, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}


class BadRequest(ShoeboxError):
    status = 400
    code = "VALIDATION_ERROR"


class Unauthorized(ShoeboxError):
    status = 401
    code = "UNAUTHORIZED"


class NotFound(ShoeboxError):
    status = 404
    code = "NOT_FOUND"


class NotReady(ShoeboxError):
    status = 409
    code = "NOT_READY"


class TooManyShares(ShoeboxError):
    status = 409
    code = "TOO_MANY_SHARES"


class PayloadTooLarge(ShoeboxError):
    status = 413
    code = "PAYLOAD_TOO_LARGE"


class UnsupportedMediaType(ShoeboxError):
    status = 415
    code = "UNSUPPORTED_MEDIA_TYPE"


class TransitionRefused(Exception):
    """The image is not in a state that allows this step (or no longer exists).

    Raised when a conditional write fails: a duplicate, late or concurrent event must change
    nothing, so callers treat this as "already done / nothing to do", never as a crash.
    """
