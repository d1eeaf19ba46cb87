"""API Gateway HTTP API mapping: request -> payload 2.0 event, Lambda result -> response.

Pure functions, so the mapping reads like the documentation it follows: headers lower-cased and
repeated ones joined with commas, cookies moved to `cookies`, repeated query parameters joined
with commas, non-text bodies base64-encoded, JWT claims flattened to strings as the authorizer
hands them over, and a result without `statusCode` taken as a JSON body with status 200.
"""

from __future__ import annotations

import base64
import contextlib
import json
import secrets
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote

from infra.local.topology import Cors

# Content types API Gateway passes as text; everything else arrives base64-encoded.
_TEXT_TYPES = ("text/", "application/json", "application/javascript", "application/xml")
_TEXT_SUFFIXES = ("+json", "+xml")


def is_text(content_type: str | None) -> bool:
    kind = (content_type or "").split(";", 1)[0].strip().lower()
    return kind.startswith(_TEXT_TYPES) or kind.endswith(_TEXT_SUFFIXES)


def new_request_id() -> str:
    # API Gateway's request ids look like "JKJaXmPLvHcESHA=".
    return base64.b64encode(secrets.token_bytes(10)).decode()


def _claim_text(value: Any) -> str:
    # The JWT authorizer hands claims over as strings; arrays become "[a b c]".
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + " ".join(_claim_text(item) for item in value) + "]"
    if isinstance(value, dict):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


@dataclass(frozen=True)
class Request:
    method: str
    raw_path: str  # as sent, percent-encoded
    raw_query: str
    headers: list[tuple[str, str]]
    body: bytes
    source_ip: str
    protocol: str = "HTTP/1.1"


@dataclass(frozen=True)
class Context:
    """What API Gateway adds about the route, the API and the caller."""

    route_key: str
    account_id: str
    api_id: str
    domain_name: str
    path_parameters: dict[str, str] = field(default_factory=dict)
    claims: dict[str, Any] | None = None
    scopes: list[str] | None = None
    request_id: str = field(default_factory=new_request_id)
    stage: str = "$default"


def build_event(request: Request, context: Context, now: float | None = None) -> dict[str, Any]:
    """The payload 2.0 event API Gateway would send to the route's function."""
    moment = time.time() if now is None else now
    headers: dict[str, str] = {}
    cookies: list[str] = []
    for name, value in request.headers:
        key = name.lower()
        if key == "cookie":
            cookies.extend(part.strip() for part in value.split(";") if part.strip())
            continue
        headers[key] = f"{headers[key]},{value}" if key in headers else value
    query: dict[str, str] = {}
    for name, value in parse_qsl(request.raw_query, keep_blank_values=True):
        query[name] = f"{query[name]},{value}" if name in query else value
    request_context: dict[str, Any] = {
        "accountId": context.account_id,
        "apiId": context.api_id,
        "domainName": context.domain_name,
        "domainPrefix": context.domain_name.split(".", 1)[0],
        "http": {
            "method": request.method,
            "path": unquote(request.raw_path),
            "protocol": request.protocol,
            "sourceIp": request.source_ip,
            "userAgent": headers.get("user-agent", ""),
        },
        "requestId": context.request_id,
        "routeKey": context.route_key,
        "stage": context.stage,
        "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(moment)),
        "timeEpoch": int(moment * 1000),
    }
    if context.claims is not None:
        request_context["authorizer"] = {
            "jwt": {
                "claims": {name: _claim_text(value) for name, value in context.claims.items()},
                "scopes": context.scopes,
            }
        }
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": context.route_key,
        "rawPath": request.raw_path,
        "rawQueryString": request.raw_query,
        "headers": headers,
        "requestContext": request_context,
        "isBase64Encoded": False,
    }
    if cookies:
        event["cookies"] = cookies
    if query:
        event["queryStringParameters"] = query
    if context.path_parameters:
        event["pathParameters"] = dict(context.path_parameters)
    if request.body:
        if is_text(headers.get("content-type")):
            with contextlib.suppress(UnicodeDecodeError):  # not UTF-8 after all: base64 below
                event["body"] = request.body.decode("utf-8")
        if "body" not in event:
            event["body"] = base64.b64encode(request.body).decode()
            event["isBase64Encoded"] = True
    return event


@dataclass(frozen=True)
class Response:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


class MalformedResponse(ValueError):
    """The function's result is not something API Gateway can turn into a response."""


def map_result(result: Any) -> Response:
    """The HTTP response API Gateway makes of a function's payload 2.0 result."""
    if not isinstance(result, dict) or "statusCode" not in result:
        # Without statusCode the whole result is the JSON body (API Gateway's inferred format).
        return Response(200, [("content-type", "application/json")], json.dumps(result).encode())
    try:
        status = int(result["statusCode"])
    except (TypeError, ValueError) as exc:
        raise MalformedResponse(f"statusCode {result['statusCode']!r}") from exc
    headers: list[tuple[str, str]] = []
    for name, value in (result.get("headers") or {}).items():
        headers.append((str(name).lower(), str(value)))
    for name, values in (result.get("multiValueHeaders") or {}).items():
        headers.extend((str(name).lower(), str(value)) for value in values)
    headers.extend(("set-cookie", str(cookie)) for cookie in result.get("cookies") or [])
    body = result.get("body")
    if body is None:
        payload = b""
    elif result.get("isBase64Encoded"):
        payload = base64.b64decode(str(body))
    else:
        payload = (body if isinstance(body, str) else json.dumps(body)).encode()
    return Response(status, headers, payload)


def message(status: int, text: str, headers: Iterable[tuple[str, str]] = ()) -> Response:
    """API Gateway's own error responses: {"message": "..."}."""
    body = json.dumps({"message": text}).encode()
    return Response(status, [("content-type", "application/json"), *headers], body)


def cors_headers(
    cors: Cors | None,
    origin: str | None,
    *,
    preflight: bool,
    request_method: str | None = None,
    request_headers: str | None = None,
) -> list[tuple[str, str]]:
    """The CORS headers API Gateway adds for an HTTP API's CorsConfiguration (it replaces any
    the function sets). Nothing when the origin is not allowed."""
    if cors is None or not origin:
        return []
    allowed = cors.allow_origins
    if "*" in allowed and not cors.allow_credentials:
        allow_origin = "*"
    elif origin in allowed or "*" in allowed:
        allow_origin = origin
    else:
        return []
    headers = [("access-control-allow-origin", allow_origin)]
    if cors.allow_credentials:
        headers.append(("access-control-allow-credentials", "true"))
    if not preflight:
        if cors.expose_headers:
            headers.append(("access-control-expose-headers", ",".join(cors.expose_headers)))
        return headers
    method = (request_method or "").upper()
    if "*" not in cors.allow_methods and method not in cors.allow_methods:
        return []
    wanted = [name.strip().lower() for name in (request_headers or "").split(",") if name.strip()]
    if "*" not in cors.allow_headers and not set(wanted) <= set(cors.allow_headers):
        return []
    headers.append(("access-control-allow-methods", ",".join(cors.allow_methods)))
    if cors.allow_headers:
        headers.append(("access-control-allow-headers", ",".join(cors.allow_headers)))
    if cors.max_age is not None:
        headers.append(("access-control-max-age", str(cors.max_age)))
    return headers


def without_cors(headers: Mapping[str, str] | Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    items = headers.items() if isinstance(headers, Mapping) else headers
    return [(name, value) for name, value in items if not name.lower().startswith("access-control-")]
