"""A stand-in handler for the local stack's own tests: it records every SQS batch it gets.

Runs in the function's own process (DevStack handler_overrides). Each batch is appended as one
JSON line to the file named by PROBE_OUTPUT; records whose decoded S3 key is in PROBE_FAIL_KEYS
(a JSON list) are reported as batch item failures.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any
from urllib.parse import unquote_plus


def s3_keys(body: str) -> list[str]:
    try:
        notification = json.loads(body)
    except ValueError:
        return []
    records = notification.get("Records", []) if isinstance(notification, dict) else []
    return [unquote_plus(record["s3"]["object"]["key"]) for record in records if "s3" in record]


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    failing = set(json.loads(os.environ.get("PROBE_FAIL_KEYS", "[]")))
    seen = {
        "function": context.function_name,
        "request_id": context.aws_request_id,
        "remaining_ms": context.get_remaining_time_in_millis(),
        "pid": os.getpid(),
        "event": event,
    }
    with open(os.environ["PROBE_OUTPUT"], "a", encoding="utf-8") as output:
        output.write(json.dumps(seen) + "\n")
    failures = [
        {"itemIdentifier": record["messageId"]}
        for record in event["Records"]
        if failing & set(s3_keys(record["body"]))
    ]
    return {"batchItemFailures": failures}


# Variables an HTTP probe reports back, to show each function's own environment.
REPORTED_VARIABLES = (
    "AWS_ENDPOINT_URL",
    "AWS_REGION",
    "AWS_LAMBDA_FUNCTION_NAME",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
    "_HANDLER",
    "TABLE_NAME",
    "UPLOADS_BUCKET",
    "MEDIA_BUCKET",
    "CDN_BASE_URL",
    "MAX_PIXELS",
)


def echo(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """An HTTP probe: answers with the event it got. `?fail=raise` raises, `?fail=exit` kills
    the process, `?reply=...` returns that JSON as the raw result, `?sleep=s` answers s seconds
    late (keeping its execution environment busy)."""
    query = event.get("queryStringParameters") or {}
    time.sleep(float(query.get("sleep", 0)))
    if query.get("fail") == "raise":
        raise RuntimeError("the probe was asked to fail")
    if query.get("fail") == "exit":
        os._exit(3)
    if "reply" in query:
        reply: dict[str, Any] = json.loads(query["reply"])
        return reply
    body = {
        "event": event,
        "environment": {name: os.environ.get(name) for name in REPORTED_VARIABLES},
        "pid": os.getpid(),
        "function_name": context.function_name,
        "invoked_function_arn": context.invoked_function_arn,
        "memory_limit_in_mb": context.memory_limit_in_mb,
        "remaining_ms": context.get_remaining_time_in_millis(),
    }
    return {
        "statusCode": 200,
        "headers": {
            "content-type": "application/json",
            "access-control-allow-origin": "https://evil.example",
        },
        "cookies": ["a=1; Path=/", "b=2; Path=/"],
        "body": json.dumps(body),
    }
