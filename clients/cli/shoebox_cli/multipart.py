"""Big files in parts (an S3 multipart upload through presigned part URLs), resumable.

Until the upload completes, its slot is kept in a small state file under the user's cache folder,
named after the API, the user and the file's SHA-256: the next `shoebox upload` of the same bytes
asks the API which parts S3 has (GET /v1/uploads/{id}) and sends only the others.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx

from shoebox_cli.upload import CHUNK_SIZE, Progress, refusal

# Above this a file goes in parts; the API takes POST/PUT up to MAX_UPLOAD_BYTES (25 MiB by
# default) and parts up to MaxMultipartUploadBytes (100 MiB).
MULTIPART_FROM_BYTES = 16 * 1024 * 1024


def file_sha256(path: Path) -> str:
    """The file's SHA-256 (hex), read once in chunks: never the whole file in memory."""
    with path.open("rb") as file:
        return hashlib.file_digest(file, "sha256").hexdigest()


def cache_dir() -> Path:
    """Where interrupted uploads are remembered: $XDG_CACHE_HOME/shoebox/uploads (~/.cache/…)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "shoebox" / "uploads"


@dataclass(frozen=True)
class SavedSlot:
    """An unfinished multipart upload: enough to find it again, nothing secret (no token)."""

    api_url: str
    owner: str
    sha256: str
    image_id: str
    file: str
    size: int
    saved_at: float

    @staticmethod
    def path_for(api_url: str, owner: str, sha256: str) -> Path:
        key = hashlib.sha256(f"{api_url}\n{owner}\n{sha256}".encode()).hexdigest()[:32]
        return cache_dir() / f"{key}.json"

    @classmethod
    def load(cls, api_url: str, owner: str, sha256: str) -> SavedSlot | None:
        try:
            saved = cls(**json.loads(cls.path_for(api_url, owner, sha256).read_text(encoding="utf-8")))
        except (OSError, ValueError, TypeError):
            return None  # none, or unreadable: a new slot is made
        return saved if (saved.api_url, saved.owner, saved.sha256) == (api_url, owner, sha256) else None

    def save(self) -> None:
        path = self.path_for(self.api_url, self.owner, self.sha256)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(path.name + ".part")
        partial.write_text(json.dumps(asdict(self)), encoding="utf-8")
        partial.replace(path)  # a crash never leaves half a state file

    def forget(self) -> None:
        self.path_for(self.api_url, self.owner, self.sha256).unlink(missing_ok=True)

    @classmethod
    def new(cls, api_url: str, owner: str, sha256: str, image_id: str, path: Path) -> SavedSlot:
        return cls(api_url, owner, sha256, image_id, str(path.resolve()), path.stat().st_size, time.time())


def _slice(path: Path, start: int, length: int, progress: Progress | None) -> Iterator[bytes]:
    with path.open("rb") as file:
        file.seek(start)
        left = length
        while left > 0 and (chunk := file.read(min(CHUNK_SIZE, left))):
            left -= len(chunk)
            yield chunk
            if progress:
                progress(len(chunk))


def put_part(
    client: httpx.Client, url: str, path: Path, start: int, length: int, progress: Progress | None
) -> str:
    """PUT bytes start … start+length of the file to a presigned part URL; S3's ETag for it."""
    headers = {"Content-Length": str(length)}
    response = client.put(url, content=_slice(path, start, length, progress), headers=headers)
    if not response.is_success:
        raise refusal(response)
    etag = response.headers.get("etag")
    if not etag:
        raise httpx.RemoteProtocolError("S3 answered a part without its ETag", request=response.request)
    return str(etag)


def missing_parts(upload: Mapping[str, Any], size: int) -> Iterator[tuple[int, str, int, int]]:
    """(number, url, start, length) of each part the Upload document has a URL for."""
    part_size = int(upload["part_size"])
    for part in upload["parts"]:
        number = int(part["number"])
        start = (number - 1) * part_size
        yield number, str(part["url"]), start, min(part_size, size - start)
