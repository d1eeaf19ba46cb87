"""The local stack's data across restarts, and DynamoDB's TTL: both driven by the template.

`save` runs on a clean stop, after the workers and functions stopped: every table's items, every
bucket's objects and every queue's pending messages go into a folder through the AWS APIs (the
same code for moto and LocalStack; neither keeps data by itself here). `restore` puts them back
on the next start, before the workers start. Objects are restored while their bucket's
notifications are off, so a restored upload is not announced twice (its message is restored).
Lost on the way: objects' LastModified and a multipart object's ETag form, messages'
receive counts.

`expire` deletes the items whose TTL attribute (the table's TimeToLiveSpecification) is in the
past, as DynamoDB's TTL does; AWS does it within a few days, locally within seconds.
"""

from __future__ import annotations

import base64
import json
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from infra.local.template import Template

Client = Callable[[str], Any]
# Object headers that S3 gives back on GET and takes on PUT, and that the app sets.
_OBJECT_HEADERS = ("ContentType", "CacheControl", "ContentDisposition", "ContentEncoding", "Metadata")


def _of_type(template: Template, kind: str) -> list[str]:
    return sorted(
        logical_id for logical_id, resource in template.resources.items() if resource["Type"] == kind
    )


def _encode(value: Any) -> Any:
    # DynamoDB's binary values (B, BS) come back as bytes.
    if isinstance(value, bytes):
        return {"$base64": base64.b64encode(value).decode()}
    raise TypeError(f"cannot save {type(value).__name__}")


def _decode(value: dict[str, Any]) -> Any:
    return base64.b64decode(value["$base64"]) if set(value) == {"$base64"} else value


def save(template: Template, client: Client, folder: Path) -> None:
    """Everything the template's tables, buckets and queues hold, into `folder` (replaced whole
    only once the new copy is complete, so a failure leaves the previous one)."""
    partial = folder.with_name(folder.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    manifest: dict[str, Any] = {"tables": {}, "buckets": {}, "queues": {}}
    dynamodb, s3, sqs = client("dynamodb"), client("s3"), client("sqs")
    for logical_id in _of_type(template, "AWS::DynamoDB::Table"):
        pages = dynamodb.get_paginator("scan").paginate(TableName=template.name(logical_id))
        manifest["tables"][logical_id] = [item for page in pages for item in page.get("Items", [])]
    for logical_id in _of_type(template, "AWS::S3::Bucket"):
        bucket = template.name(logical_id)
        objects: list[dict[str, Any]] = []
        manifest["buckets"][logical_id] = objects
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            for summary in page.get("Contents", []):
                found = s3.get_object(Bucket=bucket, Key=summary["Key"])
                file = f"{logical_id}-{len(objects)}"
                (partial / file).write_bytes(found["Body"].read())
                headers = {name: found[name] for name in _OBJECT_HEADERS if found.get(name)}
                objects.append({"Key": summary["Key"], "file": file, **headers})
    for logical_id in _of_type(template, "AWS::SQS::Queue"):
        manifest["queues"][logical_id] = _drain(sqs, template.queue_url(template.name(logical_id)))
    (partial / "state.json").write_text(json.dumps(manifest, default=_encode), encoding="utf-8")
    shutil.rmtree(folder, ignore_errors=True)
    partial.rename(folder)


def _drain(sqs: Any, url: str) -> list[str]:
    # Every message once: each one received stays invisible for longer than this takes. A
    # message a worker left to be retried soon is invisible for a second: wait for it.
    bodies: list[str] = []
    while True:
        found = sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1, VisibilityTimeout=300
        )
        if not found.get("Messages"):
            return bodies
        bodies.extend(message["Body"] for message in found["Messages"])


def restore(template: Template, client: Client, folder: Path) -> None:
    """Put back what `save` kept in `folder`, if anything (resources the template no longer has
    are skipped)."""
    path = folder / "state.json"
    if not path.exists():
        return
    manifest = json.loads(path.read_text(encoding="utf-8"), object_hook=_decode)
    dynamodb, s3, sqs = client("dynamodb"), client("s3"), client("sqs")
    for logical_id, items in manifest["tables"].items():
        if logical_id in template.resources:
            for item in items:
                dynamodb.put_item(TableName=template.name(logical_id), Item=item)
    for logical_id, objects in manifest["buckets"].items():
        if logical_id not in template.resources or not objects:
            continue
        bucket = template.name(logical_id)
        notifications = s3.get_bucket_notification_configuration(Bucket=bucket)
        notifications.pop("ResponseMetadata", None)
        s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={})
        for entry in objects:
            headers = {name: entry[name] for name in _OBJECT_HEADERS if name in entry}
            s3.put_object(
                Bucket=bucket, Key=entry["Key"], Body=(folder / entry["file"]).read_bytes(), **headers
            )
        s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration=notifications)
    for logical_id, bodies in manifest["queues"].items():
        if logical_id in template.resources:
            url = template.queue_url(template.name(logical_id))
            for body in bodies:
                sqs.send_message(QueueUrl=url, MessageBody=body)


def expire(template: Template, client: Client, now: float | None = None) -> int:
    """Delete the items whose TTL is past, as DynamoDB's TTL does. How many were deleted."""
    dynamodb = client("dynamodb")
    deleted = 0
    moment = str(int(time.time() if now is None else now))
    for logical_id in _of_type(template, "AWS::DynamoDB::Table"):
        properties = template.resolve(template.resources[logical_id].get("Properties") or {})
        ttl = properties.get("TimeToLiveSpecification") or {}
        if not ttl.get("Enabled"):
            continue
        table = template.name(logical_id)
        keys = [key["AttributeName"] for key in properties["KeySchema"]]
        condition = {
            "ExpressionAttributeNames": {"#ttl": ttl["AttributeName"]},
            "ExpressionAttributeValues": {":now": {"N": moment}},
        }
        pages = dynamodb.get_paginator("scan").paginate(
            TableName=table, FilterExpression="#ttl < :now", **condition
        )
        for item in (item for page in pages for item in page.get("Items", [])):
            try:  # only if it still has expired: a slot used meanwhile has no TTL any more
                dynamodb.delete_item(
                    TableName=table,
                    Key={key: item[key] for key in keys},
                    ConditionExpression="#ttl < :now",
                    **condition,
                )
                deleted += 1
            except dynamodb.exceptions.ConditionalCheckFailedException:
                pass
    return deleted
