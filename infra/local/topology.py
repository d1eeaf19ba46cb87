"""What the local stack runs, read from the resolved template: functions, routes, queue sources.

Everything here comes from template.yaml (SAM resources, their Events and Globals); nothing about
the topology is written a second time in Python.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from infra.local.template import Template, TemplateError, merge_globals

FUNCTION_TYPES = ("AWS::Serverless::Function",)
HTTP_API_TYPE = "AWS::Serverless::HttpApi"
# SAM puts HttpApi events without an ApiId on this implicit API.
IMPLICIT_API = "ServerlessHttpApi"
LAMBDA_DEFAULT_TIMEOUT = 3
LAMBDA_DEFAULT_MEMORY = 128


@dataclass(frozen=True)
class FunctionSpec:
    logical_id: str
    name: str
    arn: str
    handler: str
    code_dir: Path
    layer_dirs: tuple[Path, ...]
    timeout: int
    memory_size: int
    runtime: str
    environment: dict[str, str]
    log_group: str
    logging: dict[str, str]  # LoggingConfig's runtime variables (AWS_LAMBDA_LOG_FORMAT, ...)


@dataclass(frozen=True)
class Cors:
    allow_origins: tuple[str, ...] = ()
    allow_methods: tuple[str, ...] = ()
    allow_headers: tuple[str, ...] = ()
    expose_headers: tuple[str, ...] = ()
    max_age: int | None = None
    allow_credentials: bool = False


@dataclass(frozen=True)
class JwtAuthorizer:
    name: str
    issuer: str
    audiences: tuple[str, ...]
    header: str  # lower-case header name the token is read from


@dataclass(frozen=True)
class Api:
    logical_id: str
    api_id: str
    cors: Cors | None
    default_authorizer: str | None
    authorizers: dict[str, JwtAuthorizer]


@dataclass(frozen=True)
class Route:
    method: str  # upper case, or "ANY"
    path: str  # "/v1/images/{id}", or "$default"
    function: str  # logical id
    api: str  # logical id
    authorizer: JwtAuthorizer | None
    scopes: tuple[str, ...]
    pattern: re.Pattern[str] = field(compare=False)

    @property
    def route_key(self) -> str:
        return "$default" if self.path == "$default" else f"{self.method} {self.path}"

    def match(self, method: str, path: str) -> dict[str, str] | None:
        """Path parameters when this route serves (method, path), else None."""
        if self.method not in ("ANY", method):
            return None
        found = self.pattern.fullmatch(path)
        return None if found is None else found.groupdict()


@dataclass(frozen=True)
class QueueSource:
    function: str  # logical id
    queue_arn: str
    queue_url: str
    batch_size: int
    batching_window: float
    report_batch_item_failures: bool


def _route_pattern(path: str) -> re.Pattern[str]:
    """API Gateway path templates: {name} is one segment, {name+} the rest of the path."""
    if path == "$default":
        return re.compile(r"/.*")
    pattern = ""
    for part in re.split(r"(\{[^}]+\})", path):
        if part.startswith("{") and part.endswith("}"):
            name = part[1:-1]
            if name.endswith("+"):
                pattern += f"(?P<{name[:-1]}>.+)"
            else:
                pattern += f"(?P<{name}>[^/]+)"
        else:
            pattern += re.escape(part)
    return re.compile(pattern)


def _specificity(route: Route) -> tuple[int, int, int, int]:
    # API Gateway prefers the most specific route: literal paths before {param}, {param}
    # before {proxy+}, a method before ANY, and $default last.
    if route.path == "$default":
        return (3, 0, 0, 0)
    greedy = int("+}" in route.path)
    params = route.path.count("{")
    return (greedy, params, -len(route.path), int(route.method == "ANY"))


class Topology:
    """The functions, APIs, routes and queue event sources of a template."""

    def __init__(self, template: Template, repo_root: Path) -> None:
        self.template = template
        self.repo_root = repo_root
        globals_: dict[str, Any] = template.document.get("Globals") or {}
        self._function_globals: dict[str, Any] = globals_.get("Function") or {}
        self._api_globals: dict[str, Any] = globals_.get("HttpApi") or {}
        self.functions = {
            logical_id: self._function(logical_id, resource)
            for logical_id, resource in template.resources.items()
            if resource["Type"] in FUNCTION_TYPES
        }
        self.apis: dict[str, Api] = {}
        self.routes: list[Route] = []
        self.queue_sources: list[QueueSource] = []
        for logical_id, resource in template.resources.items():
            if resource["Type"] in FUNCTION_TYPES:
                self._events(logical_id, resource)
        self.routes.sort(key=_specificity)

    def function_properties(self, logical_id: str) -> dict[str, Any]:
        """A function's properties with SAM's Globals merged in (still unresolved)."""
        own = self.template.resource(logical_id).get("Properties") or {}
        merged: dict[str, Any] = merge_globals(self._function_globals, own)
        return merged

    # -------------------------------------------------------------- functions

    def _function(self, logical_id: str, resource: dict[str, Any]) -> FunctionSpec:
        properties = self.function_properties(logical_id)
        resolve = self.template.resolve
        variables = resolve((properties.get("Environment") or {}).get("Variables") or {})
        if "InlineCode" in properties or "ImageUri" in properties:
            raise TemplateError(f"{logical_id}: only CodeUri functions run locally")
        name = self.template.name(logical_id)
        logging_config = resolve(properties.get("LoggingConfig") or {})
        logging = {
            variable: str(logging_config[key])
            for key, variable in (
                ("LogFormat", "AWS_LAMBDA_LOG_FORMAT"),
                ("ApplicationLogLevel", "AWS_LAMBDA_LOG_LEVEL"),
            )
            if key in logging_config
        }
        return FunctionSpec(
            logical_id=logical_id,
            name=name,
            arn=self.template.get_att(logical_id, "Arn"),
            handler=str(resolve(properties["Handler"])),
            code_dir=self.repo_root / str(resolve(properties["CodeUri"])),
            layer_dirs=tuple(self._layer_dir(layer) for layer in properties.get("Layers") or []),
            timeout=int(resolve(properties.get("Timeout", LAMBDA_DEFAULT_TIMEOUT))),
            memory_size=int(resolve(properties.get("MemorySize", LAMBDA_DEFAULT_MEMORY))),
            runtime=str(resolve(properties.get("Runtime", ""))),
            environment={key: _env_text(value) for key, value in variables.items()},
            log_group=str(logging_config.get("LogGroup", f"/aws/lambda/{name}")),
            logging=logging,
        )

    def _layer_dir(self, layer: Any) -> Path:
        # Locally a layer is its source folder on PYTHONPATH (Lambda unpacks it into /opt).
        if isinstance(layer, dict) and set(layer) == {"Ref"}:
            resource = self.template.resource(layer["Ref"])
            content = (resource.get("Properties") or {}).get("ContentUri")
            if isinstance(content, str):
                return self.repo_root / content
        raise TemplateError(f"layer {layer!r}: only layers of this template with a local ContentUri")

    # -------------------------------------------------------------- events

    def _events(self, function: str, resource: dict[str, Any]) -> None:
        events: dict[str, Any] = (resource.get("Properties") or {}).get("Events") or {}
        for event_name, event in events.items():
            properties = event.get("Properties") or {}
            if event["Type"] == "HttpApi":
                self.routes.append(self._route(function, event_name, properties))
            elif event["Type"] == "SQS" and self.template.resolve(properties.get("Enabled", True)):
                self.queue_sources.append(self._queue_source(function, properties))

    def _api(self, logical_id: str) -> Api:
        if logical_id not in self.apis:
            if logical_id == IMPLICIT_API:
                own: dict[str, Any] = {}
            else:
                resource = self.template.resource(logical_id)
                if resource["Type"] != HTTP_API_TYPE:
                    raise TemplateError(f"{logical_id} is not an {HTTP_API_TYPE}")
                own = resource.get("Properties") or {}
            properties = merge_globals(self._api_globals, own)
            auth = properties.get("Auth") or {}
            self.apis[logical_id] = Api(
                logical_id=logical_id,
                api_id=self.template.name(logical_id) if logical_id != IMPLICIT_API else IMPLICIT_API,
                cors=self._cors(properties.get("CorsConfiguration")),
                default_authorizer=auth.get("DefaultAuthorizer"),
                authorizers={
                    name: self._authorizer(name, config)
                    for name, config in (auth.get("Authorizers") or {}).items()
                },
            )
        return self.apis[logical_id]

    def _authorizer(self, name: str, config: dict[str, Any]) -> JwtAuthorizer:
        if "JwtConfiguration" not in config:
            raise TemplateError(f"authorizer {name}: only JWT authorizers run locally")
        jwt = self.template.resolve(config["JwtConfiguration"])
        source = str(config.get("IdentitySource", "$request.header.Authorization"))
        prefix = "$request.header."
        if not source.startswith(prefix):
            raise TemplateError(f"authorizer {name}: identity source {source} is not a header")
        audiences = jwt.get("audience") or []
        return JwtAuthorizer(
            name=name,
            issuer=str(jwt["issuer"]),
            audiences=tuple(str(item) for item in ([audiences] if isinstance(audiences, str) else audiences)),
            header=source[len(prefix) :].lower(),
        )

    def _cors(self, config: Any) -> Cors | None:
        config = self.template.resolve(config)
        if config is None or config is False:
            return None
        if config is True:  # SAM: CorsConfiguration: true allows every origin
            return Cors(allow_origins=("*",), allow_methods=("*",), allow_headers=("*",))

        def strings(key: str) -> tuple[str, ...]:
            value = config.get(key) or []
            return tuple(str(item) for item in ([value] if isinstance(value, str) else value))

        return Cors(
            allow_origins=strings("AllowOrigins"),
            allow_methods=tuple(method.upper() for method in strings("AllowMethods")),
            allow_headers=tuple(header.lower() for header in strings("AllowHeaders")),
            expose_headers=tuple(header.lower() for header in strings("ExposeHeaders")),
            max_age=int(config["MaxAge"]) if "MaxAge" in config else None,
            allow_credentials=bool(config.get("AllowCredentials", False)),
        )

    def _route(self, function: str, event_name: str, properties: dict[str, Any]) -> Route:
        version = str(properties.get("PayloadFormatVersion", "2.0"))
        if version != "2.0":
            raise TemplateError(f"{function}.{event_name}: payload format {version} is not supported")
        api_ref = properties.get("ApiId")
        api_logical_id = api_ref["Ref"] if isinstance(api_ref, dict) else IMPLICIT_API
        api = self._api(api_logical_id)
        path = str(properties.get("Path", "$default"))
        method = str(properties.get("Method", "ANY")).upper()
        method = "ANY" if method in ("ANY", "X-AMAZON-APIGATEWAY-ANY-METHOD") else method
        auth = properties.get("Auth") or {}
        authorizer_name = auth.get("Authorizer", api.default_authorizer)
        authorizer = None
        if authorizer_name not in (None, "NONE"):
            if authorizer_name not in api.authorizers:
                raise TemplateError(f"{function}.{event_name}: unknown authorizer {authorizer_name}")
            authorizer = api.authorizers[authorizer_name]
        scopes = tuple(str(scope) for scope in self.template.resolve(auth.get("AuthorizationScopes") or []))
        return Route(method, path, function, api_logical_id, authorizer, scopes, _route_pattern(path))

    def _queue_source(self, function: str, properties: dict[str, Any]) -> QueueSource:
        queue_arn = str(self.template.resolve(properties["Queue"]))
        queue_name = queue_arn.rsplit(":", 1)[-1]
        response_types = self.template.resolve(properties.get("FunctionResponseTypes") or [])
        return QueueSource(
            function=function,
            queue_arn=queue_arn,
            queue_url=self.template.queue_url(queue_name),
            batch_size=int(self.template.resolve(properties.get("BatchSize", 10))),
            batching_window=float(self.template.resolve(properties.get("MaximumBatchingWindowInSeconds", 0))),
            report_batch_item_failures="ReportBatchItemFailures" in response_types,
        )

    # -------------------------------------------------------------- lookups

    def find_route(self, method: str, path: str) -> tuple[Route, dict[str, str]] | None:
        for route in self.routes:
            params = route.match(method, path)
            if params is not None:
                return route, params
        return None

    def api_for_path(self, path: str) -> Api | None:
        """The API whose routes cover this path (any method): whose CORS answers a preflight."""
        for route in self.routes:
            if route.pattern.fullmatch(path):
                return self.apis[route.api]
        return next(iter(self.apis.values()), None)


def _env_text(value: Any) -> str:
    # Lambda environment values are strings; CloudFormation writes booleans in lower case.
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        raise TemplateError(f"environment value {value!r} is not a string")
    return str(value)
