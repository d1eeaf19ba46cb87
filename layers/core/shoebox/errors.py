"""Domain error types. The app factory maps them to HTTP in one place."""

from __future__ import annotations

from typing import Any


class ShoeboxError(Exception):
    """An error a client can act on: it carries its HTTP status and a stable code."""

    status = 500
    code = "INTERNAL_ERROR"

    def __init__(
        self, message: str, details: dict[str, Any] | None = None, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}
        self.headers = headers or {}  # e.g. Retry-After


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


class QuotaExceeded(ShoeboxError):
    """The owner's images or bytes are at MaxImagesPerOwner / MaxBytesPerOwner."""

    status = 403
    code = "QUOTA_EXCEEDED"


class TooManyPending(ShoeboxError):
    """MaxPendingPerOwner slots are open: finish or cancel some, or retry after Retry-After."""

    status = 429
    code = "TOO_MANY_PENDING"


class Contended(ShoeboxError):
    """The owner's usage kept changing under concurrent requests: retry after Retry-After."""

    status = 429
    code = "TOO_MANY_REQUESTS"


class NotPending(ShoeboxError):
    """The upload's bytes arrived (validation took the slot): there is no upload to resume,
    complete or cancel any more; the image's own routes apply."""

    status = 409
    code = "NOT_PENDING"


class UploadExpired(ShoeboxError):
    """The slot's time is over, or its multipart upload no longer exists in S3: start again."""

    status = 409
    code = "UPLOAD_EXPIRED"


class NotMultipart(ShoeboxError):
    status = 409
    code = "NOT_MULTIPART"


class InvalidParts(ShoeboxError):
    """A multipart completion's part list does not match what S3 holds (`details.reason`)."""

    status = 400
    code = "INVALID_PARTS"


class TransitionRefused(Exception):
    """The image is not in a state that allows this step (or no longer exists).

    Raised when a conditional write fails: a duplicate, late or concurrent event must change
    nothing, so callers treat this as "already done / nothing to do", never as a crash.
    """
