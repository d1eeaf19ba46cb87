"""The image record: one DynamoDB item per image, listed per owner through the `by-owner` GSI."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pynamodb.attributes import (
    MapAttribute,
    NumberAttribute,
    TTLAttribute,
    UnicodeAttribute,
)
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

from shoebox.settings import get_settings


class Status(StrEnum):
    PENDING = "PENDING"
    PROCESSING = "PROCESSING"
    READY = "READY"
    REJECTED = "REJECTED"
    FAILED = "FAILED"
    # Internal tombstone while a delete removes the objects; the API answers 404 for it.
    DELETING = "DELETING"


class _TableName:
    """Resolves Meta.table_name from the settings on each use, so importing the model reads no
    configuration (PynamoDB reads Meta.table_name when it first connects)."""

    def __get__(self, instance: object, owner: type) -> str:
        return get_settings().table_name


class VariantAttribute(MapAttribute[str, Any]):
    width = NumberAttribute()
    height = NumberAttribute()
    content_type = UnicodeAttribute()
    key = UnicodeAttribute()


class ByOwnerIndex(GlobalSecondaryIndex["ImageModel"]):  # type: ignore[no-untyped-call]
    class Meta:
        index_name = "by-owner"
        projection = AllProjection()

    owner = UnicodeAttribute(hash_key=True)
    created_at = UnicodeAttribute(range_key=True)


class ImageModel(Model):
    class Meta:
        table_name = _TableName()

    id = UnicodeAttribute(hash_key=True)
    owner = UnicodeAttribute()
    # ISO 8601 UTC with microseconds ("2026-11-22T10:15:00.123456Z"): sorts as it reads.
    created_at = UnicodeAttribute()
    updated_at = UnicodeAttribute()
    status = UnicodeAttribute()
    filename = UnicodeAttribute()
    content_type = UnicodeAttribute()  # declared by the client
    size = NumberAttribute()  # declared by the client
    upload_key = UnicodeAttribute()
    expires_at = TTLAttribute(null=True)  # set only while PENDING
    # Filled in by validation.
    stored_size = NumberAttribute(null=True)
    stored_content_type = UnicodeAttribute(null=True)
    format = UnicodeAttribute(null=True)
    width = NumberAttribute(null=True)
    height = NumberAttribute(null=True)
    sha256 = UnicodeAttribute(null=True)
    source_etag = UnicodeAttribute(null=True)
    # Filled in by a rejection or a failure.
    error_code = UnicodeAttribute(null=True)
    error_message = UnicodeAttribute(null=True)
    # Filled in by the thumbnail step: "original", "256", "512", "1024".
    variants = MapAttribute[str, Any](null=True, of=VariantAttribute)  # type: ignore[no-untyped-call]

    by_owner = ByOwnerIndex()
