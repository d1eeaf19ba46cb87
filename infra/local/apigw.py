"""API Gateway HTTP API mapping: request -> payload 2.0 event, Lambda result -> response.

Pure functions, so the mapping reads like the documentation it follows: headers lower-cased and
repeated ones joined with commas, cookies moved to `cookies`, repeated query parameters joined
with commas, non-text bodies base64-encoded, JWT claims flattened to strings as the authorizer
hands them over, and a result without `statusCode` taken as a JSON body with status 200.
"""

from __future__ import annotations

import base64
import json
import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote

from infra.local.template import ACCOUNT_ID
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
    api_id: str
    domain_name: str
    path_parameters: dict[str, str] = field(default_factory=dict)
    claims: dict[str, Any] | None = None
    scopes: list[str] | None = None
    request_id: str = field(default_factory=new_request_id)


def build_event(request: Request, context: Context, now: float | None = None) -> dict[str, Any]:
    """The payload 2.0 event API Gateway would send to the route's function."""
    headers: dict[str, str] = {}
    cookies: list[str] = []
    for name, value in request.headers:
        key = name.lower()
        if key == "cookie":
            cookies.extend(part.strip() for part in value.split(";") if part.strip())
        else:
            headers[key] = f"{headers[key]},{value}" if key in headers else value
    query: dict[str, str] = {}
    for name, value in parse_qsl(request.raw_query, keep_blank_values=True):
        query[name] = f"{query[name]},{value}" if name in query else value
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": context.route_key,
        "rawPath": request.raw_path,
        "rawQueryString": request.raw_query,
        "headers": headers,
        "requestContext": _request_context(request, context, headers.get("user-agent", ""), now),
        "isBase64Encoded": False,
    }
    if cookies:
        event["cookies"] = cookies
    if query:
        event["queryStringParameters"] = query
    if context.path_parameters:
        event["pathParameters"] = dict(context.path_parameters)
    if request.body:
        text = _text(request.body) if is_text(headers.get("content-type")) else None
        event["body"] = text if text is not None else base64.b64encode(request.body).decode()
        event["isBase64Encoded"] = text is None
    return event


def _text(body: bytes) -> str | None:
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:  # not UTF-8 after all: sent base64-encoded
        return None


def _request_context(
    request: Request, context: Context, user_agent: str, now: float | None
) -> dict[str, Any]:
    moment = time.time() if now is None else now
    found: dict[str, Any] = {
        "accountId": ACCOUNT_ID,
        "apiId": context.api_id,
        "domainName": context.domain_name,
        "domainPrefix": context.domain_name.split(".", 1)[0],
        "http": {
            "method": request.method,
            "path": unquote(request.raw_path),
            "protocol": request.protocol,
            "sourceIp": request.source_ip,
            "userAgent": user_agent,
        },
        "requestId": context.request_id,
        "routeKey": context.route_key,
        "stage": "$default",
        "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(moment)),
        "timeEpoch": int(moment * 1000),
    }
    if context.claims is not None:
        claims = {name: _claim_text(value) for name, value in context.claims.items()}
        found["authorizer"] = {"jwt": {"claims": claims, "scopes": context.scopes}}
    return found


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
    the function sets). Nothing when the origin is not allowed (the template lists origins)."""
    if cors is None or origin is None or origin not in cors.allow_origins:
        return []
    headers = [("access-control-allow-origin", origin)]
    if not preflight:
        if cors.expose_headers:
            headers.append(("access-control-expose-headers", ",".join(cors.expose_headers)))
        return headers
    wanted = {name.strip().lower() for name in (request_headers or "").split(",") if name.strip()}
    if (request_method or "").upper() not in cors.allow_methods or not wanted <= set(cors.allow_headers):
        return []
    headers.append(("access-control-allow-methods", ",".join(cors.allow_methods)))
    if cors.allow_headers:
        headers.append(("access-control-allow-headers", ",".join(cors.allow_headers)))
    if cors.max_age is not None:
        headers.append(("access-control-max-age", str(cors.max_age)))
    return headers


def without_cors(headers: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    return [(name, value) for name, value in headers if not name.lower().startswith("access-control-")]
