"""Send a file's bytes straight to S3 through a presigned POST or PUT, reporting real progress.

The body is streamed from disk in chunks; the progress callback runs after each chunk has been
handed to the socket, so a progress bar moves with the bytes actually sent. The POST body is a
multipart/form-data document built here (httpx's own multipart encoder cannot report progress):
every policy field first, the file last, as S3 requires, with an exact Content-Length because
S3 refuses chunked uploads.
"""

from __future__ import annotations

import secrets
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

CHUNK_SIZE = 64 * 1024

Progress = Callable[[int], None]
"""Called with the number of file bytes just sent (an increment, not a total)."""


class UploadRefused(Exception):
    """S3 (or whatever the presigned URL points at) refused the upload."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}" if message else code)
        self.status = status
        self.code = code
        self.message = message


def _quote(value: str) -> str:
    # What browsers do in a Content-Disposition parameter (WHATWG HTML, multipart/form-data).
    return value.replace("\r", "%0D").replace("\n", "%0A").replace('"', "%22")


def _file_chunks(path: Path, chunk_size: int) -> Iterator[bytes]:
    with path.open("rb") as file:
        while chunk := file.read(chunk_size):
            yield chunk


@dataclass(frozen=True)
class MultipartBody:
    """A multipart/form-data body of text fields and one file part, last, streamed from disk."""

    fields: Mapping[str, str]
    path: Path
    filename: str
    content_type: str
    file_field: str = "file"
    boundary: str = ""
    chunk_size: int = CHUNK_SIZE

    def __post_init__(self) -> None:
        if not self.boundary:
            object.__setattr__(self, "boundary", f"shoebox-{secrets.token_hex(16)}")

    @property
    def content_type_header(self) -> str:
        return f"multipart/form-data; boundary={self.boundary}"

    def _head(self) -> bytes:
        parts = [
            f'--{self.boundary}\r\nContent-Disposition: form-data; name="{_quote(name)}"\r\n\r\n'
            f"{value}\r\n".encode()
            for name, value in self.fields.items()
        ]
        parts.append(
            f"--{self.boundary}\r\n"
            f'Content-Disposition: form-data; name="{_quote(self.file_field)}"; '
            f'filename="{_quote(self.filename)}"\r\n'
            f"Content-Type: {self.content_type}\r\n\r\n".encode()
        )
        return b"".join(parts)

    def _tail(self) -> bytes:
        return f"\r\n--{self.boundary}--\r\n".encode()

    def __len__(self) -> int:
        return len(self._head()) + self.path.stat().st_size + len(self._tail())

    def stream(self, progress: Progress | None = None) -> Iterator[bytes]:
        """The body; `progress` hears about file bytes only, so it adds up to the file size."""
        yield self._head()
        for chunk in _file_chunks(self.path, self.chunk_size):
            yield chunk
            if progress:
                progress(len(chunk))
        yield self._tail()


def refusal(response: httpx.Response) -> UploadRefused:
    """S3 explains a refusal in XML: <Error><Code>…</Code><Message>…</Message></Error>."""
    code, message = f"HTTP_{response.status_code}", response.reason_phrase
    try:
        root = ET.fromstring(response.content)  # noqa: S314 - S3's own short error document
    except ET.ParseError:
        text = response.text.strip()
        return UploadRefused(response.status_code, code, text[:300] or message)
    code = root.findtext("Code") or code
    message = root.findtext("Message") or message
    return UploadRefused(response.status_code, code, message)


def post_file(
    client: httpx.Client,
    upload: Mapping[str, Any],
    path: Path,
    content_type: str,
    progress: Progress | None = None,
) -> None:
    """Upload through a presigned POST: `upload` is the API's Upload document (url + fields)."""
    fields = {str(name): str(value) for name, value in upload["fields"].items()}
    body = MultipartBody(fields, path, path.name, content_type)
    headers = {"Content-Type": body.content_type_header, "Content-Length": str(len(body))}
    response = client.post(upload["url"], content=body.stream(progress), headers=headers)
    if not response.is_success:
        raise refusal(response)


def put_file(
    client: httpx.Client,
    upload: Mapping[str, Any],
    path: Path,
    progress: Progress | None = None,
) -> None:
    """Upload through a presigned PUT, with exactly the headers that were signed."""
    headers = {str(name): str(value) for name, value in upload.get("headers", {}).items()}
    headers["Content-Length"] = str(path.stat().st_size)

    def chunks() -> Iterator[bytes]:
        for chunk in _file_chunks(path, CHUNK_SIZE):
            yield chunk
            if progress:
                progress(len(chunk))

    response = client.put(upload["url"], content=chunks(), headers=headers)
    if not response.is_success:
        raise refusal(response)


def send_file(
    client: httpx.Client,
    upload: Mapping[str, Any],
    path: Path,
    content_type: str,
    progress: Progress | None = None,
) -> None:
    """Upload by whichever method the slot was issued for."""
    if upload.get("method", "POST").upper() == "PUT":
        put_file(client, upload, path, progress)
    else:
        post_file(client, upload, path, content_type, progress)
