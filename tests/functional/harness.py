"""The functional tier's harness: call each function's real `handler(event, context)` with real
event payloads, and set up what validation and thumbnails would have left behind.

The table is created from template.yaml's `ImagesTable` properties, not from the PynamoDB
model: the model then runs against the schema that is deployed (and that the local stack
builds), so a model that drifts from the template fails here instead of in AWS.
"""

from __future__ import annotations

import base64
import io
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, ClassVar

from cancel_upload.handler import handler as cancel_upload
from complete_upload.handler import handler as complete_upload
from create_share.handler import handler as create_share
from create_upload.handler import handler as create_upload
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from delete_image.handler import handler as delete_image
from delete_share.handler import handler as delete_share
from get_content.handler import handler as get_content
from get_image.handler import handler as get_image
from get_shared_content.handler import handler as get_shared_content
from get_upload.handler import handler as get_upload
from get_usage.handler import handler as get_usage
from list_images.handler import handler as list_images
from list_shares.handler import handler as list_shares
from view_share.handler import handler as view_share

from infra.local.template import load_template
from shoebox import cdn, keys, records
from shoebox.variants import ORIGINAL, THUMBNAIL_SIZES, Variant, variant_key
from tests.events import LambdaContext, load_event

TEMPLATE = Path(__file__).resolve().parents[2] / "template.yaml"
TABLE = "shoebox-images"
UPLOADS = "shoebox-uploads"
MEDIA = "shoebox-media"
MAX_UPLOAD_BYTES = 25 * 1024 * 1024
REGION = "us-east-1"
# The delivery key pair and the share token key, as the stack's two secrets hold them.
CDN_BASE_URL = "https://d111111abcdef8.cloudfront.net"
CDN_KEY_SECRET = "shoebox-cdn-signing-key"
CDN_KEY_PAIR_ID = "K2JCJMDEHXQW5F"
SHARE_KEY_SECRET = "shoebox-share-key"
SHARE_KEY = "s" * 64
# The statuses of an image that is not READY: its content and shares answer 409 NOT_READY.
NOT_READY = ["PENDING", "PROCESSING", "REJECTED", "FAILED"]


@cache
def cdn_private_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def create_secrets(client: Any) -> None:
    """The two secrets the stack makes: the delivery key pair (which ops put in) and the share
    token key (which the stack generates)."""
    pem = cdn_private_key().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    value = {"key_pair_id": CDN_KEY_PAIR_ID, "private_key": pem.decode()}
    client.create_secret(Name=CDN_KEY_SECRET, SecretString=json.dumps(value))
    client.create_secret(Name=SHARE_KEY_SECRET, SecretString=SHARE_KEY)


def verified(url: str, now: float | None = None) -> str:
    """The resource a delivery URL grants, checked as the CDN checks it (SignatureRefused if not)."""
    public_keys = {CDN_KEY_PAIR_ID: cdn_private_key().public_key()}
    return cdn.verify_url(url, public_keys=public_keys, now=time.time() if now is None else now)


@cache
def table_properties() -> dict[str, Any]:
    template = load_template(TEMPLATE)
    properties: dict[str, Any] = template["Resources"]["ImagesTable"]["Properties"]
    return properties


def create_table_from_template(client: Any, name: str) -> None:
    """The table exactly as template.yaml declares it (keys, indexes, TTL)."""
    properties = table_properties()
    client.create_table(
        TableName=name,
        BillingMode=properties["BillingMode"],
        AttributeDefinitions=properties["AttributeDefinitions"],
        KeySchema=properties["KeySchema"],
        GlobalSecondaryIndexes=properties.get("GlobalSecondaryIndexes", []),
    )
    ttl = properties.get("TimeToLiveSpecification")
    if ttl:
        client.update_time_to_live(
            TableName=name,
            TimeToLiveSpecification={"AttributeName": ttl["AttributeName"], "Enabled": ttl["Enabled"]},
        )


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: str
    request_id: str

    @property
    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def error(self) -> dict[str, Any]:
        error: dict[str, Any] = self.json["error"]
        return error


def invoke(handler: Any, event: dict[str, Any], function_name: str = "ShoeboxFunction") -> Reply:
    """Call a handler as Lambda would, and check what every response must have."""
    raw = handler(event, LambdaContext(function_name=function_name))
    headers = {name.lower(): value for name, value in (raw.get("headers") or {}).items()}
    body = raw.get("body") or ""
    if raw.get("isBase64Encoded"):
        body = base64.b64decode(body).decode()
    reply = Reply(raw["statusCode"], headers, body, event["requestContext"]["requestId"])
    # SPEC §3: a request id on every response, the API Gateway one when there is one.
    assert headers.get("x-request-id") == reply.request_id, headers
    if reply.status >= 400:
        # SPEC §3: every error has {"error": {"code", "message", "details"}} and no trace.
        assert set(reply.json) == {"error"}, reply.body
        assert set(reply.error) == {"code", "message", "details"}, reply.body
        assert isinstance(reply.error["code"], str)
        assert isinstance(reply.error["message"], str)
        assert isinstance(reply.error["details"], dict)
        assert "Traceback" not in reply.body
    return reply


class Api:
    """The API routes, called through their real Lambda handlers with real event payloads."""

    handlers: ClassVar[dict[str, Any]] = {
        "create_upload": create_upload,
        "list_images": list_images,
        "get_image": get_image,
        "get_content": get_content,
        "delete_image": delete_image,
        "create_share": create_share,
        "list_shares": list_shares,
        "delete_share": delete_share,
        "view_share": view_share,
        "get_shared_content": get_shared_content,
        "get_upload": get_upload,
        "complete_upload": complete_upload,
        "cancel_upload": cancel_upload,
        "get_usage": get_usage,
    }

    def call(self, function: str, event: dict[str, Any]) -> Reply:
        return invoke(self.handlers[function], event, function_name=function)

    def create(self, body: Any, *, sub: str = "alice", **overrides: Any) -> Reply:
        return self.call("create_upload", load_event("apigw_create_upload", body=body, sub=sub, **overrides))

    def upload_slot(self, *, sub: str = "alice", **fields: Any) -> dict[str, Any]:
        body = {"filename": "holiday.jpg", "content_type": "image/jpeg", "size": 1024, **fields}
        reply = self.create(body, sub=sub)
        assert reply.status == 201, reply.body
        image: dict[str, Any] = reply.json["image"]
        return image

    def not_ready_image(self, status: str, *, sub: str = "alice") -> str:
        """The id of a new image left in `status`, one of NOT_READY (what the pipeline would
        have left it in)."""
        image_id: str = self.upload_slot(sub=sub)["id"]
        accepted = records.Accepted(8, "image/jpeg", "JPEG", 10, 10, "0" * 64, "etag")
        if status == "PROCESSING":
            records.claim_accepted(image_id, accepted)
        elif status == "REJECTED":
            records.claim_rejected(image_id, "etag", "CORRUPT_IMAGE", "truncated")
        elif status == "FAILED":
            records.mark_failed(image_id, "INTERNAL_ERROR", "kept failing")
        else:
            assert status == "PENDING", status
        return image_id

    def list(self, *, sub: str = "alice", **query: Any) -> Reply:
        return self.call("list_images", load_event("apigw_list_images", query=query, sub=sub))

    def get(self, image_id: str, *, sub: str = "alice", **overrides: Any) -> Reply:
        return self.call(
            "get_image", load_event("apigw_get_image", path={"id": image_id}, sub=sub, **overrides)
        )

    def content(self, image_id: str, variant: str | None = None, *, sub: str = "alice") -> Reply:
        query = {"variant": variant} if variant is not None else {}
        event = load_event("apigw_get_content", path={"id": image_id}, query=query, sub=sub)
        return self.call("get_content", event)

    def upload_status(self, image_id: str, *, sub: str = "alice") -> Reply:
        return self.call("get_upload", load_event("apigw_get_upload", path={"id": image_id}, sub=sub))

    def complete(self, image_id: str, parts: Any, *, sub: str = "alice") -> Reply:
        event = load_event("apigw_complete_upload", path={"id": image_id}, body={"parts": parts}, sub=sub)
        return self.call("complete_upload", event)

    def cancel(self, image_id: str, *, sub: str = "alice") -> Reply:
        return self.call("cancel_upload", load_event("apigw_cancel_upload", path={"id": image_id}, sub=sub))

    def usage(self, *, sub: str = "alice") -> dict[str, Any]:
        reply = self.call("get_usage", load_event("apigw_get_usage", sub=sub))
        assert reply.status == 200, reply.body
        found: dict[str, Any] = reply.json
        return found

    def delete(self, image_id: str, *, sub: str = "alice", **overrides: Any) -> Reply:
        event = load_event("apigw_delete_image", path={"id": image_id}, sub=sub, **overrides)
        return self.call("delete_image", event)

    def share(self, image_id: str, body: Any = None, *, sub: str = "alice", **overrides: Any) -> Reply:
        event = load_event("apigw_create_share", path={"id": image_id}, body=body, sub=sub, **overrides)
        return self.call("create_share", event)

    def shares(self, image_id: str, *, sub: str = "alice", **overrides: Any) -> Reply:
        event = load_event("apigw_list_shares", path={"id": image_id}, sub=sub, **overrides)
        return self.call("list_shares", event)

    def revoke(self, share_id: str, *, sub: str = "alice", **overrides: Any) -> Reply:
        event = load_event("apigw_delete_share", path={"share_id": share_id}, sub=sub, **overrides)
        return self.call("delete_share", event)

    def view(self, token: str, **overrides: Any) -> Reply:
        return self.call("view_share", load_event("apigw_view_share", path={"token": token}, **overrides))

    def shared(self, token: str, variant: str, **overrides: Any) -> Reply:
        event = load_event("apigw_get_shared_content", path={"token": token, "variant": variant}, **overrides)
        return self.call("get_shared_content", event)


class Output:
    """What the handlers printed, as JSON lines: Powertools logs (its handler's stream, bound at
    import) and EMF metric blobs (printed to stdout)."""

    def __init__(self, logs: io.StringIO, stdout: Callable[[], str]) -> None:
        self._logs = logs
        self._stdout = stdout

    def lines(self) -> list[dict[str, Any]]:
        text = self._logs.getvalue() + self._stdout()
        self._logs.seek(0)
        self._logs.truncate()
        found = []
        for line in text.splitlines():
            try:
                found.append(json.loads(line))
            except json.JSONDecodeError:
                continue
        return found


@dataclass
class Cloud:
    s3: Any
    uploads: str
    media: str

    def keys_in(self, bucket: str) -> list[str]:
        listing = self.s3.list_objects_v2(Bucket=bucket)
        return [item["Key"] for item in listing.get("Contents", [])]

    def make_ready(
        self,
        image_id: str,
        width: int = 2000,
        height: int = 1500,
        *,
        placeholder: str | None = None,
        taken_at: str | None = None,
    ) -> None:
        """What validation and thumbnails would do: the claim (PROCESSING), objects in the media
        bucket, then READY, through `records`."""
        self.s3.put_object(Bucket=self.uploads, Key=keys.incoming_key(image_id), Body=b"raw")
        records.claim_accepted(
            image_id,
            records.Accepted(
                stored_size=8,
                content_type="image/jpeg",
                format="JPEG",
                width=width,
                height=height,
                sha256="0" * 64,
                source_etag='"etag"',
            ),
        )
        self.s3.put_object(Bucket=self.media, Key=keys.original_key(image_id), Body=b"original")
        variants = [Variant(ORIGINAL, width, height, "image/jpeg", variant_key(image_id, ORIGINAL))]
        for size in THUMBNAIL_SIZES:
            if size > max(width, height):
                continue  # a thumbnail is never larger than the original
            scale = size / max(width, height)
            name = str(size)
            variant = Variant(
                name, round(width * scale), round(height * scale), "image/webp", variant_key(image_id, name)
            )
            self.s3.put_object(Bucket=self.media, Key=variant.key, Body=b"webp")
            variants.append(variant)
        records.mark_ready(image_id, variants, placeholder=placeholder, taken_at=taken_at)
