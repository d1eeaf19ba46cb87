"""ValidateFunction and ThumbnailFunction that can be switched to doing nothing: the mutants the
local tier's landing checks must catch (tests/local/test_mutations.py).

Each runs in its function's own process (DevStack handler_overrides) and looks, at every
batch, at the folder named by MUTANT_DIR: `off.json` lists the steps switched off. A step that
is off takes its batch and acknowledges it without reading, writing or recording anything — S3
has the upload, but the image never moves on — and appends each S3 key it skipped to
`skipped.log`, so a test knows when the step has had its message. A step that is on is the real
handler.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from make_thumbnails import handler as real_make_thumbnails
from validate_upload import handler as real_validate

from tests.local.probe import s3_keys

VALIDATE = "validate"
THUMBNAILS = "thumbnails"


def switch_off(folder: Path, *steps: str) -> None:
    """From the next batch on, `steps` do nothing (none: every step is the real one)."""
    (folder / "off.json").write_text(json.dumps(steps))


def skipped(folder: Path) -> list[str]:
    """The S3 keys that switched-off steps took and did nothing with."""
    log = folder / "skipped.log"
    return log.read_text().splitlines() if log.exists() else []


def _skips(step: str, event: dict[str, Any]) -> bool:
    folder = Path(os.environ["MUTANT_DIR"])
    switch = folder / "off.json"
    if not switch.exists() or step not in json.loads(switch.read_text()):
        return False
    with (folder / "skipped.log").open("a", encoding="utf-8") as log:
        for record in event["Records"]:
            log.writelines(f"{key}\n" for key in s3_keys(record["body"]))
    return True


def validate(event: dict[str, Any], context: Any) -> Any:
    if _skips(VALIDATE, event):
        return {"batchItemFailures": []}
    return real_validate.handler(event, context)


def make_thumbnails(event: dict[str, Any], context: Any) -> Any:
    if _skips(THUMBNAILS, event):
        return {"batchItemFailures": []}
    return real_make_thumbnails.handler(event, context)
