"""The part list of a multipart completion, checked against the parts S3 holds (pure)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from shoebox.errors import InvalidParts, PayloadTooLarge
from shoebox.objects import Part
from shoebox.uploads import MIN_PART_SIZE


@dataclass(frozen=True)
class Claimed:
    """A part as the client names it: its number and the ETag S3 answered for it."""

    number: int
    etag: str


def _refuse(reason: str, message: str, number: int | None = None) -> InvalidParts:
    details: dict[str, object] = {"field": "parts", "reason": reason}
    if number is not None:
        details["number"] = number
    return InvalidParts(message, details)


def checked(claimed: Sequence[Claimed], held: Sequence[Part], declared_size: int) -> list[Part]:
    """The parts to complete with, in order: ascending unique numbers, each one S3 holds under
    that ETag (quotes and case aside), every one but the last at least 5 MiB, and no more bytes
    in all than declared. Raises InvalidParts (`details.reason`) or PayloadTooLarge."""
    stored = {part.number: part for part in held}
    chosen: list[Part] = []
    for position, part in enumerate(claimed):
        if position and part.number == claimed[position - 1].number:
            raise _refuse("duplicate_part", f"part {part.number} is listed twice", part.number)
        if position and part.number < claimed[position - 1].number:
            raise _refuse("out_of_order", f"part {part.number} comes after a higher number", part.number)
        held_part = stored.get(part.number)
        if held_part is None:
            raise _refuse("missing_part", f"S3 holds no part {part.number}: upload it first", part.number)
        if part.etag.strip().strip('"').lower() != held_part.etag.lower():
            raise _refuse(
                "etag_mismatch",
                f"part {part.number}'s ETag is not the one S3 holds: upload it again",
                part.number,
            )
        chosen.append(held_part)
    for short in chosen[:-1]:
        if short.size < MIN_PART_SIZE:
            raise _refuse(
                "part_too_small", f"part {short.number} is under 5 MiB and not the last", short.number
            )
    total = sum(each.size for each in chosen)
    if total > declared_size:
        raise PayloadTooLarge(
            f"the parts hold {total} bytes, more than the {declared_size} declared",
            {"field": "parts", "total": total, "declared": declared_size},
        )
    return chosen
