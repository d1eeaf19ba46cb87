"""What only the LocalStack backend shows: S3 itself refuses a presigned POST that breaks its
policy (moto takes anything, DESIGN known gaps), and its event keys encode a space as `%20`
where AWS writes `+`, which the pipeline decodes alike. (test_api.py and test_pipeline.py also
run on this backend: tests/conftest.py.)"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from infra.local import DevStack
from shoebox import aws, keys, presign
from tests.local.support import User, eventually, user_of
from tests.unit.samples import jpeg

pytestmark = [
    pytest.mark.local,
    pytest.mark.localstack,
    pytest.mark.parametrize("stack", ["localstack"], indirect=True),
]


@pytest.fixture
def user(stack: DevStack) -> Iterator[User]:
    with user_of(stack, "localstack") as new:
        yield new


def _post(
    upload: dict[str, Any], data: bytes, content_type: str = "image/jpeg", **fields: str
) -> httpx.Response:
    form = {**upload["fields"], **fields}
    return httpx.post(upload["url"], data=form, files={"file": ("photo.jpg", data, content_type)}, timeout=30)


def _objects(stack: DevStack, image_id: str) -> int:
    found = stack.client("s3").list_objects_v2(
        Bucket=stack.names["UploadsBucket"], Prefix=keys.incoming_key(image_id)
    )
    return int(found.get("KeyCount", 0))


def test_s3_refuses_a_post_larger_than_the_slot(user: User) -> None:
    data = jpeg()
    created = user.slot(len(data))

    sent = _post(created["upload"], data + b"\0" * 1024)

    assert sent.status_code == 400, sent.text
    assert "<Code>EntityTooLarge</Code>" in sent.text
    assert _objects(user.stack, created["image"]["id"]) == 0


def test_s3_refuses_a_post_of_another_type(user: User) -> None:
    data = jpeg()
    created = user.slot(len(data))

    sent = _post(created["upload"], data, **{"Content-Type": "text/html"})

    assert sent.status_code == 403, sent.text
    assert "<Code>AccessDenied</Code>" in sent.text
    assert _objects(user.stack, created["image"]["id"]) == 0


def test_s3_refuses_an_expired_post(stack: DevStack, monkeypatch: pytest.MonkeyPatch) -> None:
    # Signed by the production code with the stack's settings, valid for one second.
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", stack.endpoint("s3"))
    for name, value in {"AWS_ACCESS_KEY_ID": "123456789012", "AWS_SECRET_ACCESS_KEY": "test"}.items():
        monkeypatch.setenv(name, value)
    aws.reset()
    try:
        post = presign.upload_post(
            stack.names["UploadsBucket"], "incoming/expired-test", "image/jpeg", 4096, 1
        )
    finally:
        aws.reset()
    time.sleep(2)  # past the policy's expiration, which has a resolution of a second

    sent = _post({"url": post.url, "fields": post.fields}, jpeg())

    assert sent.status_code == 403, sent.text
    assert "expired" in sent.text.lower()


def test_a_key_with_a_space_arrives_as_percent_20_and_is_decoded(stack: DevStack) -> None:
    # An object with no slot under incoming/: validation deletes it unprocessed, which it can only
    # do if it decoded the event's key to the object's real key.
    assert keys.event_key("incoming/a%20b") == keys.event_key("incoming/a+b") == "incoming/a b"
    s3 = stack.client("s3")
    bucket, key = stack.names["UploadsBucket"], f"incoming/no slot {time.time_ns()}"
    s3.put_object(Bucket=bucket, Key=key, Body=jpeg(), ContentType="image/jpeg")

    eventually(
        lambda: s3.list_objects_v2(Bucket=bucket, Prefix=key).get("KeyCount", 0),
        "the stray upload with a space in its key to be deleted",
        until=lambda count: count == 0,
    )
