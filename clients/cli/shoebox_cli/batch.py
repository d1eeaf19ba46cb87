"""One `shoebox upload` run: each file hashed, then answered as a duplicate, or resumed, or given
a new slot and sent (in parts when big); then, with --wait, all followed together."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from rich.progress import Progress, TaskID
from rich.text import Text

from shoebox_cli.api import (
    ApiError,
    Image,
    Interrupted,
    NotFoundError,
    ShoeboxClient,
    ShoeboxError,
    TimedOut,
)
from shoebox_cli.follow import FINAL_STATUSES, follow
from shoebox_cli.multipart import MULTIPART_FROM_BYTES, SavedSlot, file_sha256, missing_parts, put_part
from shoebox_cli.sniff import guess_content_type
from shoebox_cli.upload import UploadRefused, send_file

STATUS_STYLE = {
    "READY": "green",
    "REJECTED": "red",
    "FAILED": "red",
    "PENDING": "yellow",
    "PROCESSING": "cyan",
}


def status_text(status: str) -> Text:
    return Text(status, style=STATUS_STYLE.get(status, ""))


@dataclass
class Outcome:
    path: Path
    image: Image | None = None
    error: ShoeboxError | UploadRefused | None = None
    duplicate: bool = False  # the user had these bytes already: nothing was sent

    @property
    def ok(self) -> bool:
        return self.error is None and (self.image or {}).get("status") not in ("REJECTED", "FAILED")

    def as_json(self) -> dict[str, Any]:
        error: dict[str, Any] | None = None
        if isinstance(self.error, ApiError | UploadRefused):
            error = {"code": self.error.code, "message": self.error.message}
        elif self.error is not None:
            error = {"code": type(self.error).__name__.upper(), "message": str(self.error)}
        elif self.image and self.image.get("error"):
            error = self.image["error"]
        return {
            "file": str(self.path),
            "ok": self.ok,
            "duplicate": self.duplicate,
            "image": self.image,
            "error": error,
        }


@dataclass
class UploadJob:
    api: ShoeboxClient
    s3: httpx.Client
    progress: Progress
    method: str  # POST or PUT for files up to MULTIPART_FROM_BYTES; bigger ones go in parts
    content_type: str | None
    timeout: float  # how long a 429 (too many open slots) is waited out, at most
    sleep: Callable[[float], None] = time.sleep

    def run(self, path: Path, task: TaskID) -> Outcome:
        try:
            return self._upload(path, task)
        except (ShoeboxError, UploadRefused) as exc:
            self.progress.update(task, status=Text("failed", style="red"))
            return Outcome(path, error=exc)
        except httpx.TransportError as exc:
            self.progress.update(task, status=Text("failed", style="red"))
            return Outcome(path, error=ShoeboxError(f"upload to S3 failed: {exc}"))

    def _upload(self, path: Path, task: TaskID) -> Outcome:
        size = path.stat().st_size
        content_type = self.content_type or guess_content_type(path)
        self.progress.update(task, status="hashing")
        sha256 = file_sha256(path)
        multipart = size > MULTIPART_FROM_BYTES
        saved = SavedSlot.load(self.api.api_url, self.api.subject, sha256) if multipart else None
        slot = self._resumed(saved) if saved else None
        if slot is None:
            method = "MULTIPART" if multipart else self.method
            created = self._create(task, path.name, content_type, size, method, sha256)
            if created.get("duplicate"):
                self.progress.update(task, completed=size, status=Text("duplicate", style="green"))
                return Outcome(path, image=dict(created["image"]), duplicate=True)
            slot = {"image": created["image"], "upload": created["upload"], "received": []}
            if multipart:
                saved = SavedSlot.new(
                    self.api.api_url, self.api.subject, sha256, created["image"]["id"], path
                )
                saved.save()
        image = dict(slot["image"])
        self.progress.update(task, status="uploading")
        if slot["upload"]["method"] == "MULTIPART":
            self._send_parts(path, image["id"], slot, task)
            if saved is not None:
                saved.forget()
        else:
            send_file(
                self.s3, slot["upload"], path, content_type, lambda sent: self.progress.advance(task, sent)
            )
        self.progress.update(task, status="uploaded")
        return Outcome(path, image=image)

    def _create(
        self, task: TaskID, name: str, content_type: str, size: int, method: str, sha256: str
    ) -> dict[str, Any]:
        """A slot; a 429 (too many uploads open) is waited out as the API says, until the timeout."""
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                created: dict[str, Any] = self.api.create_upload(name, content_type, size, method, sha256)
                return created
            except ApiError as exc:
                wait = exc.retry_after if exc.retry_after is not None else 5.0
                if exc.status != 429 or time.monotonic() + wait > deadline:
                    raise
                self.progress.update(task, status=Text(f"waiting {wait:.0f} s ({exc.code})", style="yellow"))
                self.sleep(wait)

    def _resumed(self, saved: SavedSlot) -> dict[str, Any] | None:
        """The saved slot as S3 has it now: {"image", "received", "upload"}; None (and the state
        file gone) when it cannot go on: expired, cancelled, or its bytes have arrived."""
        try:
            found: dict[str, Any] = self.api.get_upload(saved.image_id)
            return found
        except ApiError as exc:
            if not isinstance(exc, NotFoundError) and exc.status != 409:
                raise
        saved.forget()
        return None

    def _send_parts(self, path: Path, image_id: str, slot: dict[str, Any], task: TaskID) -> None:
        size = path.stat().st_size
        etags = {int(part["number"]): str(part["etag"]) for part in slot["received"]}
        total = len(etags) + len(slot["upload"]["parts"])
        done = sum(int(part["size"]) for part in slot["received"])
        self.progress.update(task, completed=done)
        if etags:
            self.progress.update(task, status=f"resuming: {len(etags)} of {total} parts were sent before")
        try:
            for number, url, start, length in missing_parts(slot["upload"], size):
                etags[number] = put_part(
                    self.s3, url, path, start, length, lambda sent: self.progress.advance(task, sent)
                )
        except (httpx.TransportError, UploadRefused) as exc:
            raise Interrupted(
                f"interrupted after {len(etags)} of {total} parts ({exc}): "
                "run the same command again to send the rest"
            ) from exc
        parts = [{"number": number, "etag": etag} for number, etag in sorted(etags.items())]
        self.api.complete_upload(image_id, parts)


def follow_outcomes(
    api: ShoeboxClient, progress: Progress, outcomes: list[Outcome], tasks: list[TaskID], timeout: float
) -> None:
    """--wait: every upload that is not final yet, followed together until READY, REJECTED or
    FAILED (one request per round); one that is still processing at the timeout fails."""
    task_of = {
        outcome.image["id"]: task for outcome, task in zip(outcomes, tasks, strict=True) if outcome.image
    }
    waiting = [
        outcome
        for outcome in outcomes
        if outcome.image and outcome.error is None and outcome.image.get("status") not in FINAL_STATUSES
    ]

    def show(image: Image) -> None:
        progress.update(task_of[image["id"]], status=status_text(image["status"]))

    latest = follow(api, [outcome.image for outcome in waiting if outcome.image], timeout, show)
    for outcome in waiting:
        assert outcome.image is not None
        image_id = outcome.image["id"]
        found = latest.get(image_id)
        if found is None:
            outcome.error = NotFoundError(
                404, "NOT_FOUND", "the image was deleted meanwhile", {"id": image_id}
            )
            continue
        outcome.image = found
        if found.get("status") not in FINAL_STATUSES:
            outcome.error = TimedOut(f"image {image_id} still {found.get('status')} after {timeout:.0f} s")
