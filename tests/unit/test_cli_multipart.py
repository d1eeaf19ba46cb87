"""The CLI's streamed multipart body is valid multipart/form-data, S3 refusals are explained, and
big files go in parts whose slot is remembered for a resume."""

from __future__ import annotations

import email.policy
import hashlib
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

import httpx
import pytest

from shoebox_cli.multipart import SavedSlot, file_sha256, missing_parts, put_part
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


def test_a_saved_slot_is_found_again_only_for_the_same_api_user_and_bytes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    photo = tmp_path / "big.png"
    photo.write_bytes(b"\x89PNG" + bytes(1000))
    digest = file_sha256(photo)
    assert digest == hashlib.sha256(photo.read_bytes()).hexdigest()
    saved = SavedSlot.new("http://api.test", "alice", digest, "image-1", photo)
    saved.save()

    assert SavedSlot.load("http://api.test", "alice", digest) == saved
    assert SavedSlot.load("http://api.test", "bob", digest) is None
    assert SavedSlot.load("http://other.test", "alice", digest) is None
    assert SavedSlot.load("http://api.test", "alice", "0" * 64) is None
    (state,) = (tmp_path / "cache" / "shoebox" / "uploads").iterdir()
    assert state.suffix == ".json"  # written whole, then renamed: no .part left
    saved.forget()
    assert SavedSlot.load("http://api.test", "alice", digest) is None
    state.parent.joinpath(state.name).write_text("{not json")
    assert SavedSlot.load("http://api.test", "alice", digest) is None  # unreadable: a new slot


def test_the_missing_parts_are_the_file_s_slices_by_number(tmp_path: Path) -> None:
    size = 20 * 1024 * 1024 + 7
    upload = {"part_size": 8 * 1024 * 1024, "parts": [{"number": 2, "url": "u2"}, {"number": 3, "url": "u3"}]}
    assert list(missing_parts(upload, size)) == [
        (2, "u2", 8 * 1024 * 1024, 8 * 1024 * 1024),
        (3, "u3", 16 * 1024 * 1024, 4 * 1024 * 1024 + 7),
    ]


def test_put_part_sends_exactly_its_slice_and_answers_the_etag(tmp_path: Path) -> None:
    data = bytes(range(256)) * 100
    path = tmp_path / "f.bin"
    path.write_bytes(data)
    seen: list[httpx.Request] = []

    def s3(request: httpx.Request) -> httpx.Response:
        request.read()
        seen.append(request)
        return httpx.Response(200, headers={"ETag": '"abc"'})

    with httpx.Client(transport=httpx.MockTransport(s3)) as client:
        assert put_part(client, "http://s3.test/k?partNumber=2", path, 1000, 5000, None) == '"abc"'
    assert seen[0].content == data[1000:6000]
    assert seen[0].headers["content-length"] == "5000"
