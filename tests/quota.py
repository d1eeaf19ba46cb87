"""The one check every tier makes of the quota counters: they count exactly what exists."""

from __future__ import annotations

from shoebox import usage
from shoebox.records import ImageRecord, Status


def assert_usage_exact(owner: str) -> None:
    """The owner's usage counts exactly what its records hold: each PROCESSING or READY image
    and its original's size; each PENDING one as an open slot of its declared size."""
    mine = [record for record in ImageRecord.scan() if record.owner == owner]
    counted = [record for record in mine if record.status in (Status.PROCESSING, Status.READY)]
    pending = {record.id: int(record.size) for record in mine if record.status == Status.PENDING}
    stored = sum(int(record.stored_size or 0) for record in counted)
    found = usage.read(owner)
    if found is None:
        assert not counted
        assert not pending
        return
    slots = {slot.image_id: slot.size for slot in usage.slots_of(found)}
    assert (found.images or 0, found.stored_bytes or 0) == (len(counted), stored)
    assert slots == pending
    assert (found.held_images or 0, found.held_bytes or 0) == (
        len(counted) + len(pending),
        stored + sum(pending.values()),
    )
