"""The local API gateway: serves the template's HttpApi routes the way API Gateway does.

Each request is matched against the routes read from template.yaml, checked by the route's JWT
authorizer, turned into a payload 2.0 event and handed to the route's function in its own
process; the function's result becomes the response. CORS preflights are answered here, as API
Gateway answers them for an HTTP API with a CorsConfiguration. A few local-only endpoints live
under /_local (tokens, JWKS); the web page and the API docs are served when they exist.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from infra.local import apigw
from infra.local.processes import Sink
from infra.local.runtime import InvocationError
from infra.local.tokens import DEFAULT_LIFETIME_SECONDS, LocalIssuer, TokenRejected, bearer_token, verify
from infra.local.topology import Topology

# API Gateway's payload limit for HTTP APIs.
MAX_BODY_BYTES = 10 * 1024 * 1024
MAX_TOKEN_LIFETIME_SECONDS = 30 * 24 * 3600

_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
_FRAMING_HEADERS = frozenset({"content-length", "transfer-encoding", "connection"})

Invoke = Callable[[str, Any], Any]


class Gateway:
    def __init__(
        self,
        topology: Topology,
        invoke: Invoke,
        issuer: LocalIssuer,
        *,
        sink: Sink,
        static_dir: Path | None = None,
        openapi: Callable[[], dict[str, Any]] | None = None,
    ) -> None:
        self.topology = topology
        self._invoke = invoke
        self.issuer = issuer
        self._sink = sink
        self._static_dir = static_dir.resolve() if static_dir and static_dir.is_dir() else None
        self._openapi = openapi

    def app(self) -> Starlette:
        issuer_path = "/" + self.issuer.issuer.split("://", 1)[-1].split("/", 1)[-1]
        routes = [
            Route("/_local/token", self._token, methods=["POST"]),
            Route("/_local/jwks.json", self._jwks, methods=["GET"]),
            Route(f"{issuer_path}/.well-known/jwks.json", self._jwks, methods=["GET"]),
            Route(f"{issuer_path}/.well-known/openid-configuration", self._discovery, methods=["GET"]),
        ]
        if self._static_dir is not None:
            routes.append(Route("/config.json", self._web_config, methods=["GET"]))
        if self._openapi is not None:
            routes += [
                Route("/openapi.json", self._openapi_json, methods=["GET"]),
                Route("/docs", self._docs, methods=["GET"]),
            ]
        routes.append(Route("/{path:path}", self._dispatch, methods=_METHODS))
        return Starlette(routes=routes)

    # -------------------------------------------------------------- local-only endpoints

    async def _token(self, request: Request) -> Response:
        try:
            body = await request.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            return JSONResponse({"message": "body must be a JSON object"}, status_code=400)
        sub = body.get("sub")
        expires_in = body.get("expires_in", None)
        if not isinstance(sub, str) or not sub.strip() or len(sub) > 256:
            return JSONResponse({"message": "sub: a non-empty string is required"}, status_code=400)
        if expires_in is not None and (
            not isinstance(expires_in, int) or not 1 <= expires_in <= MAX_TOKEN_LIFETIME_SECONDS
        ):
            return JSONResponse(
                {"message": f"expires_in: seconds, 1 to {MAX_TOKEN_LIFETIME_SECONDS}"}, status_code=400
            )
        lifetime = expires_in if expires_in is not None else DEFAULT_LIFETIME_SECONDS
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
        assert self._openapi is not None
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

    # -------------------------------------------------------------- the API

    async def _dispatch(self, request: Request) -> Response:
        started = time.monotonic()
        response, function = await self._handle(request)
        elapsed = (time.monotonic() - started) * 1000
        self._sink.write(
            "gateway",
            f"{request.method} {request.url.path} {response.status_code} {elapsed:.0f}ms"
            + (f" ({function})" if function else ""),
        )
        return response

    async def _handle(self, request: Request) -> tuple[Response, str | None]:
        raw_path = (request.scope.get("raw_path") or request.url.path.encode()).decode("latin-1")
        method = request.method.upper()
        origin = request.headers.get("origin")
        if method == "OPTIONS" and "access-control-request-method" in request.headers:
            api = self.topology.api_for_path(raw_path)
            if api is not None and api.cors is not None:
                headers = apigw.cors_headers(
                    api.cors,
                    origin,
                    preflight=True,
                    request_method=request.headers.get("access-control-request-method"),
                    request_headers=request.headers.get("access-control-request-headers"),
                )
                return Response(status_code=204, headers=dict(headers)), None
        found = self.topology.find_route(method, raw_path)
        if found is None:
            static = self._static(method, request.url.path)
            return (static or _send(apigw.message(404, "Not Found"))), None
        route, raw_params = found
        api = self.topology.apis[route.api]
        context = apigw.Context(
            route_key=route.route_key,
            account_id=self.topology.template.pseudo.account_id,
            api_id=api.api_id,
            domain_name=request.headers.get("host", "127.0.0.1"),
            path_parameters={name: unquote(value) for name, value in raw_params.items()},
        )
        cors = apigw.cors_headers(api.cors, origin, preflight=False)
        gateway_headers = [*cors, ("apigw-requestid", context.request_id)]
        if route.authorizer is not None:
            try:
                token = bearer_token(request.headers.get(route.authorizer.header))
                verified = verify(
                    token,
                    self.issuer.jwks(),
                    issuer=route.authorizer.issuer,
                    audiences=route.authorizer.audiences,
                    required_scopes=route.scopes,
                )
            except TokenRejected as rejected:
                challenge = f'Bearer error="invalid_token", error_description="{rejected.reason}"'
                text = "Forbidden" if rejected.status == 403 else "Unauthorized"
                headers = [*gateway_headers, ("www-authenticate", challenge)]
                return _send(apigw.message(rejected.status, text, headers)), None
            context = replace(context, claims=verified.claims, scopes=verified.scopes)
        body = await request.body()
        if len(body) > MAX_BODY_BYTES:
            return _send(apigw.message(413, "Request Entity Too Large", gateway_headers)), None
        client = request.client.host if request.client else "127.0.0.1"
        incoming = apigw.Request(
            method=method,
            raw_path=raw_path,
            raw_query=request.scope.get("query_string", b"").decode("latin-1"),
            headers=[
                *[
                    (name.decode("latin-1"), value.decode("latin-1"))
                    for name, value in request.scope["headers"]
                ],
                ("x-forwarded-for", client),
                ("x-forwarded-proto", request.url.scheme),
                ("x-forwarded-port", str(request.url.port or 80)),
            ],
            body=body,
            source_ip=client,
            protocol=f"HTTP/{request.scope.get('http_version', '1.1')}",
        )
        event = apigw.build_event(incoming, context)
        try:
            result = await run_in_threadpool(self._invoke, route.function, event)
            mapped = apigw.map_result(result)
        except (InvocationError, apigw.MalformedResponse) as exc:
            self._sink.write("gateway", f"{route.function} failed: {exc}")
            return _send(apigw.message(500, "Internal Server Error", gateway_headers)), route.function
        own = apigw.without_cors(mapped.headers) if api.cors is not None else mapped.headers
        final = apigw.Response(mapped.status, [*own, *gateway_headers], mapped.body)
        return _send(final), route.function

    def _static(self, method: str, path: str) -> Response | None:
        """A file of the web page, when there is one at this path (GET/HEAD only)."""
        if self._static_dir is None or method not in ("GET", "HEAD"):
            return None
        candidate = (self._static_dir / path.lstrip("/")).resolve()
        if candidate.is_dir():
            candidate = candidate / "index.html"
        if not candidate.is_relative_to(self._static_dir) or not candidate.is_file():
            return None
        return FileResponse(candidate)


def _send(response: apigw.Response) -> Response:
    sent = Response(content=response.body, status_code=response.status)
    # The body's length is the gateway's to state, whatever the function said.
    kept = [(name, value) for name, value in response.headers if name not in _FRAMING_HEADERS]
    sent.raw_headers = [
        *[(name.encode("latin-1"), value.encode("latin-1")) for name, value in kept],
        (b"content-length", str(len(response.body)).encode()),
    ]
    return sent
