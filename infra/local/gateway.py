"""The local API gateway: serves the template's HttpApi routes the way API Gateway does.

Each request is matched against the routes read from template.yaml, checked by the route's JWT
authorizer, turned into a payload 2.0 event and handed to the route's function in its own
process; the function's result becomes the response. CORS preflights are answered here, as API
Gateway answers them for an HTTP API with a CorsConfiguration. A few local-only endpoints live
under /_local (tokens, JWKS); the web page and the API docs are served beside the API, and the
local CDN (the CloudFront distribution's stand-in) under /cdn/.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from infra.local import apigw
from infra.local.cdn import PATH_PREFIX, LocalCdn
from infra.local.processes import Sink
from infra.local.runtime import InvocationError
from infra.local.tokens import DEFAULT_LIFETIME_SECONDS, LocalIssuer, TokenRejected, bearer_token, verify
from infra.local.topology import Cors, Topology, label

# API Gateway's payload limit for HTTP APIs.
MAX_BODY_BYTES = 10 * 1024 * 1024
MAX_TOKEN_LIFETIME_SECONDS = 30 * 24 * 3600

_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
_FRAMING_HEADERS = frozenset({"content-length", "transfer-encoding", "connection"})

Invoke = Callable[[str, Any], Any]


def listening_socket(port: int) -> socket.socket:
    """The gateway's socket on 127.0.0.1:port (0: a free port), bound before the server runs.
    Made with IPPROTO_TCP: asyncio sets TCP_NODELAY on the connections it accepts only when the
    listening socket says TCP, and without it every keep-alive response waited ~40 ms (Nagle's
    algorithm against the client's delayed ACK)."""
    listening = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    listening.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listening.bind(("127.0.0.1", port))
    except OSError:
        listening.close()
        raise
    return listening


class Gateway:
    def __init__(
        self,
        topology: Topology,
        invoke: Invoke,
        issuer: LocalIssuer,
        *,
        sink: Sink,
        static_dir: Path,
        openapi: Callable[[], dict[str, Any]],
        cdn: LocalCdn,
    ) -> None:
        self.topology = topology
        self._invoke = invoke
        self.issuer = issuer
        self._sink = sink
        self._static_dir = static_dir.resolve()
        self._openapi = openapi
        self._cdn = cdn

    def app(self) -> Starlette:
        issuer_path = urlsplit(self.issuer.issuer).path
        return Starlette(
            routes=[
                Route("/_local/token", self._token, methods=["POST"]),
                Route("/_local/jwks.json", self._jwks),
                Route(f"{issuer_path}/.well-known/jwks.json", self._jwks),
                Route(f"{issuer_path}/.well-known/openid-configuration", self._discovery),
                Route("/config.json", self._web_config),
                Route("/openapi.json", self._openapi_json),
                Route("/docs", self._docs),
                Route(f"{PATH_PREFIX}/{{key:path}}", self._serve_cdn, methods=["GET", "HEAD"]),
                Route("/{path:path}", self._dispatch, methods=_METHODS),
            ]
        )

    # -------------------------------------------------------------- local-only endpoints

    async def _token(self, request: Request) -> Response:
        try:
            body = await request.json()
        except ValueError:
            body = None
        given = body if isinstance(body, dict) else {}
        sub, lifetime = given.get("sub"), given.get("expires_in", DEFAULT_LIFETIME_SECONDS)
        if not isinstance(sub, str) or not sub.strip() or len(sub) > 256:
            return JSONResponse({"message": "a JSON object whose sub is a non-empty string"}, status_code=400)
        if not isinstance(lifetime, int) or not 1 <= lifetime <= MAX_TOKEN_LIFETIME_SECONDS:
            message = f"expires_in: seconds, 1 to {MAX_TOKEN_LIFETIME_SECONDS}"
            return JSONResponse({"message": message}, status_code=400)
        token = self.issuer.mint(sub, expires_in=lifetime)
        return JSONResponse({"token": token, "token_type": "Bearer", "expires_in": lifetime})

    async def _jwks(self, request: Request) -> Response:
        return JSONResponse(self.issuer.jwks())

    async def _discovery(self, request: Request) -> Response:
        return JSONResponse(self.issuer.discovery())

    async def _web_config(self, request: Request) -> Response:
        # The web page's settings (a static config.json when deployed): this gateway is its API,
        # at whichever host name the browser used, so the page's calls stay same-origin.
        settings = {"apiUrl": str(request.base_url).rstrip("/"), "auth": {"mode": "local"}}
        return JSONResponse(settings, headers={"cache-control": "no-store"})

    async def _openapi_json(self, request: Request) -> Response:
        try:
            document = await run_in_threadpool(self._openapi)
        except Exception as exc:  # a broken document must not take the gateway down
            self._sink.write("gateway", f"building the OpenAPI document failed: {exc}")
            return JSONResponse({"message": "the OpenAPI document could not be built"}, status_code=500)
        return JSONResponse(document)

    async def _docs(self, request: Request) -> Response:
        from fastapi.openapi.docs import get_swagger_ui_html

        page = get_swagger_ui_html(openapi_url="/openapi.json", title="Shoebox API")
        return HTMLResponse(bytes(page.body).decode())

    async def _serve_cdn(self, request: Request) -> Response:
        started = time.monotonic()
        response, why = await self._cdn.serve(request)
        self._log(request, response, started, f"cdn: {why}")
        return response

    # -------------------------------------------------------------- the API

    async def _dispatch(self, request: Request) -> Response:
        started = time.monotonic()
        response, function = await self._handle(request)
        self._log(request, response, started, label(function) if function else None)
        return response

    def _log(self, request: Request, response: Response, started: float, served: str | None) -> None:
        elapsed = (time.monotonic() - started) * 1000
        line = f"{request.method} {request.url.path} {response.status_code} {elapsed:.0f}ms"
        self._sink.write("gateway", line + (f" ({served})" if served else ""))

    async def _handle(self, request: Request) -> tuple[Response, str | None]:
        """The response, and the function that made it (None when the gateway answered itself)."""
        raw_path = (request.scope.get("raw_path") or request.url.path.encode()).decode("latin-1")
        method = request.method.upper()
        cors = self.topology.api.cors
        if method == "OPTIONS" and "access-control-request-method" in request.headers and cors is not None:
            return self._preflight(request, cors), None
        found = self.topology.find_route(method, raw_path)
        if found is None:
            return (self._static(method, request.url.path) or _send(apigw.message(404, "Not Found"))), None
        route, raw_params = found
        context = apigw.Context(
            route_key=route.route_key,
            api_id=self.topology.api.api_id,
            domain_name=request.headers.get("host", "127.0.0.1"),
            path_parameters={name: unquote(value) for name, value in raw_params.items()},
        )
        added = [*apigw.cors_headers(cors, request.headers.get("origin"), preflight=False)]
        added.append(("apigw-requestid", context.request_id))
        if route.authorizer is not None:
            authorizer = route.authorizer
            try:
                token = bearer_token(request.headers.get(authorizer.header))
                verified = verify(
                    token, self.issuer.jwks(), issuer=authorizer.issuer, audiences=authorizer.audiences
                )
            except TokenRejected as rejected:
                challenge = f'Bearer error="invalid_token", error_description="{rejected.reason}"'
                return _send(
                    apigw.message(401, "Unauthorized", [*added, ("www-authenticate", challenge)])
                ), None
            context = replace(context, claims=verified.claims, scopes=verified.scopes)
        body = await request.body()
        if len(body) > MAX_BODY_BYTES:
            return _send(apigw.message(413, "Request Entity Too Large", added)), None
        event = apigw.build_event(_incoming(request, method, raw_path, body), context)
        return await self._call(route.function, event, cors is not None, added), route.function

    def _preflight(self, request: Request, cors: Cors) -> Response:
        headers = apigw.cors_headers(
            cors,
            request.headers.get("origin"),
            preflight=True,
            request_method=request.headers.get("access-control-request-method"),
            request_headers=request.headers.get("access-control-request-headers"),
        )
        return Response(status_code=204, headers=dict(headers))

    async def _call(
        self, function: str, event: dict[str, Any], has_cors: bool, added: list[tuple[str, str]]
    ) -> Response:
        """The function's result as API Gateway's response, with the gateway's headers added."""
        try:
            result = await run_in_threadpool(self._invoke, function, event)
            mapped = apigw.map_result(result)
        except (InvocationError, apigw.MalformedResponse) as exc:
            self._sink.write("gateway", f"{label(function)} failed: {exc}")
            return _send(apigw.message(500, "Internal Server Error", added))
        own = apigw.without_cors(mapped.headers) if has_cors else mapped.headers
        return _send(apigw.Response(mapped.status, [*own, *added], mapped.body))

    def _static(self, method: str, path: str) -> Response | None:
        """A file of the web page, when there is one at this path (GET/HEAD only)."""
        if method not in ("GET", "HEAD"):
            return None
        candidate = (self._static_dir / path.lstrip("/")).resolve()
        if candidate.is_dir():
            candidate = candidate / "index.html"
        if not candidate.is_relative_to(self._static_dir) or not candidate.is_file():
            return None
        return FileResponse(candidate)


def _incoming(request: Request, method: str, raw_path: str, body: bytes) -> apigw.Request:
    client = request.client.host if request.client else "127.0.0.1"
    headers = [(name.decode("latin-1"), value.decode("latin-1")) for name, value in request.scope["headers"]]
    return apigw.Request(
        method=method,
        raw_path=raw_path,
        raw_query=request.scope.get("query_string", b"").decode("latin-1"),
        headers=[
            *headers,
            ("x-forwarded-for", client),
            ("x-forwarded-proto", request.url.scheme),
            ("x-forwarded-port", str(request.url.port or 80)),
        ],
        body=body,
        source_ip=client,
        protocol=f"HTTP/{request.scope.get('http_version', '1.1')}",
    )


def _send(response: apigw.Response) -> Response:
    sent = Response(content=response.body, status_code=response.status)
    # The body's length is the gateway's to state, whatever the function said.
    kept = [(name, value) for name, value in response.headers if name not in _FRAMING_HEADERS]
    sent.raw_headers = [
        *[(name.encode("latin-1"), value.encode("latin-1")) for name, value in kept],
        (b"content-length", str(len(response.body)).encode()),
    ]
    return sent
