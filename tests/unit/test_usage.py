"""The quota decisions of shoebox.usage, on usage items built in memory (no AWS): which limit
refuses a slot and what it says, what an admission prunes, and what each transition changes."""

from __future__ import annotations

from typing import Any

import pytest
from pynamodb.expressions.update import AddAction, RemoveAction

from shoebox import usage
from shoebox.errors import QuotaExceeded, TooManyPending
from shoebox.usage import Change, Holding, Limits, Slot, UsageRecord

NOW = 1_800_000_000
LIMITS = Limits(images=10, bytes=1000, pending=3)


def item(images: int = 0, stored: int = 0, slots: dict[str, tuple[int, int]] | None = None) -> UsageRecord:
    """A complete usage item: `slots` is id -> (expires_at, size); the held counters follow."""
    slots = slots or {}
    return UsageRecord(
        "usage#alice",
        images=images,
        stored_bytes=stored,
        held_images=images + len(slots),
        held_bytes=stored + sum(size for _, size in slots.values()),
        slots={
            image_id: {"expires_at": expires, "size": size} for image_id, (expires, size) in slots.items()
        },
    )


def admit(record: UsageRecord, size: int = 10) -> usage.Admission:
    return usage.admit(record, Slot("new", NOW + 3600, size), LIMITS, NOW)


def serialized(admission: usage.Admission) -> tuple[str, str, dict[str, Any]]:
    names: dict[str, str] = {}
    values: dict[str, Any] = {}
    condition = admission.condition.serialize(names, values)
    actions = " ".join(action.serialize(names, values) for action in admission.actions)
    readable = {placeholder: name for name, placeholder in names.items()}
    for placeholder, name in readable.items():
        condition, actions = condition.replace(placeholder, name), actions.replace(placeholder, name)
    return condition, actions, values


def test_a_slot_within_every_limit_is_admitted_on_the_limits_themselves() -> None:
    condition, actions, values = serialized(admit(item(images=2, stored=100, slots={"a": (NOW + 60, 50)})))
    assert "size (slots) <" in condition
    assert "held_images <" in condition
    assert "held_bytes <=" in condition
    assert {value["N"] for value in values.values() if "N" in value} >= {"3", "10", "990"}  # 1000 - 10
    assert "slots.new = " in actions


def test_the_images_limit_counts_open_slots() -> None:
    with pytest.raises(QuotaExceeded) as refused:
        admit(item(images=8, slots={"a": (NOW + 60, 1), "b": (NOW + 60, 1)}))
    assert refused.value.details == {"quota": "images", "used": 8, "pending": 2, "limit": 10}


def test_the_bytes_limit_counts_the_slots_declared_sizes_and_is_inclusive() -> None:
    record = item(stored=500, slots={"a": (NOW + 60, 300)})
    admit(record, size=200)  # 500 + 300 + 200 = 1000: exactly the limit
    with pytest.raises(QuotaExceeded) as refused:
        admit(record, size=201)
    assert refused.value.details == {
        "quota": "bytes",
        "used": 500,
        "pending": 300,
        "requested": 201,
        "limit": 1000,
    }


def test_too_many_open_slots_is_429_with_a_short_retry_after() -> None:
    slots = {"a": (NOW + 2, 1), "b": (NOW + 3600, 1), "c": (NOW + 7200, 1)}
    with pytest.raises(TooManyPending) as refused:
        admit(item(slots=slots))
    assert refused.value.status == 429
    assert refused.value.details == {"pending": 3, "limit": 3}
    assert refused.value.headers == {"Retry-After": "2"}  # the oldest slot expires in 2 s
    slots["a"] = (NOW + 3000, 1)
    with pytest.raises(TooManyPending) as later:
        admit(item(slots=slots))
    assert later.value.headers == {"Retry-After": str(usage.RETRY_AFTER_SECONDS)}


def test_a_quota_refusal_comes_before_a_pending_one() -> None:
    with pytest.raises(QuotaExceeded):
        usage.admit(
            item(images=7, slots={"a": (NOW + 60, 1), "b": (NOW + 60, 1), "c": (NOW + 60, 1)}),
            Slot("n", NOW, 1),
            LIMITS,
            NOW,
        )


def changed(admission: usage.Admission) -> tuple[set[str], dict[str, int]]:
    """(slot entries removed, counter -> amount added) of an admission's actions."""
    removed = {action.values[0].path[-1] for action in admission.actions if isinstance(action, RemoveAction)}
    added = {
        action.values[0].path[-1]: int(action.values[1].value["N"])
        for action in admission.actions
        if isinstance(action, AddAction)
    }
    return removed, added


def test_expired_slots_no_longer_count_and_the_admission_removes_them() -> None:
    record = item(slots={"old1": (NOW - 1, 400), "old2": (NOW, 400), "live": (NOW + 1, 100)})
    admission = admit(record, size=500)  # 100 live + 500 fits; 900 would not, without pruning
    removed, added = changed(admission)
    assert removed == {"old1", "old2"}
    assert added == {"held_images": 1 - 2, "held_bytes": 500 - 800}
    condition, _, values = serialized(admission)
    assert "attribute_exists (slots.old1)" in condition
    assert "attribute_exists (slots.old2)" in condition
    # The limits are raised by what is removed: pending < 3 + 2, images < 10 + 2, bytes <= 1000 - 500 + 800.
    assert {value["N"] for value in values.values() if "N" in value} >= {"5", "12", "1300"}


def test_an_admission_prunes_at_most_so_many_expired_slots() -> None:
    slots = {f"old{n}": (NOW - n, 1) for n in range(usage.PRUNE_PER_WRITE + 5)}
    limits = Limits(images=1000, bytes=10**9, pending=1000)
    removed, _ = changed(usage.admit(item(slots=slots), Slot("new", NOW + 60, 1), limits, NOW))
    # The oldest first; the others still count until a later admission.
    assert removed == {f"old{n}" for n in range(5, usage.PRUNE_PER_WRITE + 5)}


def test_pending_counts_only_live_slots() -> None:
    record = item(images=3, stored=30, slots={"old": (NOW - 1, 5), "live": (NOW + 1, 5)})
    slots = usage.slots_of(record)
    assert sorted(slot.image_id for slot in slots) == ["live", "old"]
    assert len([slot for slot in slots if slot.expires_at > NOW]) == 1


@pytest.mark.parametrize(
    ("before", "after", "expected"),
    [
        (
            Holding.SLOT,
            Holding.IMAGE,
            [
                Change(images=1, stored_bytes=70, held_bytes=-30, slot="i"),
                Change(images=1, stored_bytes=70, held_images=1, held_bytes=70, without_slot="i"),
            ],
        ),
        (Holding.SLOT, Holding.NOTHING, [Change(held_images=-1, held_bytes=-100, slot="i"), None]),
        (
            Holding.IMAGE,
            Holding.NOTHING,
            [Change(images=-1, stored_bytes=-70, held_images=-1, held_bytes=-70)],
        ),
        (Holding.IMAGE, Holding.IMAGE, [None]),
        (Holding.NOTHING, Holding.NOTHING, [None]),
        (Holding.SLOT, Holding.SLOT, [None]),
    ],
)
def test_each_transition_changes_what_the_image_holds_and_nothing_else(
    before: Holding, after: Holding, expected: list[Change | None]
) -> None:
    assert usage.changes("i", 100, before, after, 70) == expected


def test_a_change_on_a_slot_requires_its_entry_there_or_gone() -> None:
    names: dict[str, str] = {}
    with_slot = Change(held_images=-1, slot="i").condition()
    without = Change(images=1, without_slot="i").condition()
    assert with_slot is not None
    assert without is not None
    assert with_slot.serialize(names, {}).startswith("attribute_exists")
    assert without.serialize(names, {}).startswith("attribute_not_exists")
    assert Change(images=-1).condition() is None
