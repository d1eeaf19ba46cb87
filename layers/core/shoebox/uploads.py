"""An upload slot as the API hands it out (SPEC §3 `Upload`): a presigned POST, PUT, or the part
URLs of a multipart upload, made afresh for a PENDING image on each call — when its slot is
issued, and when a client resumes (GET /v1/uploads/{id}).

URLs never outlive the slot: they expire at the slot's own expiry when that comes first, so no
upload can start after its slot stopped counting toward the owner's pending uploads.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from shoebox import presign
from shoebox.errors import UploadExpired
from shoebox.records import ImageRecord, Method
from shoebox.settings import MIB, Settings

# S3: every part but the last is at least 5 MiB; at most 10,000 parts.
MIN_PART_SIZE = 5 * MIB
MAX_PARTS = 10_000
PART_SIZE = 8 * MIB


def part_size_for(size: int) -> int:
    """8 MiB, or larger (whole MiB) when 10,000 parts of 8 MiB would not hold `size`."""
    return max(PART_SIZE, math.ceil(size / MAX_PARTS / MIB) * MIB)


def part_count(size: int, part_size: int) -> int:
    return max(1, math.ceil(size / part_size))


class PostUpload(BaseModel):
    method: Literal["POST"]
    url: str
    fields: dict[str, str] = Field(
        description="Send every field, then the file last, as multipart/form-data to `url`."
    )
    expires_at: str
    max_bytes: int


class PutUpload(BaseModel):
    method: Literal["PUT"]
    url: str
    headers: dict[str, str] = Field(description="Send exactly these headers with the PUT.")
    expires_at: str
    max_bytes: int


class PartUrl(BaseModel):
    number: int
    url: str = Field(
        description="A presigned PUT of this part; its response's ETag header goes to /complete."
    )


class MultipartUpload(BaseModel):
    method: Literal["MULTIPART"]
    part_size: int = Field(
        description="Bytes per part (every part but the last); part n starts at (n-1) × part_size."
    )
    parts: list[PartUrl] = Field(description="The parts still missing, each with its URL.")
    expires_at: str
    max_bytes: int


Upload = Annotated[PostUpload | PutUpload | MultipartUpload, Field(discriminator="method")]


def seconds_left(record: ImageRecord, settings: Settings) -> int:
    """How long the URLs may live: the URL lifetime, cut at the slot's expiry."""
    expires_at = record.expires_at.timestamp() if record.expires_at is not None else math.inf
    left = min(settings.upload_url_ttl_seconds, math.floor(expires_at - time.time()))
    if left <= 0:
        raise UploadExpired("the upload slot has expired: ask for a new one", {"id": record.id})
    return int(left)


def presigned(
    record: ImageRecord, settings: Settings, received: Iterable[int] = ()
) -> PostUpload | PutUpload | MultipartUpload:
    """The upload of a PENDING image, as its method says; for MULTIPART, URLs for the parts
    not in `received`."""
    expires_in = seconds_left(record, settings)
    bucket, key, size = settings.uploads_bucket, record.upload_key, int(record.size)
    if record.method is Method.POST:
        post = presign.upload_post(bucket, key, record.content_type, size, expires_in, record.sha256)
        return PostUpload(
            method="POST", url=post.url, fields=post.fields, expires_at=post.expires_at, max_bytes=size
        )
    if record.method is Method.PUT:
        put = presign.upload_put(bucket, key, record.content_type, expires_in, record.sha256)
        return PutUpload(
            method="PUT", url=put.url, headers=put.headers, expires_at=put.expires_at, max_bytes=size
        )
    part_size = int(record.part_size or PART_SIZE)
    done = set(received)
    missing = [number for number in range(1, part_count(size, part_size) + 1) if number not in done]
    assert record.multipart_upload_id is not None, "a MULTIPART record has its UploadId"
    parts = presign.upload_parts(bucket, key, record.multipart_upload_id, missing, expires_in)
    return MultipartUpload(
        method="MULTIPART",
        part_size=part_size,
        parts=[PartUrl(number=number, url=url) for number, url in parts.urls.items()],
        expires_at=parts.expires_at,
        max_bytes=size,
    )
