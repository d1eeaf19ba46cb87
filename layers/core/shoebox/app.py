"""The app factory: one FastAPI app per function, assembled from routers, answering the same way.

Every response carries `x-request-id` (API Gateway's request id when there is one) and every
error has the body of SPEC §3: {"error": {"code", "message", "details"}}.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from mangum import Mangum
from starlette.exceptions import HTTPException as StarletteHTTPException

from shoebox import startup
from shoebox.errors import BadRequest, ShoeboxError
from shoebox.observability import logger, metrics
from shoebox.startup import ClientFactory

REQUEST_ID_HEADER = "x-request-id"

_HTTP_CODES = {
    400: "VALIDATION_ERROR",  # FastAPI's own 400: a body it could not parse (e.g. not UTF-8)
    401: "UNAUTHORIZED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    409: "CONFLICT",
    413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
    422: "VALIDATION_ERROR",
    429: "TOO_MANY_REQUESTS",
}

LambdaHandler = Callable[[dict[str, Any], Any], dict[str, Any]]

_HOST = re.compile(r"[A-Za-z0-9.-]{1,253}(:[0-9]{1,5})?")
_STAGE = re.compile(r"[A-Za-z0-9_-]{1,128}")


def error_response(
    status: int, code: str, message: str, details: dict[str, Any] | None = None
) -> JSONResponse:
    body = {"error": {"code": code, "message": message, "details": details or {}}}
    return JSONResponse(body, status_code=status)


def _request_id(request: Request) -> str:
    event = request.scope.get("aws.event") or {}
    request_id = event.get("requestContext", {}).get("requestId")
    return request_id if isinstance(request_id, str) and request_id else uuid.uuid4().hex


def public_base_url(request: Request) -> str:
    """The API's base URL as the caller reached it, e.g. `https://abc123.execute-api.eu-west-1.amazonaws.com`
    (or a custom domain), locally `http://127.0.0.1:3000`: what links the API hands out start with.

    From the event API Gateway sent: `requestContext.domainName` (the Host header without it) and
    the scheme it forwarded. A stage other than `$default` is part of an execute-api URL's path.
    """
    event = request.scope.get("aws.event") or {}
    context = event.get("requestContext") or {}
    headers = {str(name).lower(): str(value) for name, value in (event.get("headers") or {}).items()}
    host = str(context.get("domainName") or headers.get("host") or "")
    if not _HOST.fullmatch(host):
        raise BadRequest("the request names no valid host", {"field": "host"})
    # The gateway appends its own value to any the client sent: the last one is the gateway's.
    scheme = headers.get("x-forwarded-proto", "https").rsplit(",", 1)[-1].strip().lower()
    base = f"{scheme if scheme in ('http', 'https') else 'https'}://{host}"
    stage = str(context.get("stage") or "$default")
    if stage != "$default" and _STAGE.fullmatch(stage) and host.endswith(".amazonaws.com"):
        base += f"/{stage}"
    return base


def utc_now() -> datetime:
    """The request's time: a dependency, so that tests can move the clock (dependency_overrides)."""
    return datetime.now(UTC)


BaseUrl = Annotated[str, Depends(public_base_url)]
Now = Annotated[datetime, Depends(utc_now)]


def _field(error: Any) -> str:
    # ("body", "size") -> "size"; ("query", "limit") -> "limit"; ("body",) -> "body".
    # Malformed JSON is located at ("body", <character offset>): the field is the body.
    location = tuple(error["loc"])
    if error.get("type") == "json_invalid":
        return "body"
    parts = [str(part) for part in location[1:]] or [str(location[0])]
    return ".".join(parts)


async def _on_shoebox_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ShoeboxError)
    response = error_response(exc.status, exc.code, exc.message, exc.details)
    response.headers.update(exc.headers)
    return response


async def _on_validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    problems = [{"field": _field(error), "message": error["msg"]} for error in exc.errors()]
    first = problems[0] if problems else {"field": "body", "message": "invalid request"}
    message = f"{first['field']}: {first['message']}"
    return error_response(400, "VALIDATION_ERROR", message, {"field": first["field"], "errors": problems})


async def _on_http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    code = _HTTP_CODES.get(exc.status_code, "HTTP_ERROR")
    response = error_response(exc.status_code, code, str(exc.detail))
    for name, value in (exc.headers or {}).items():
        response.headers[name] = value
    return response


def create_app(*routers: APIRouter, title: str = "Shoebox") -> FastAPI:
    app = FastAPI(title=title, version="1.0.0", docs_url=None, redoc_url=None, openapi_url=None)
    for router in routers:
        app.include_router(router)
    app.add_exception_handler(ShoeboxError, _on_shoebox_error)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(StarletteHTTPException, _on_http_error)

    @app.middleware("http")
    async def request_context(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        request_id = _request_id(request)
        logger.append_keys(request_id=request_id)
        try:
            response = await call_next(request)
        except Exception:
            # Nothing reaches the client but a stable body; the trace goes to the log.
            logger.exception("unhandled error")
            response = error_response(500, "INTERNAL_ERROR", "internal error")
        finally:
            logger.remove_keys(["request_id", "image_id"])
        response.headers[REQUEST_ID_HEADER] = request_id
        return response

    return app


def lambda_handler(app: FastAPI, *, clients: Iterable[ClientFactory]) -> LambdaHandler:
    """The Lambda entry point for an app: Mangum, with Powertools logging and metrics. Called at
    import, i.e. during the function's init: `clients` (what the function talks to) are created
    now in Lambda (shoebox.startup)."""
    startup.prepare(clients)
    adapter = Mangum(app, lifespan="off")
    startup.before_snapshot(rehearse, adapter)
    with_metrics: LambdaHandler = metrics.log_metrics(adapter)
    handler: LambdaHandler = logger.inject_lambda_context(with_metrics, clear_state=True)
    return handler


# A request no route serves: it touches no AWS service and logs nothing, but runs the whole path
# (Mangum, the middleware, routing, the error handlers, JSON) once.
_REHEARSAL = {
    "version": "2.0",
    "routeKey": "$default",
    "rawPath": "/",
    "rawQueryString": "",
    "headers": {"host": "localhost"},
    "requestContext": {
        "http": {"method": "GET", "path": "/", "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1"},
        "requestId": "before-snapshot",
        "domainName": "localhost",
        "stage": "$default",
    },
    "isBase64Encoded": False,
}


def rehearse(adapter: Mangum) -> int:
    """One request through the app before a SnapStart snapshot is taken, so that what the first
    request does once (FastAPI resolving its routes, anyio loading its asyncio backend: ~0.1 s)
    is in the snapshot rather than in the first restored request. Returns its status (404)."""
    response = adapter(_REHEARSAL, None)  # type: ignore[arg-type]  # no invocation: no context
    status: int = response["statusCode"]
    return status
