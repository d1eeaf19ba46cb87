"""What the local-stack tests share about the stack's storage, and a READY image to work with."""

from __future__ import annotations

import time
from typing import Any

import httpx

from infra.local import DevStack

PIPELINE_SECONDS = 90.0


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


def ready_image(
    api: httpx.Client, data: bytes, filename: str = "photo.jpg", content_type: str = "image/jpeg"
) -> dict[str, Any]:
    """Uploads `data` as `api`'s user, straight to the emulated S3 with the presigned POST, and
    waits for the pipeline: the READY Image. Fails (with the state reached) when the pipeline
    does not bring it there."""
    body = {"filename": filename, "content_type": content_type, "size": len(data)}
    slot = api.post("/v1/uploads", json=body)
    assert slot.status_code == 201, slot.text
    upload = slot.json()["upload"]
    sent = httpx.post(upload["url"], data=upload["fields"], files={"file": (filename, data, content_type)})
    assert sent.status_code in (200, 201, 204), sent.text
    path = f"/v1/images/{slot.json()['image']['id']}"
    deadline = time.monotonic() + PIPELINE_SECONDS
    while (image := api.get(path).json())["status"] in ("PENDING", "PROCESSING"):
        assert time.monotonic() < deadline, f"still {image['status']} after {PIPELINE_SECONDS:g} s: {image}"
        time.sleep(0.2)
    assert image["status"] == "READY", image
    found: dict[str, Any] = image
    return found
