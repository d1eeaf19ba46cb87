"""What the local-stack tests share: one way to wait, one user of the API, and the checks that
an upload landed or was rejected — checks on the pipeline's effects, which fail when it does not
run (tests/local/test_mutations.py shows they do)."""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from infra.local import DevStack
from infra.local.processes import FileSink

DEADLINE_SECONDS = 60.0
FINAL = {"READY", "REJECTED", "FAILED"}


@contextmanager
def stack_of_its_own(state: Path, **options: Any) -> Iterator[DevStack]:
    """A running DevStack on free ports with its state and its log (`stack.log`) in `state`:
    the stack of a test module that overrides handlers, environments or parameters."""
    sink = FileSink(state / "stack.log")
    with DevStack(api_port=0, aws_port=0, state_dir=state, sink=sink, **options) as running:
        yield running
    sink.close()


def eventually[T](
    probe: Callable[[], T],
    what: str,
    *,
    until: Callable[[T], object] = bool,
    seconds: float = DEADLINE_SECONDS,
) -> T:
    """`probe()`'s first value that `until` accepts (by default: the first truthy one), polled
    until the deadline; then AssertionError naming what was awaited and the last value seen."""
    deadline = time.monotonic() + seconds
    while True:
        value = probe()
        if until(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up after {seconds:g} s waiting for {what}; last seen: {value!r}")
        time.sleep(0.2)


def objects_of(stack: DevStack, image_id: str) -> list[str]:
    """Every object of the image in either bucket, as `bucket/key` (listed, not assumed)."""
    s3 = stack.client("s3")
    found = []
    for logical_id in ("UploadsBucket", "MediaBucket"):
        bucket = stack.names[logical_id]
        listing = s3.list_objects_v2(Bucket=bucket)
        found += [
            f"{bucket}/{item['Key']}" for item in listing.get("Contents", []) if image_id in item["Key"]
        ]
    return found


def await_drained(stack: DevStack, *logical_ids: str) -> None:
    """Wait until no message is waiting or in flight on any of the queues."""
    sqs = stack.client("sqs")

    def messages() -> dict[str, int]:
        counts = {}
        for logical_id in logical_ids:
            attributes = sqs.get_queue_attributes(
                QueueUrl=stack.queue_url(logical_id),
                AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
            )["Attributes"]
            counts[logical_id] = sum(int(value) for value in attributes.values())
        return counts

    what = f"{' and '.join(logical_ids)} to drain"
    eventually(messages, what, until=lambda counted: not any(counted.values()))


@dataclass
class User:
    """One user of the API, over HTTP like any client."""

    stack: DevStack
    http: httpx.Client
    sub: str
    # image id -> SHA-256 of the bytes this user sent for it (what the Image's sha256 must be)
    sent: dict[str, str] = field(default_factory=dict)

    def slot(self, size: int = 1024, method: str = "POST", **fields: Any) -> dict[str, Any]:
        """POST /v1/uploads: the image record and the presigned upload."""
        body = {
            "filename": "photo.jpg",
            "content_type": "image/jpeg",
            "size": size,
            "method": method,
            **fields,
        }
        reply = self.http.post("/v1/uploads", json=body)
        assert reply.status_code == 201, reply.text
        created: dict[str, Any] = reply.json()
        return created

    def upload(
        self, data: bytes, content_type: str = "image/jpeg", filename: str = "photo.jpg", method: str = "POST"
    ) -> str:
        """A slot, then the bytes straight to S3 with its presigned POST or PUT; the image id."""
        created = self.slot(len(data), method, content_type=content_type, filename=filename)
        upload = created["upload"]
        if method == "POST":
            # httpx sends the fields first and the file last, as S3 requires.
            files = {"file": (filename, data, content_type)}
            sent = httpx.post(upload["url"], data=upload["fields"], files=files, timeout=30)
        else:
            sent = httpx.put(upload["url"], content=data, headers=upload["headers"], timeout=30)
        assert sent.status_code in (200, 201, 204), sent.text
        image_id: str = created["image"]["id"]
        self.sent[image_id] = hashlib.sha256(data).hexdigest()
        return image_id

    def image(self, image_id: str) -> dict[str, Any]:
        reply = self.http.get(f"/v1/images/{image_id}")
        assert reply.status_code == 200, reply.text
        image: dict[str, Any] = reply.json()
        return image

    def final(self, image_id: str, seconds: float = DEADLINE_SECONDS) -> dict[str, Any]:
        """The image once the pipeline is done with it (READY, REJECTED or FAILED)."""
        return eventually(
            lambda: self.image(image_id),
            f"image {image_id} to be READY, REJECTED or FAILED",
            until=lambda image: image["status"] in FINAL,
            seconds=seconds,
        )

    def download(self, image_id: str, variant: str) -> tuple[str, bytes]:
        """The content type and bytes the API's redirect for the variant serves."""
        redirect = self.http.get(f"/v1/images/{image_id}/content", params={"variant": variant})
        assert redirect.status_code == 302, redirect.text
        content = httpx.get(redirect.headers["location"], timeout=30)
        assert content.status_code == 200, content.text
        return content.headers["content-type"], content.content

    def objects_of(self, image_id: str) -> list[str]:
        return objects_of(self.stack, image_id)


@contextmanager
def user_of(stack: DevStack, prefix: str = "user") -> Iterator[User]:
    """A user with a fresh subject: stacks are shared, so no test sees another's images."""
    sub = f"{prefix}-{secrets.token_hex(6)}"
    headers = {"Authorization": f"Bearer {stack.token(sub)}"}
    with httpx.Client(base_url=stack.api_url, headers=headers, timeout=30) as http:
        yield User(stack, http, sub)


def assert_upload_lands(user: User, image_id: str, seconds: float = DEADLINE_SECONDS) -> dict[str, Any]:
    """The upload went all the way: READY, its clean original and every variant it lists in the
    media bucket, nothing left in the uploads bucket. Returns the image."""
    image = user.final(image_id, seconds)
    assert image["status"] == "READY", image
    assert image["error"] is None, image
    assert image["width"], image
    assert image["height"], image
    sizes = sorted(set(image["variants"]) - {"original"}, key=int)
    assert "original" in image["variants"], image
    assert sizes, image  # the smallest thumbnail is always made
    media = user.stack.names["MediaBucket"]
    expected = {f"{media}/originals/{image_id}"} | {
        f"{media}/thumbnails/{image_id}/{size}.webp" for size in sizes
    }
    # Validation deletes the upload last: the thumbnail step may finish READY a moment before.
    eventually(
        lambda: sorted(user.objects_of(image_id)),
        f"image {image_id}'s objects to be its original and variants only (incoming/ gone)",
        until=lambda found: found == sorted(expected),
        seconds=10,
    )
    if image_id in user.sent:  # an Image's sha256 is of the bytes as uploaded (SPEC §3)
        assert image["sha256"] == user.sent[image_id], image
    stored = user.stack.client("s3").head_object(Bucket=media, Key=f"originals/{image_id}")
    assert stored["Metadata"]["upload-sha256"] == image["sha256"]  # the original is of those bytes
    return image


def assert_upload_rejected(
    user: User, image_id: str, code: str, seconds: float = DEADLINE_SECONDS
) -> dict[str, Any]:
    """Validation refused the upload with `code`, and no byte of it is kept anywhere."""
    image = user.final(image_id, seconds)
    assert image["status"] == "REJECTED", image
    assert image["error"]["code"] == code, image
    assert image["variants"] == {}, image
    # The claim that rejects comes before the upload's deletion: allow that moment.
    eventually(
        lambda: user.objects_of(image_id),
        f"no object of image {image_id} left in either bucket",
        until=lambda found: found == [],
        seconds=10,
    )
    return image
