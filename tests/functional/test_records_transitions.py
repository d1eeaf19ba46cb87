"""The image record's conditional transitions, against the table template.yaml declares (moto):
which state each may leave, that a claim belongs to one object, and that nothing moves back."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

import pytest

from shoebox import records
from shoebox.errors import TransitionRefused
from shoebox.records import Status
from tests.quota import assert_usage_exact

A, B = "etag-a", "etag-b"


def accepted(etag: str) -> records.Accepted:
    return records.Accepted(8, "image/jpeg", "JPEG", 10, 10, "0" * 64, etag)


def image_in(status: str) -> str:
    """A record in `status`, reached through the transitions themselves; claimed by A."""
    image_id = records.create_pending("alice", "a.jpg", "image/jpeg", 100, 3600).id
    if status == "PROCESSING":
        records.claim_accepted(image_id, accepted(A))
    elif status == "STORED":  # PROCESSING, its original stored
        records.claim_accepted(image_id, accepted(A))
        records.confirm_original(image_id, A)
    elif status == "READY":
        records.claim_accepted(image_id, accepted(A))
        records.mark_ready(image_id, [], A)
    elif status == "REJECTED":
        records.claim_rejected(image_id, A, "NOT_AN_IMAGE", "text")
    elif status == "FAILED":
        records.mark_failed(image_id, "INTERNAL_ERROR", "gave up")
    elif status == "DELETING":
        records.begin_delete(image_id, "alice")
    elif status == "GONE":
        records.begin_delete(image_id, "alice")
        records.finish_delete(image_id)
    return image_id


TRANSITIONS: dict[str, Callable[[str], Any]] = {
    "claim_accepted_by_a": lambda image_id: records.claim_accepted(image_id, accepted(A)),
    "claim_accepted_by_b": lambda image_id: records.claim_accepted(image_id, accepted(B)),
    "claim_rejected_by_a": lambda image_id: records.claim_rejected(image_id, A, "TOO_LARGE", "big"),
    "claim_rejected_by_b": lambda image_id: records.claim_rejected(image_id, B, "TOO_LARGE", "big"),
    "confirm_original_of_a": lambda image_id: records.confirm_original(image_id, A),
    "reject_processing": lambda image_id: records.reject_processing(image_id, A, "CORRUPT_IMAGE", "x"),
    "mark_ready": lambda image_id: records.mark_ready(image_id, [], A),
    "mark_failed": lambda image_id: records.mark_failed(image_id, "INTERNAL_ERROR", "x"),
    "mark_failed_for_b": lambda image_id: records.mark_failed(image_id, "INTERNAL_ERROR", "x", B),
}
STATES = ["PENDING", "PROCESSING", "STORED", "READY", "REJECTED", "FAILED", "DELETING", "GONE"]
# (transition, from state) -> the status it leads to; every pair not listed is refused.
ALLOWED = {
    ("claim_accepted_by_a", "PENDING"): Status.PROCESSING,
    ("claim_accepted_by_b", "PENDING"): Status.PROCESSING,
    ("claim_accepted_by_a", "PROCESSING"): Status.PROCESSING,  # A's retry, before its original
    ("claim_rejected_by_a", "PENDING"): Status.REJECTED,
    ("claim_rejected_by_b", "PENDING"): Status.REJECTED,
    ("claim_rejected_by_a", "PROCESSING"): Status.REJECTED,
    ("confirm_original_of_a", "PROCESSING"): Status.PROCESSING,
    ("reject_processing", "PROCESSING"): Status.REJECTED,
    ("reject_processing", "STORED"): Status.REJECTED,
    ("mark_ready", "PROCESSING"): Status.READY,
    ("mark_ready", "STORED"): Status.READY,
    ("mark_failed", "PENDING"): Status.FAILED,
    ("mark_failed", "PROCESSING"): Status.FAILED,
    ("mark_failed", "STORED"): Status.FAILED,
    ("mark_failed_for_b", "PENDING"): Status.FAILED,  # B's failure fails no image A claimed
}


@pytest.mark.parametrize("state", STATES)
@pytest.mark.parametrize("transition", list(TRANSITIONS))
def test_each_transition_leaves_only_the_states_it_names(cloud: Any, transition: str, state: str) -> None:
    image_id = image_in(state)
    before = records.find(image_id)

    if (transition, state) in ALLOWED:
        TRANSITIONS[transition](image_id)
        after = records.find(image_id)
        assert after is not None
        assert after.status == ALLOWED[transition, state]
        assert_usage_exact("alice")
        # A retry (a duplicate event) moves nothing on and counts nothing twice.
        with contextlib.suppress(TransitionRefused):
            TRANSITIONS[transition](image_id)
        again = records.find(image_id)
        assert again is not None
        assert again.status == after.status
    else:
        with pytest.raises(TransitionRefused):
            TRANSITIONS[transition](image_id)
        after = records.find(image_id)
        assert (after and after.to_simple_dict()) == (before and before.to_simple_dict())
    assert_usage_exact("alice")


def test_a_claim_records_the_objects_etag_and_ends_the_slots_expiry(cloud: Any) -> None:
    image_id = image_in("PENDING")
    assert records.find(image_id).expires_at is not None  # type: ignore[union-attr]

    records.claim_accepted(image_id, accepted(A))

    record = records.find(image_id)
    assert record is not None
    assert (record.source_etag, record.expires_at, record.original_stored) == (A, None, None)
    records.confirm_original(image_id, A)
    assert records.find(image_id).original_stored is True  # type: ignore[union-attr]


def test_a_rejection_claims_the_slot_for_its_object(cloud: Any) -> None:
    image_id = image_in("PENDING")

    records.claim_rejected(image_id, B, "TYPE_MISMATCH", "declared JPEG, got PNG")

    record = records.find(image_id)
    assert record is not None
    assert (record.status, record.source_etag, record.error_code) == (Status.REJECTED, B, "TYPE_MISMATCH")
    assert record.expires_at is None
