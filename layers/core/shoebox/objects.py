"""The object store (S3) as Shoebox uses it: read an object, write an immutable one, delete keys,
and the server's side of a multipart upload (create, list parts, complete, abort).

S3's error codes are translated here, once: a missing object is ObjectGone, an object whose ETag
is no longer the one asked for is ObjectReplaced, a multipart upload that no longer exists is
UploadGone, a completion S3 refuses for its parts is PartsRefused; anything else is S3's own
error.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import ObjectIdentifierTypeDef

# An image id's objects never change once written (a retry writes the same bytes).
CACHE_CONTROL = "private, max-age=31536000, immutable"
# S3 accepts at most 1000 keys per DeleteObjects call.
_DELETE_BATCH = 1000
# GetObject answers NoSuchKey; a HEAD, or some S3-compatible servers, the bare status.
_GONE = frozenset({"NoSuchKey", "404"})
_REPLACED = frozenset({"PreconditionFailed", "412"})
# What CompleteMultipartUpload answers for a part list that does not match the parts stored.
_BAD_PARTS = frozenset({"InvalidPart", "InvalidPartOrder", "EntityTooSmall"})


class ObjectGone(Exception):
    """The object does not exist (deleted, or never written)."""


class ObjectReplaced(Exception):
    """The object's ETag is no longer the one asked for: a newer version replaced it."""


class UploadGone(Exception):
    """The multipart upload does not exist (completed, aborted, or never was)."""


class PartsRefused(Exception):
    """S3 refused to complete a multipart upload with the parts given (`code` says why)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code


@dataclass(frozen=True)
class Part:
    """A part S3 holds of a multipart upload."""

    number: int
    size: int
    etag: str  # unquoted


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


class StorageError(RuntimeError):
    """S3 refused part of an operation (e.g. some keys of a batch delete)."""


def _translated(
    exc: ClientError, bucket: str, key: str, etag: str | None
) -> ObjectGone | ObjectReplaced | None:
    """S3's error as ObjectGone or ObjectReplaced when it is one of those."""
    code = exc.response.get("Error", {}).get("Code")
    if code in _GONE:
        return ObjectGone(f"{bucket}/{key} does not exist")
    if code in _REPLACED:
        return ObjectReplaced(f"{bucket}/{key} is no longer version {etag}")
    return None


@dataclass(frozen=True)
class StoredObject:
    data: bytes
    etag: str  # unquoted, as S3 event records carry it
    size: int


@dataclass(frozen=True)
class ObjectStore:
    s3: S3Client

    def read(
        self,
        bucket: str,
        key: str,
        etag: str | None = None,
        *,
        check_size: Callable[[int], None] | None = None,
    ) -> StoredObject:
        """The object's bytes; with `etag`, only that version (If-Match). `check_size` is given
        the size S3 serves before a byte is read, and may raise to refuse reading it."""
        try:
            if etag:
                response = self.s3.get_object(Bucket=bucket, Key=key, IfMatch=etag)
            else:
                response = self.s3.get_object(Bucket=bucket, Key=key)
        except ClientError as exc:
            translated = _translated(exc, bucket, key, etag)
            if translated is None:
                raise
            raise translated from exc
        with response["Body"] as body:
            size = response["ContentLength"]
            if check_size is not None:
                check_size(size)
            data = body.read()
        return StoredObject(data=data, etag=response["ETag"].strip('"'), size=size)

    def put_immutable(
        self,
        bucket: str,
        key: str,
        data: bytes,
        content_type: str,
        metadata: Mapping[str, str] | None = None,
    ) -> None:
        """Write an object that never changes under its key (browsers and caches may keep it)."""
        self.s3.put_object(
            Bucket=bucket,
            Key=key,
            Body=data,
            ContentType=content_type,
            CacheControl=CACHE_CONTROL,
            Metadata=dict(metadata or {}),  # none: no x-amz-meta-* header at all
        )

    def delete_if_unchanged(self, bucket: str, key: str, etag: str) -> bool:
        """Delete the object only while it is still version `etag`; False when it is gone or a
        newer object replaced it (that one is left to its own event). Not atomic: an object
        written between the check and the delete goes too, so call this only when no other
        object under the key can still be needed."""
        # Quoted, as HTTP defines If-Match: S3 takes both forms, moto's HEAD only this one.
        quoted = '"' + etag.strip('"') + '"'
        try:
            self.s3.head_object(Bucket=bucket, Key=key, IfMatch=quoted)
        except ClientError as exc:
            if _translated(exc, bucket, key, etag) is None:
                raise
            return False
        self.delete(bucket, [key])
        return True

    def delete(self, bucket: str, keys: Iterable[str]) -> None:
        """Delete every key (a missing key is not an error: S3 deletes are idempotent). Needs only
        s3:DeleteObject on the keys; no listing."""
        pending = list(dict.fromkeys(keys))
        for start in range(0, len(pending), _DELETE_BATCH):
            batch: list[ObjectIdentifierTypeDef] = [
                {"Key": key} for key in pending[start : start + _DELETE_BATCH]
            ]
            result = self.s3.delete_objects(Bucket=bucket, Delete={"Objects": batch, "Quiet": True})
            errors = result.get("Errors", [])
            if errors:
                failed = ", ".join(f"{error.get('Key')} ({error.get('Code')})" for error in errors)
                raise StorageError(f"{bucket}: S3 refused to delete {failed}")

    # -------------------------------------------------------------- multipart uploads

    def create_multipart(self, bucket: str, key: str, content_type: str) -> str:
        """A new multipart upload of `key`; its UploadId."""
        response = self.s3.create_multipart_upload(Bucket=bucket, Key=key, ContentType=content_type)
        return response["UploadId"]

    def list_parts(self, bucket: str, key: str, upload_id: str) -> list[Part]:
        """Every part S3 holds of the upload, by number (ListParts pages through 1000 at a time)."""
        parts: list[Part] = []
        marker = 0
        while True:
            try:
                page = self.s3.list_parts(Bucket=bucket, Key=key, UploadId=upload_id, PartNumberMarker=marker)
            except ClientError as exc:
                if _code(exc) == "NoSuchUpload":
                    raise UploadGone(f"{bucket}/{key}: no multipart upload {upload_id}") from exc
                raise
            for part in page.get("Parts", []):
                parts.append(Part(number=part["PartNumber"], size=part["Size"], etag=part["ETag"].strip('"')))
            if not page.get("IsTruncated"):
                return sorted(parts, key=lambda part: part.number)
            marker = page["NextPartNumberMarker"]

    def complete_multipart(self, bucket: str, key: str, upload_id: str, parts: list[Part]) -> None:
        """Assemble the object from `parts` (ascending numbers, each with its ETag)."""
        try:
            self.s3.complete_multipart_upload(
                Bucket=bucket,
                Key=key,
                UploadId=upload_id,
                MultipartUpload={
                    "Parts": [{"PartNumber": part.number, "ETag": f'"{part.etag}"'} for part in parts]
                },
            )
        except ClientError as exc:
            code = _code(exc)
            if code == "NoSuchUpload":
                raise UploadGone(f"{bucket}/{key}: no multipart upload {upload_id}") from exc
            if code in _BAD_PARTS:
                raise PartsRefused(code, str(exc.response.get("Error", {}).get("Message", ""))) from exc
            raise

    def abort_multipart(self, bucket: str, key: str, upload_id: str) -> None:
        """Drop the upload and every part it holds; one already gone is not an error."""
        try:
            self.s3.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)
        except ClientError as exc:
            if _code(exc) != "NoSuchUpload":
                raise
