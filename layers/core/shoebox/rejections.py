"""Why an upload is refused: SPEC §4's rejection codes, and the error that carries one.

Both pipeline steps reject: validation for what it can tell without pixels, the thumbnail step
when the one full decode fails (DESIGN decision 11). One enum, so the codes are spelled once.
"""

from __future__ import annotations

from enum import StrEnum


class RejectionCode(StrEnum):
    NOT_AN_IMAGE = "NOT_AN_IMAGE"
    UNSUPPORTED_FORMAT = "UNSUPPORTED_FORMAT"
    TYPE_MISMATCH = "TYPE_MISMATCH"
    TOO_LARGE = "TOO_LARGE"
    TOO_MANY_PIXELS = "TOO_MANY_PIXELS"
    TOO_MANY_FRAMES = "TOO_MANY_FRAMES"
    CORRUPT_IMAGE = "CORRUPT_IMAGE"
    CHECKSUM_MISMATCH = "CHECKSUM_MISMATCH"


class Rejection(Exception):
    """The upload broke a rule; `code` says which one, `message` how."""

    def __init__(self, code: RejectionCode, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
