"""Presigned S3 requests the API hands out: upload slots (POST or PUT) and downloads.

Presigning is offline (a signature over the request, no call to S3, so no S3 error to translate:
reads, writes and deletes are `shoebox.objects`); the caller's role must still allow the action,
since S3 authorises a presigned request as the role that signed it.
"""

from __future__ import annotations

import base64
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

from shoebox import aws

# What may stay in the quoted ASCII fallback name; the rest becomes "_". No quote, backslash,
# control, ";" or "%" (some clients split on ";" or percent-decode a plain filename).
_UNSAFE_IN_FALLBACK = re.compile(r"[^A-Za-z0-9 ._()+=@!#$&^{}~\[\]-]")


def _expiry(issued: datetime, seconds: int) -> str:
    # Seconds precision, rounded down: the URL is valid at least until the time we announce.
    return (issued + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class PresignedPost:
    url: str
    fields: dict[str, str]
    expires_at: str


@dataclass(frozen=True)
class PresignedPut:
    url: str
    headers: dict[str, str]
    expires_at: str


CHECKSUM_HEADER = "x-amz-checksum-sha256"


def checksum_value(sha256: str) -> str:
    """The `x-amz-checksum-sha256` value S3 expects: the digest in base64, not hex."""
    return base64.b64encode(bytes.fromhex(sha256)).decode()


def upload_post(
    bucket: str, key: str, content_type: str, max_bytes: int, expires_in: int, sha256: str | None = None
) -> PresignedPost:
    """A browser-friendly multipart/form-data POST whose policy pins the exact key (boto3 adds
    `{"key": key}` for a key without `${filename}`), the exact Content-Type and a size range
    of 1 … `max_bytes`. Only a POST policy lets S3 itself enforce the size. With `sha256`, the
    form carries `x-amz-checksum-sha256` and the policy pins it: S3 refuses other bytes
    (BadDigest), and a form with another checksum (policy)."""
    issued = datetime.now(UTC)
    fields = {"Content-Type": content_type}
    conditions: list[Any] = [{"Content-Type": content_type}, ["content-length-range", 1, max_bytes]]
    if sha256 is not None:
        fields[CHECKSUM_HEADER] = checksum_value(sha256)
        conditions.append({CHECKSUM_HEADER: fields[CHECKSUM_HEADER]})
    post = aws.s3().generate_presigned_post(
        Bucket=bucket, Key=key, Fields=fields, Conditions=conditions, ExpiresIn=expires_in
    )
    fields = {name: str(value) for name, value in post["fields"].items()}
    return PresignedPost(url=post["url"], fields=fields, expires_at=_expiry(issued, expires_in))


def upload_put(
    bucket: str, key: str, content_type: str, expires_in: int, sha256: str | None = None
) -> PresignedPut:
    """A presigned PUT with Content-Type (and with `sha256`, `x-amz-checksum-sha256`) among the
    signed headers: the client must send exactly the headers returned, or S3 answers
    SignatureDoesNotMatch; and S3 refuses bytes that are not the checksum's (BadDigest)."""
    issued = datetime.now(UTC)
    params: dict[str, Any] = {"Bucket": bucket, "Key": key, "ContentType": content_type}
    headers = {"Content-Type": content_type}
    if sha256 is not None:
        params["ChecksumSHA256"] = headers[CHECKSUM_HEADER] = checksum_value(sha256)
    url = aws.s3().generate_presigned_url("put_object", Params=params, ExpiresIn=expires_in, HttpMethod="PUT")
    return PresignedPut(url=url, headers=headers, expires_at=_expiry(issued, expires_in))


@dataclass(frozen=True)
class PresignedParts:
    urls: dict[int, str]  # part number -> presigned PUT
    expires_at: str


def upload_parts(
    bucket: str, key: str, upload_id: str, numbers: Iterable[int], expires_in: int
) -> PresignedParts:
    """A presigned PUT (UploadPart) for each part number of a multipart upload. S3 cannot pin a
    whole file's SHA-256 on a multipart upload (its checksums are per part, or CRC-based for the
    whole): validation alone checks the declared one."""
    issued = datetime.now(UTC)
    s3 = aws.s3()
    urls = {
        number: s3.generate_presigned_url(
            "upload_part",
            Params={"Bucket": bucket, "Key": key, "UploadId": upload_id, "PartNumber": number},
            ExpiresIn=expires_in,
            HttpMethod="PUT",
        )
        for number in numbers
    }
    return PresignedParts(urls=urls, expires_at=_expiry(issued, expires_in))


def inline_disposition(filename: str) -> str:
    """`Content-Disposition: inline` with the user's filename made safe for a header: an ASCII
    fallback without quotes, backslashes or controls, and the exact name as RFC 5987
    `filename*` (percent-encoded UTF-8), which browsers prefer."""
    # "é" -> "e" (drop the combining accent); anything else outside the safe set -> "_".
    decomposed = unicodedata.normalize("NFKD", filename)
    ascii_name = "".join(char for char in decomposed if unicodedata.category(char) != "Mn")
    fallback = _UNSAFE_IN_FALLBACK.sub("_", ascii_name).strip(" .")
    if not fallback.strip("_"):
        fallback = "image"
    encoded = quote(filename, safe="")
    return f"inline; filename=\"{fallback}\"; filename*=UTF-8''{encoded}"


def download_url(bucket: str, key: str, content_type: str, filename: str, expires_in: int) -> str:
    """A short-lived GET that S3 answers with our Content-Type and an inline, safe filename,
    whatever metadata the object carries."""
    params: dict[str, Any] = {
        "Bucket": bucket,
        "Key": key,
        "ResponseContentType": content_type,
        "ResponseContentDisposition": inline_disposition(filename),
    }
    return aws.s3().generate_presigned_url("get_object", Params=params, ExpiresIn=expires_in)
