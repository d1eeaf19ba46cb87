"""Loads the real event payloads in events/ and fills in what a test varies.

`load_event("apigw_get_image", path={"id": image_id}, sub="bob")` returns the API Gateway HTTP API
(payload 2.0) event as API Gateway would send it for that request: path, query, body, headers
and JWT claims stay consistent with each other, and every load gets a fresh request id.
"""

from __future__ import annotations

import base64
import copy
import json
import secrets
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

EVENTS_DIR = Path(__file__).resolve().parent.parent / "events"

_KEEP = object()


def load_event(
    name: str,
    *,
    path: dict[str, str] | None = None,
    query: dict[str, Any] | str | None = None,
    body: Any = _KEEP,
    headers: dict[str, str] | None = None,
    sub: str | None = None,
    claims: dict[str, Any] | None = None,
    authenticated: bool = True,
) -> dict[str, Any]:
    """The event `events/<name>.json`, with:

    * `path`: path parameters, substituted into the route (`/v1/images/{id}`);
    * `query`: a dict (encoded like a browser would) or a raw query string; replaces the file's;
    * `body`: a str/bytes sent as is, anything else as JSON; `None` removes the body;
    * `headers`: merged (lower-cased, as API Gateway delivers them);
    * `sub` / `claims`: set in the JWT authorizer's claims; `authenticated=False` removes the
      authorizer context and the Authorization header (a request that never passed the JWT
      authorizer).
    """
    event: dict[str, Any] = json.loads((EVENTS_DIR / f"{name}.json").read_text())
    event = copy.deepcopy(event)
    context = event["requestContext"]

    # Fresh per request, like API Gateway's.
    context["requestId"] = base64.b64encode(secrets.token_bytes(10)).decode()
    now = time.time()
    context["timeEpoch"] = int(now * 1000)
    context["time"] = time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now))

    if path is not None:
        parameters = {**event.get("pathParameters", {}), **path}
        route = event["routeKey"].split(" ", 1)[1]
        raw_path = route.format(**parameters)
        event["pathParameters"] = parameters
        event["rawPath"] = raw_path
        context["http"]["path"] = raw_path

    if query is not None:
        if isinstance(query, str):
            raw_query = query
            pairs = [part.split("=", 1) for part in query.split("&") if part]
            parameters = {pair[0]: pair[1] if len(pair) > 1 else "" for pair in pairs}
        else:
            parameters = {key: str(value) for key, value in query.items()}
            raw_query = urlencode(parameters)
        event["rawQueryString"] = raw_query
        if parameters:
            event["queryStringParameters"] = parameters
        else:
            event.pop("queryStringParameters", None)

    event["headers"] = {**event["headers"], **{key.lower(): value for key, value in (headers or {}).items()}}

    if body is None:
        event.pop("body", None)
        event["isBase64Encoded"] = False
        event["headers"].pop("content-length", None)
    elif body is not _KEEP:
        raw = body if isinstance(body, str | bytes) else json.dumps(body)
        data = raw.encode() if isinstance(raw, str) else raw
        if isinstance(raw, bytes) or event.get("isBase64Encoded"):
            event["body"] = base64.b64encode(data).decode()
            event["isBase64Encoded"] = True
        else:
            event["body"] = raw
            event["isBase64Encoded"] = False
        event["headers"]["content-length"] = str(len(data))

    authorizer = context.get("authorizer")
    if not authenticated:
        context.pop("authorizer", None)
        event["headers"].pop("authorization", None)
    elif authorizer is not None:
        jwt = authorizer["jwt"]
        jwt["claims"] = {**jwt["claims"], **(claims or {})}
        if sub is not None:
            jwt["claims"]["sub"] = sub
            jwt["claims"]["username"] = sub
    return event


# The image id that the events/sqs_s3_*.json files carry in their keys.
EVENT_IMAGE_ID = "Hk3mQ9vTz_2bWx7LpR4aNg"


def load_s3_event(
    name: str,
    *,
    image_id: str | None = None,
    key: str | None = None,
    bucket: str | None = None,
    size: int | None = None,
    etag: str | None = None,
    receive_count: int | None = None,
) -> dict[str, Any]:
    """The SQS batch `events/sqs_s3_<variant>.json` as Lambda's SQS event source delivers it (each
    message's `body` is S3's notification as a JSON string), with, in every S3 record:

    * `image_id`: put in place of the file's id, keeping the key's encoding (`incoming%2F…`);
    * `key` (raw, as S3 would encode it), `bucket`, `size`, `etag`: replaced;
    * `receive_count`: the messages' ApproximateReceiveCount.

    Every load gets fresh message ids, so one batch can hold two loads.
    """
    event: dict[str, Any] = json.loads((EVENTS_DIR / f"{name}.json").read_text())
    for message in event["Records"]:
        message["messageId"] = str(uuid.uuid4())
        if receive_count is not None:
            message["attributes"]["ApproximateReceiveCount"] = str(receive_count)
        notification = json.loads(message["body"])
        for record in notification.get("Records", []):
            s3 = record["s3"]
            if image_id is not None:
                s3["object"]["key"] = s3["object"]["key"].replace(EVENT_IMAGE_ID, image_id)
            if key is not None:
                s3["object"]["key"] = key
            if bucket is not None:
                s3["bucket"]["name"] = bucket
                s3["bucket"]["arn"] = f"arn:aws:s3:::{bucket}"
            if size is not None:
                s3["object"]["size"] = size
            if etag is not None:
                s3["object"]["eTag"] = etag
        if bucket is not None and "Bucket" in notification:  # s3:TestEvent
            notification["Bucket"] = bucket
        message["body"] = json.dumps(notification, separators=(",", ":"))
    return event


@dataclass
class LambdaContext:
    """The attributes of Lambda's context object that Powertools and Mangum read."""

    function_name: str = "ShoeboxFunction"
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = 512
    log_group_name: str = "/aws/lambda/ShoeboxFunction"
    log_stream_name: str = "2025/11/22/[$LATEST]0123456789abcdef0123456789abcdef"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    deadline_ms: int = field(default_factory=lambda: int(time.time() * 1000) + 10_000)

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:us-east-1:123456789012:function:{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, self.deadline_ms - int(time.time() * 1000))
