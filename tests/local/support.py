"""What the local-stack tests share about the stack's storage."""

from __future__ import annotations

from infra.local import DevStack


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
