"""A multipart completion's part list against the parts S3 holds (complete_upload.parts), and
the part plan of a multipart slot (shoebox.uploads)."""

from __future__ import annotations

import pytest
from complete_upload.parts import Claimed, checked

from shoebox.errors import InvalidParts, PayloadTooLarge
from shoebox.objects import Part
from shoebox.settings import MIB
from shoebox.uploads import MAX_PARTS, PART_SIZE, part_count, part_size_for

HELD = [Part(1, 8 * MIB, "aa"), Part(2, 8 * MIB, "bb"), Part(3, MIB, "cc")]
ALL = [Claimed(1, '"aa"'), Claimed(2, "BB"), Claimed(3, ' "cc"')]


def reason(claimed: list[Claimed], held: list[Part] = HELD, declared: int = 17 * MIB) -> object:
    with pytest.raises(InvalidParts) as refused:
        checked(claimed, held, declared)
    return refused.value.details["reason"], refused.value.details.get("number")


def test_the_parts_s3_holds_are_completed_in_order_whatever_the_etags_quoting() -> None:
    assert checked(ALL, HELD, 17 * MIB) == HELD
    assert checked(ALL[:2], HELD, 17 * MIB) == HELD[:2]  # S3 may complete with fewer parts


def test_each_bad_list_names_its_fault() -> None:
    assert reason([ALL[1], ALL[0], ALL[2]]) == ("out_of_order", 1)
    assert reason([ALL[0], ALL[0], ALL[1]]) == ("duplicate_part", 1)
    assert reason([ALL[0], Claimed(2, "ab"), ALL[2]]) == ("etag_mismatch", 2)
    assert reason([*ALL, Claimed(4, "dd")]) == ("missing_part", 4)
    assert reason([ALL[0], ALL[2], Claimed(4, "dd")], [*HELD, Part(4, MIB, "dd")]) == ("part_too_small", 3)


def test_more_bytes_than_declared_is_too_large_and_fewer_is_validations_to_judge() -> None:
    with pytest.raises(PayloadTooLarge) as refused:
        checked(ALL, HELD, 17 * MIB - 1)
    assert refused.value.details == {"field": "parts", "total": 17 * MIB, "declared": 17 * MIB - 1}
    assert checked(ALL, HELD, 100 * MIB) == HELD


@pytest.mark.parametrize(
    ("size", "part_size", "parts"),
    [(1, PART_SIZE, 1), (PART_SIZE, PART_SIZE, 1), (PART_SIZE + 1, PART_SIZE, 2), (60_000_000, PART_SIZE, 8)],
)
def test_a_slot_is_cut_in_8_mib_parts(size: int, part_size: int, parts: int) -> None:
    assert part_size_for(size) == part_size
    assert part_count(size, part_size) == parts


def test_a_huge_upload_gets_bigger_parts_to_stay_within_10000() -> None:
    size = 100 * 1024 * MIB
    assert part_size_for(size) % MIB == 0
    assert part_count(size, part_size_for(size)) <= MAX_PARTS
