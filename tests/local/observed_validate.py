"""ValidateFunction observed: the real handler, each invocation recorded, and a crash on demand.

Runs in every execution environment of the function (DevStack handler_overrides), so each
environment, its own process, records itself. Every invocation appends two JSON lines to the file
named by OBSERVED_INVOCATIONS: "start" (the environment's log stream name, one per execution
environment as in Lambda, its pid, the time, and the key, ETag and receive count of each S3
record) and, unless it crashed, "end".

Images whose id is a line of the file named by CRASH_AFTER_ORIGINAL crash their environment
(the process exits, as on a kill) right after validation wrote their clean original, on the
first receive of the upload's message. The retry is held back LATE_RETRY_SECONDS before the real
handler sees it, as a retry that SQS brings back late. Everything else is the real handler.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from validate_upload import handler as real

from shoebox import keys, objects, pipeline

_crashing: set[str] = set()  # this invocation's images that crash once their original is written
_put_immutable = objects.ObjectStore.put_immutable


def _put_then_crash(store: objects.ObjectStore, bucket: str, key: str, *args: Any, **kwargs: Any) -> None:
    _put_immutable(store, bucket, key, *args, **kwargs)
    if keys.image_id_from_key(key, keys.ORIGINALS_PREFIX) in _crashing:
        os._exit(70)  # no cleanup, no response: the environment is gone mid-invocation


objects.ObjectStore.put_immutable = _put_then_crash  # type: ignore[method-assign]


def _record(line: dict[str, Any]) -> None:
    with open(os.environ["OBSERVED_INVOCATIONS"], "a", encoding="utf-8") as output:
        output.write(json.dumps(line) + "\n")


def _crash_ids() -> set[str]:
    path = Path(os.environ.get("CRASH_AFTER_ORIGINAL", "/nonexistent"))
    return set(path.read_text().split()) if path.exists() else set()


def handler(event: dict[str, Any], context: Any) -> Any:
    uploads = [
        (created, int(record["attributes"]["ApproximateReceiveCount"]))
        for record in event["Records"]
        for created in pipeline.object_created_records(record["body"], keys.INCOMING_PREFIX)
    ]
    environment = {
        "stream": context.log_stream_name,
        "pid": os.getpid(),
        "request_id": context.aws_request_id,
    }
    objects_seen = [
        {"key": created.key, "etag": created.etag, "receive_count": count} for created, count in uploads
    ]
    _record({"event": "start", "time": time.time(), **environment, "objects": objects_seen})
    crash_ids = _crash_ids()
    _crashing.clear()
    _crashing.update(
        created.image_id for created, count in uploads if count == 1 and created.image_id in crash_ids
    )
    if any(created.image_id in crash_ids and count > 1 for created, count in uploads):
        time.sleep(float(os.environ.get("LATE_RETRY_SECONDS", "0")))
    result = real.handler(event, context)
    _record({"event": "end", "time": time.time(), **environment})
    return result
