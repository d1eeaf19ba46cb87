"""The CLI's streamed multipart body is valid multipart/form-data, and S3 refusals are explained."""

from __future__ import annotations

import email.policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

import httpx
import pytest

from shoebox_cli.sniff import guess_content_type, sniff
from shoebox_cli.upload import MultipartBody, UploadRefused, post_file, put_file

FIELDS = {
    "key": "incoming/abcdefghijklmnopqrstuv",
    "Content-Type": "image/jpeg",
    "policy": "eyJleHBpcmF0aW9uIjogIjIwMjYifQ==",
    "x-amz-signature": "0123456789abcdef",
}


def _parse(content_type: str, body: bytes) -> EmailMessage:
    """Parse a form-data body with the stdlib MIME parser, as a server would."""
    document = f"Content-Type: {content_type}\r\n\r\n".encode() + body
    message = BytesParser(policy=email.policy.HTTP).parsebytes(document)
    assert isinstance(message, EmailMessage)
    return message


@pytest.fixture
def photo(tmp_path: Path) -> Path:
    # Bytes that would break a naive encoder: CRLFs, a fake boundary line, every byte value.
    data = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 700 + b"\r\n--shoebox-x\r\n" + b"\x00" * 1000
    path = tmp_path / 'hol"iday\r\n.jpg'
    path.write_bytes(data)
    return path


def test_body_parses_back_to_the_fields_then_the_file(photo: Path) -> None:
    body = MultipartBody(FIELDS, photo, photo.name, "image/jpeg", chunk_size=1000)
    raw = b"".join(body.stream())

    assert len(raw) == len(body)
    message = _parse(body.content_type_header, raw)
    assert message.is_multipart()
    parts = list(message.iter_parts())
    names = [part.get_param("name", header="content-disposition") for part in parts]
    assert names == [*FIELDS, "file"]  # S3 ignores every field after the file
    for part, (name, value) in zip(parts, FIELDS.items(), strict=False):
        assert part.get_content() == value, name
    file_part = parts[-1]
    assert file_part.get_content_type() == "image/jpeg"
    assert file_part.get_param("filename", header="content-disposition") == "hol%22iday%0D%0A.jpg"
    assert file_part.get_payload(decode=True) == photo.read_bytes()


def test_progress_reports_file_bytes_as_they_are_streamed(photo: Path) -> None:
    reported: list[int] = []
    body = MultipartBody(FIELDS, photo, photo.name, "image/jpeg", chunk_size=4096)
    sent = 0
    for chunk in body.stream(reported.append):
        sent += len(chunk)
        # Progress never runs ahead of what has left the generator.
        assert sum(reported) <= sent
    assert sum(reported) == photo.stat().st_size
    assert len(reported) == -(-photo.stat().st_size // 4096)


def test_each_body_has_its_own_boundary(photo: Path) -> None:
    first = MultipartBody(FIELDS, photo, "a.jpg", "image/jpeg")
    second = MultipartBody(FIELDS, photo, "a.jpg", "image/jpeg")
    assert first.boundary != second.boundary
    assert first.boundary.encode() not in photo.read_bytes()


def test_post_file_streams_with_an_exact_length(photo: Path) -> None:
    seen: dict[str, object] = {}

    def s3(request: httpx.Request) -> httpx.Response:
        seen["headers"] = request.headers
        seen["body"] = request.read()
        return httpx.Response(204)

    progress: list[int] = []
    upload = {"method": "POST", "url": "http://s3.test/bucket", "fields": FIELDS}
    with httpx.Client(transport=httpx.MockTransport(s3)) as client:
        post_file(client, upload, photo, "image/jpeg", progress.append)

    headers = seen["headers"]
    assert isinstance(headers, httpx.Headers)
    assert "transfer-encoding" not in headers  # S3 refuses chunked uploads
    assert "authorization" not in headers
    body = seen["body"]
    assert isinstance(body, bytes)
    assert int(headers["content-length"]) == len(body)
    message = _parse(headers["content-type"], body)
    assert list(message.iter_parts())[-1].get_payload(decode=True) == photo.read_bytes()
    assert sum(progress) == photo.stat().st_size


def test_put_file_sends_the_signed_headers_and_the_bytes(photo: Path) -> None:
    seen: list[httpx.Request] = []

    def s3(request: httpx.Request) -> httpx.Response:
        request.read()
        seen.append(request)
        return httpx.Response(200)

    upload = {"method": "PUT", "url": "http://s3.test/b/k", "headers": {"Content-Type": "image/jpeg"}}
    with httpx.Client(transport=httpx.MockTransport(s3)) as client:
        put_file(client, upload, photo)
    assert seen[0].headers["content-type"] == "image/jpeg"
    assert seen[0].content == photo.read_bytes()


def test_an_s3_refusal_carries_its_code_and_message(photo: Path) -> None:
    xml = (
        b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>EntityTooLarge</Code>'
        b"<Message>Your proposed upload exceeds the maximum allowed size</Message></Error>"
    )

    def s3(request: httpx.Request) -> httpx.Response:
        request.read()
        return httpx.Response(400, content=xml, headers={"content-type": "application/xml"})

    upload = {"method": "POST", "url": "http://s3.test/bucket", "fields": FIELDS}
    with httpx.Client(transport=httpx.MockTransport(s3)) as client, pytest.raises(UploadRefused) as refused:
        post_file(client, upload, photo, "image/jpeg")
    assert refused.value.status == 400
    assert refused.value.code == "EntityTooLarge"
    assert "maximum allowed size" in refused.value.message


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b"\xff\xd8\xff\xe1....Exif", "image/jpeg"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "image/png"),
        (b"GIF89a\x01\x00", "image/gif"),
        (b"RIFF\x24\x00\x00\x00WEBPVP8 ", "image/webp"),
        (b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic", "image/heic"),
        (b"\x00\x00\x00\x1cftypmif1\x00\x00\x00\x00mif1miafheic", "image/heic"),
        (b"\x00\x00\x00\x18ftypmif1\x00\x00\x00\x00mif1miaf", "image/heif"),
        (b"\x00\x00\x00\x1cftypavif\x00\x00\x00\x00avifmif1miaf", "image/avif"),
        (b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2", None),
        (b"hello, world", None),
    ],
)
def test_sniff(head: bytes, expected: str | None) -> None:
    assert sniff(head) == expected


def test_guess_prefers_the_bytes_to_the_name(tmp_path: Path) -> None:
    misnamed = tmp_path / "IMG_0001.jpg"
    misnamed.write_bytes(b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\x00" * 64)
    text = tmp_path / "notes.jpg"
    text.write_text("not a photo")
    unknown = tmp_path / "blob"
    unknown.write_bytes(b"\x01\x02")
    assert guess_content_type(misnamed) == "image/heic"
    assert guess_content_type(text) == "image/jpeg"  # the name is all there is: the server decides
    assert guess_content_type(unknown) == "application/octet-stream"
