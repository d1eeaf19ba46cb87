"""What the pipeline handlers' functional tests share: uploads, their S3 events, the two real
handlers, S3 faults injected into the real client, and the EMF metrics the handlers print."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError
from make_thumbnails.handler import handler as thumbnail_handler
from validate_upload.handler import handler as validate_handler

from shoebox import aws, keys, records
from shoebox.records import ImageRecord
from tests.events import LambdaContext, load_s3_event
from tests.unit.samples import encode, exif, marked, stored_for

OWNER = "alice"


def photo(size: tuple[int, int] = (1600, 1200), orientation: int = 6) -> bytes:
    """A camera-like JPEG: stored turned (EXIF orientation), with a GPS location that must not
    survive. Upright it is `size`, white with a red block in its top-left corner."""
    return encode(stored_for(marked(size), orientation), "JPEG", quality=90, exif=exif(orientation, gps=True))


def emf(output: str) -> list[dict[str, Any]]:
    """The CloudWatch EMF blobs among printed lines (logs are JSON lines too)."""
    blobs: list[dict[str, Any]] = []
    for line in output.splitlines():
        try:
            blob = json.loads(line)
        except ValueError:
            continue
        if isinstance(blob, dict) and "_aws" in blob:
            blobs.append(blob)
    return blobs


def metric_values(output: str, name: str) -> list[tuple[float, dict[str, str]]]:
    """Every value of metric `name`, with the dimensions it was published under."""
    found: list[tuple[float, dict[str, str]]] = []
    for blob in emf(output):
        for directive in blob["_aws"]["CloudWatchMetrics"]:
            if any(metric["Name"] == name for metric in directive["Metrics"]):
                dimensions = {dim: blob[dim] for dims in directive["Dimensions"] for dim in dims}
                values = blob[name] if isinstance(blob[name], list) else [blob[name]]
                found.extend((value, dimensions) for value in values)
    return found


@dataclass
class Flow:
    """An image's way through the pipeline, step by step, against moto."""

    s3: Any
    uploads: str
    media: str
    calls: list[tuple[str, str]] = field(default_factory=list)

    def pending(self, content_type: str = "image/jpeg", size: int = 25 * 1024 * 1024) -> ImageRecord:
        return records.create_pending(OWNER, "holiday.jpg", content_type, size, 86_400)

    def upload(self, image_id: str, data: bytes) -> str:
        """PUT the bytes where the slot says; the ETag as S3 events carry it (unquoted)."""
        response = self.s3.put_object(Bucket=self.uploads, Key=keys.incoming_key(image_id), Body=data)
        etag: str = response["ETag"].strip('"')
        return etag

    def uploaded_event(
        self, image_id: str, data: bytes, name: str = "sqs_s3_object_created", **overrides: Any
    ) -> dict[str, Any]:
        etag = self.upload(image_id, data)
        fields: dict[str, Any] = {"bucket": self.uploads, "size": len(data), "etag": etag}
        return load_s3_event(name, image_id=image_id, **{**fields, **overrides})

    def original_event(
        self, image_id: str, name: str = "sqs_s3_originals_created", **overrides: Any
    ) -> dict[str, Any]:
        """The event S3 sends for the original that validation stored."""
        head = self.s3.head_object(Bucket=self.media, Key=keys.original_key(image_id))
        fields: dict[str, Any] = {
            "bucket": self.media,
            "size": head["ContentLength"],
            "etag": head["ETag"].strip('"'),
        }
        return load_s3_event(name, image_id=image_id, **{**fields, **overrides})

    def validate(self, event: dict[str, Any]) -> dict[str, Any]:
        response: dict[str, Any] = validate_handler(event, LambdaContext(function_name="ValidateFunction"))
        return response

    def thumbnails(self, event: dict[str, Any]) -> dict[str, Any]:
        response: dict[str, Any] = thumbnail_handler(event, LambdaContext(function_name="ThumbnailFunction"))
        return response

    def accept(self, data: bytes | None = None) -> ImageRecord:
        """An image through validation: PROCESSING, its original stored."""
        image = self.pending()
        assert self.validate(self.uploaded_event(image.id, data or photo())) == {"batchItemFailures": []}
        return self.record(image.id)

    def record(self, image_id: str) -> ImageRecord:
        image = records.find(image_id)
        assert image is not None
        return image

    def objects_of(self, image_id: str) -> list[str]:
        """Every object of the image, in either bucket (listed, not assumed)."""
        found = []
        for bucket in (self.uploads, self.media):
            listing = self.s3.list_objects_v2(Bucket=bucket)
            found += [
                f"{bucket}/{item['Key']}" for item in listing.get("Contents", []) if image_id in item["Key"]
            ]
        return found

    def read(self, bucket: str, key: str) -> bytes:
        body: bytes = self.s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        return body

    # ---- watching and breaking the handlers' own S3 client

    def record_calls(self) -> None:
        """Remember (operation, key) of every call the handlers' S3 client makes; a batch delete
        once per key."""

        def remember(params: dict[str, Any], model: Any, **_: Any) -> None:
            batch = [item["Key"] for item in params.get("Delete", {}).get("Objects", [])]
            self.calls += [(model.name, key) for key in batch or [params.get("Key", "")]]

        aws.s3().meta.events.register("provide-client-params.s3.*", remember)

    @contextmanager
    def s3_fault(self, operation: str, key: str | None = None, code: str = "InternalError") -> Iterator[None]:
        """`operation` on `key` (any key if None) fails as an S3 outage would."""

        def fail(params: dict[str, Any], **_: Any) -> None:
            if key is None or params.get("Key") == key:
                raise ClientError({"Error": {"Code": code, "Message": "injected fault"}}, operation)

        event = f"provide-client-params.s3.{operation}"
        aws.s3().meta.events.register(event, fail)
        try:
            yield
        finally:
            aws.s3().meta.events.unregister(event, fail)

    def after_first(self, operation: str, action: Callable[[], None]) -> None:
        """Run `action()` once, right after the handlers' S3 client first completes `operation`
        (e.g. a concurrent delete landing between two steps of a handler)."""
        self._once(f"after-call.s3.{operation}", action)

    def before_first(self, operation: str, action: Callable[[], None]) -> None:
        """Run `action()` once, right before the handlers' S3 client first makes `operation`
        (e.g. a second execution environment running between two steps of a handler)."""
        self._once(f"provide-client-params.s3.{operation}", action)

    def _once(self, event: str, action: Callable[[], None]) -> None:
        done: list[bool] = []

        def run(**_: Any) -> None:
            if not done:
                done.append(True)
                action()

        aws.s3().meta.events.register(event, run)

    @contextmanager
    def crash_after(self, operation: str, key: str) -> Iterator[None]:
        """`operation` on `key` takes effect, then the handler dies (Crash) before its next step,
        as a Lambda timing out or killed right after that call."""
        armed: list[bool] = []

        def arm(params: dict[str, Any], **_: Any) -> None:
            if params.get("Key") == key:
                armed.append(True)

        def crash(**_: Any) -> None:
            if armed:
                armed.clear()
                raise Crash(f"crashed right after {operation} {key}")

        events = aws.s3().meta.events
        events.register(f"provide-client-params.s3.{operation}", arm)
        events.register(f"after-call.s3.{operation}", crash)
        try:
            yield
        finally:
            events.unregister(f"provide-client-params.s3.{operation}", arm)
            events.unregister(f"after-call.s3.{operation}", crash)


class Crash(RuntimeError):
    """An execution environment dying mid-step (injected)."""


def delete_concurrently(image_id: str, finish: bool) -> None:
    """What the delete function does to the record: tombstone, and (if `finish`) remove it."""
    records.begin_delete(image_id, OWNER)
    if finish:
        records.finish_delete(image_id)


def redelivered(event: dict[str, Any], receive_count: int) -> dict[str, Any]:
    """The same SQS messages delivered again (SQS's retry after a failure), `receive_count`th time."""
    again = copy.deepcopy(event)
    for message in again["Records"]:
        message["attributes"]["ApproximateReceiveCount"] = str(receive_count)
    return again


def etag_in(event: dict[str, Any]) -> str:
    """The ETag of the (first) object an S3 → SQS event is about."""
    etag: str = json.loads(event["Records"][0]["body"])["Records"][0]["s3"]["object"]["eTag"]
    return etag


def batch(*events: dict[str, Any]) -> dict[str, Any]:
    """One SQS batch of the messages of several events."""
    return {"Records": [message for event in events for message in event["Records"]]}


def message_ids(event: dict[str, Any]) -> list[str]:
    return [message["messageId"] for message in event["Records"]]
