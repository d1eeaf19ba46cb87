"""The local CDN: the gateway's /cdn/ route does what the CloudFront distribution does in AWS.

What it serves comes from template.yaml: the distribution's origin bucket, the keys the bucket
policy lets the distribution read (Origin Access Control) and the headers of its response headers
policy. Each request must carry a canned-policy signature by a trusted key — the local key pair,
checked with shoebox.cdn.verify_url as CloudFront checks at the edge — or gets 403. The origin
answers as S3 answers the distribution: it may not list the bucket, so a missing object (or one
outside the policy's prefixes) is 403 too, indistinguishable from a bad signature.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from infra.local.template import Template, TemplateError, intrinsic
from shoebox.cdn import SignatureRefused, verify_url

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

PATH_PREFIX = "/cdn"
DISTRIBUTION_TYPE = "AWS::CloudFront::Distribution"
_CHUNK_BYTES = 64 * 1024
# S3's own headers that CloudFront passes on to viewers.
_ORIGIN_HEADERS = ("Content-Type", "Content-Length", "ETag", "Last-Modified")
_REFUSED_BODY = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n'
    b"<Error><Code>AccessDenied</Code><Message>Access denied</Message></Error>"
)


@dataclass(frozen=True)
class Distribution:
    """What the template's distribution serves, and how."""

    bucket: str
    prefixes: tuple[str, ...]  # the object keys the bucket policy lets the distribution read
    headers: tuple[tuple[str, str], ...]  # its response headers policy's


def read_distribution(template: Template) -> Distribution:
    """The template's one distribution, resolved to local names."""
    found = [
        logical_id for logical_id, item in template.resources.items() if item["Type"] == DISTRIBUTION_TYPE
    ]
    if len(found) != 1:
        raise TemplateError(f"the local CDN serves one {DISTRIBUTION_TYPE}; the template has {len(found)}")
    config = template.resource(found[0])["Properties"]["DistributionConfig"]
    behavior = config["DefaultCacheBehavior"]
    (origin,) = [item for item in config["Origins"] if item["Id"] == behavior["TargetOriginId"]]
    domain = intrinsic(origin["DomainName"])
    if domain is None or domain[0] != "Fn::GetAtt":
        raise TemplateError("the local CDN serves an origin that is a bucket of the template (GetAtt)")
    bucket_id = domain[1][0] if isinstance(domain[1], list) else str(domain[1]).split(".", 1)[0]
    bucket = template.name(bucket_id)
    policy = _reference(template, behavior["ResponseHeadersPolicyId"])
    return Distribution(
        bucket,
        _readable_prefixes(template, bucket_id, bucket),
        response_headers(template.resolve(policy["ResponseHeadersPolicyConfig"])),
    )


def _reference(template: Template, node: Any) -> dict[str, Any]:
    found = intrinsic(node)
    if found is None or found[0] != "Ref":
        raise TemplateError(f"the local CDN follows a Ref to a resource of the template, not {node!r}")
    properties: dict[str, Any] = template.resource(str(found[1]))["Properties"]
    return properties


def _readable_prefixes(template: Template, bucket_id: str, bucket: str) -> tuple[str, ...]:
    """The key prefixes (`originals/`) that the bucket's policy lets CloudFront GET."""
    prefixes: list[str] = []
    for item in template.resources.values():
        properties = item.get("Properties") or {}
        if item["Type"] != "AWS::S3::BucketPolicy" or properties.get("Bucket") != {"Ref": bucket_id}:
            continue
        for statement in template.resolve(properties["PolicyDocument"])["Statement"]:
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            if (
                statement["Effect"] == "Allow"
                and statement.get("Principal") == {"Service": "cloudfront.amazonaws.com"}
                and "s3:GetObject" in actions
            ):
                resources = statement["Resource"]
                for arn in resources if isinstance(resources, list) else [resources]:
                    prefixes.append(str(arn).removeprefix(f"arn:aws:s3:::{bucket}/").removesuffix("*"))
    return tuple(prefixes)


def response_headers(config: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    """A ResponseHeadersPolicyConfig's headers (the parts the template uses; any other raises)."""
    if unknown := set(config) - {"Name", "Comment", "SecurityHeadersConfig", "CustomHeadersConfig"}:
        raise TemplateError(f"response headers policy parts the local CDN does not apply: {sorted(unknown)}")
    security = dict(config.get("SecurityHeadersConfig") or {})
    headers: list[tuple[str, str]] = []
    if security.pop("ContentTypeOptions", None) is not None:
        headers.append(("X-Content-Type-Options", "nosniff"))
    if (csp := security.pop("ContentSecurityPolicy", None)) is not None:
        headers.append(("Content-Security-Policy", csp["ContentSecurityPolicy"]))
    if (frame := security.pop("FrameOptions", None)) is not None:
        headers.append(("X-Frame-Options", frame["FrameOption"]))
    if (referrer := security.pop("ReferrerPolicy", None)) is not None:
        headers.append(("Referrer-Policy", referrer["ReferrerPolicy"]))
    if (hsts := security.pop("StrictTransportSecurity", None)) is not None:
        value = f"max-age={hsts['AccessControlMaxAgeSec']}"
        value += "; includeSubDomains" if str(hsts.get("IncludeSubdomains")).lower() == "true" else ""
        value += "; preload" if str(hsts.get("Preload")).lower() == "true" else ""
        headers.append(("Strict-Transport-Security", value))
    if security:
        raise TemplateError(f"security headers the local CDN does not apply: {sorted(security)}")
    items = (config.get("CustomHeadersConfig") or {}).get("Items") or []
    headers += [(str(item["Header"]), str(item["Value"])) for item in items]
    return tuple(headers)


def requested_url(request: Request) -> str:
    """The URL as the viewer asked for it (scheme, host, raw path and query): what a canned
    policy's Resource is compared with."""
    raw_path = (request.scope.get("raw_path") or request.url.path.encode()).decode("latin-1")
    query = request.scope.get("query_string", b"").decode("latin-1")
    host = request.headers.get("host", "127.0.0.1")
    return f"{request.url.scheme}://{host}{raw_path}" + (f"?{query}" if query else "")


class LocalCdn:
    """The /cdn/{key:path} endpoint: signature check, then the object from the origin bucket."""

    def __init__(
        self,
        distribution: Distribution,
        s3: Any,
        public_keys: Mapping[str, RSAPublicKey],
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.distribution = distribution
        self._s3 = s3
        self._public_keys = dict(public_keys)
        self._clock = clock
        # Refusals carry the security headers but are not cached: the same URL may be good later
        # (a thumbnail not made yet).
        self._refusal_headers = {
            **{name: value for name, value in distribution.headers if name.lower() != "cache-control"},
            "Content-Type": "text/xml",
            "Cache-Control": "no-store",
        }

    async def serve(self, request: Request) -> tuple[Response, str]:
        """The response, and why (for the gateway's log line)."""
        try:
            verify_url(requested_url(request), public_keys=self._public_keys, now=self._clock())
        except SignatureRefused as refused:
            return self._refused(), refused.reason
        key: str = request.path_params["key"]
        if not key.startswith(self.distribution.prefixes):
            return self._refused(), "the bucket policy does not let the CDN read this key"
        method = request.method.upper()
        etag = request.headers.get("if-none-match")
        asked = {"IfNoneMatch": etag} if etag else {}
        read = self._s3.head_object if method == "HEAD" else self._s3.get_object
        try:
            found = await run_in_threadpool(read, Bucket=self.distribution.bucket, Key=key, **asked)
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code == "304":
                headers = self._headers(exc.response, ("ETag", "Last-Modified"))
                return Response(status_code=304, headers=headers), "not modified"
            if code in ("404", "NoSuchKey"):
                return self._refused(), "no such object"  # S3 says 403 to a reader that cannot list
            raise
        headers = self._headers(found)
        if method == "HEAD":
            return Response(status_code=200, headers=headers), "ok"
        return StreamingResponse(found["Body"].iter_chunks(_CHUNK_BYTES), headers=headers), "ok"

    def _headers(self, answer: Mapping[str, Any], kept: tuple[str, ...] = _ORIGIN_HEADERS) -> dict[str, str]:
        """The origin's headers with the response headers policy's over them (all Override)."""
        given = answer.get("ResponseMetadata", {}).get("HTTPHeaders", {})
        headers = {name: given[name.lower()] for name in kept if name.lower() in given}
        return {**headers, **dict(self.distribution.headers)}

    def _refused(self) -> Response:
        return Response(_REFUSED_BODY, status_code=403, headers=self._refusal_headers)
