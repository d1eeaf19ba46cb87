"""What the local stack runs, read from the resolved template: functions, routes, queue sources.

Everything here comes from template.yaml (SAM resources, their Events and Globals); nothing about
the topology is written a second time in Python. The template has one HttpApi with JWT
authorizers, payload 2.0 routes with fixed methods and {param} paths, and SQS event sources;
that is what is read.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from infra.local.template import Template, TemplateError, intrinsic

FUNCTION_TYPE = "AWS::Serverless::Function"
HTTP_API_TYPE = "AWS::Serverless::HttpApi"
_IDENTITY_SOURCE_PREFIX = "$request.header."


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

    @property
    def label(self) -> str:
        return label(self.logical_id)


@dataclass(frozen=True)
class Cors:
    allow_origins: tuple[str, ...]
    allow_methods: tuple[str, ...]
    allow_headers: tuple[str, ...]  # lower case
    expose_headers: tuple[str, ...]  # lower case
    max_age: int | None


@dataclass(frozen=True)
class JwtAuthorizer:
    issuer: str
    audiences: tuple[str, ...]
    header: str  # lower-case name of the header the token is read from


@dataclass(frozen=True)
class Api:
    logical_id: str
    api_id: str
    cors: Cors | None


@dataclass(frozen=True)
class Route:
    method: str  # upper case
    path: str  # "/v1/images/{id}"
    function: str  # logical id
    authorizer: JwtAuthorizer | None
    pattern: re.Pattern[str] = field(compare=False)

    @property
    def route_key(self) -> str:
        return f"{self.method} {self.path}"


@dataclass(frozen=True)
class QueueSource:
    function: str  # logical id
    queue_arn: str
    queue_url: str
    batch_size: int
    batching_window: float
    report_batch_item_failures: bool
    maximum_concurrency: int | None = None  # ScalingConfig.MaximumConcurrency: batches at once


def label(function: str) -> str:
    """A function's short name, for the terminal: CreateUploadFunction -> create_upload."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", function.removesuffix("Function")).lower()


def _route_pattern(path: str) -> re.Pattern[str]:
    """API Gateway path templates: {name} is one path segment."""
    parts = re.split(r"\{([^}]+)\}", path)  # literal, name, literal, name, ...
    return re.compile(
        "".join(f"(?P<{part}>[^/]+)" if index % 2 else re.escape(part) for index, part in enumerate(parts))
    )


def merge_globals(defaults: Any, own: Any) -> Any:
    """SAM's Globals rule: maps merge (the resource wins), lists add up (globals first), any
    other value of the resource replaces the global one. An intrinsic is a value, not a map."""
    if isinstance(defaults, dict) and isinstance(own, dict) and intrinsic(own) is None:
        return {**defaults, **{key: merge_globals(defaults.get(key), value) for key, value in own.items()}}
    if isinstance(defaults, list) and isinstance(own, list):
        return [*defaults, *own]
    return own


def _strings(value: Any) -> tuple[str, ...]:
    return tuple(str(item) for item in ([value] if isinstance(value, str) else value or []))


def _env_text(value: Any) -> str:
    # Lambda environment values are strings; CloudFormation writes booleans in lower case.
    if isinstance(value, (dict, list)):
        raise TemplateError(f"environment value {value!r} is not a string")
    return str(value).lower() if isinstance(value, bool) else str(value)


class Topology:
    """The functions, the API with its routes, and the queue event sources of a template."""

    def __init__(self, template: Template, repo_root: Path) -> None:
        self.template = template
        self.repo_root = repo_root
        globals_: dict[str, Any] = template.document.get("Globals") or {}
        self._function_globals: dict[str, Any] = globals_.get("Function") or {}
        resources = template.resources
        functions = [logical_id for logical_id, item in resources.items() if item["Type"] == FUNCTION_TYPE]
        apis = [logical_id for logical_id, item in resources.items() if item["Type"] == HTTP_API_TYPE]
        if len(apis) != 1:
            raise TemplateError(f"the local gateway serves one {HTTP_API_TYPE}; the template has {len(apis)}")
        self.functions = {logical_id: self._function(logical_id) for logical_id in functions}
        api = merge_globals(globals_.get("HttpApi") or {}, resources[apis[0]].get("Properties") or {})
        auth = api.get("Auth") or {}
        self._default_authorizer: str | None = auth.get("DefaultAuthorizer")
        self._authorizers = {
            name: self._authorizer(name, config) for name, config in (auth.get("Authorizers") or {}).items()
        }
        self.api = Api(apis[0], template.name(apis[0]), self._cors(api.get("CorsConfiguration")))
        self.routes: list[Route] = []
        self.queue_sources: list[QueueSource] = []
        for logical_id in functions:
            for event in ((resources[logical_id].get("Properties") or {}).get("Events") or {}).values():
                properties = event.get("Properties") or {}
                if event["Type"] == "HttpApi":
                    self.routes.append(self._route(logical_id, properties))
                elif event["Type"] == "SQS":
                    self.queue_sources.append(self._queue_source(logical_id, properties))
        # API Gateway prefers literal path segments to {param}s.
        self.routes.sort(key=lambda route: route.path.count("{"))

    def function_properties(self, logical_id: str) -> dict[str, Any]:
        """A function's properties with SAM's Globals merged in (still unresolved)."""
        own = self.template.resource(logical_id).get("Properties") or {}
        merged: dict[str, Any] = merge_globals(self._function_globals, own)
        return merged

    def maximum_concurrency(self, logical_id: str) -> int | None:
        """How many invocations of the function the template allows at once: the sum of its SQS
        event sources' MaximumConcurrency; None when nothing bounds it (API Gateway invokes a
        function per request, and so does a mapping without a ScalingConfig)."""
        limits = [
            source.maximum_concurrency for source in self.queue_sources if source.function == logical_id
        ]
        if not limits or None in limits:
            return None
        return sum(limit for limit in limits if limit is not None)

    def find_route(self, method: str, path: str) -> tuple[Route, dict[str, str]] | None:
        """The route serving (method, raw path) and its raw path parameters, or None."""
        for route in self.routes:
            found = route.pattern.fullmatch(path)
            if found is not None and route.method == method:
                return route, found.groupdict()
        return None

    # -------------------------------------------------------------- reading the template

    def _function(self, logical_id: str) -> FunctionSpec:
        properties = self.function_properties(logical_id)
        resolve = self.template.resolve
        variables = resolve((properties.get("Environment") or {}).get("Variables") or {})
        name = self.template.name(logical_id)
        return FunctionSpec(
            logical_id=logical_id,
            name=name,
            arn=self.template.get_att(logical_id, "Arn"),
            handler=str(properties["Handler"]),
            code_dir=self.repo_root / str(properties["CodeUri"]),
            layer_dirs=tuple(self._layer_dir(layer) for layer in properties.get("Layers") or []),
            timeout=int(resolve(properties.get("Timeout", 3))),
            memory_size=int(resolve(properties.get("MemorySize", 128))),
            runtime=str(properties.get("Runtime", "python3.13")),
            environment={key: _env_text(value) for key, value in variables.items()},
            log_group=str(
                resolve((properties.get("LoggingConfig") or {}).get("LogGroup", f"/aws/lambda/{name}"))
            ),
        )

    def _layer_dir(self, layer: Any) -> Path:
        # Locally a layer is its source folder on PYTHONPATH (Lambda unpacks it into /opt).
        if isinstance(layer, dict) and set(layer) == {"Ref"}:
            content = (self.template.resource(layer["Ref"]).get("Properties") or {}).get("ContentUri")
            if isinstance(content, str):
                return self.repo_root / content
        raise TemplateError(f"layer {layer!r}: only layers of this template with a local ContentUri")

    def _cors(self, config: Any) -> Cors | None:
        cors = self.template.resolve(config)
        if cors is None:
            return None
        return Cors(
            allow_origins=_strings(cors.get("AllowOrigins")),
            allow_methods=tuple(method.upper() for method in _strings(cors.get("AllowMethods"))),
            allow_headers=tuple(header.lower() for header in _strings(cors.get("AllowHeaders"))),
            expose_headers=tuple(header.lower() for header in _strings(cors.get("ExposeHeaders"))),
            max_age=int(cors["MaxAge"]) if "MaxAge" in cors else None,
        )

    def _authorizer(self, name: str, config: dict[str, Any]) -> JwtAuthorizer:
        source = str(config.get("IdentitySource", "$request.header.Authorization"))
        if "JwtConfiguration" not in config or not source.startswith(_IDENTITY_SOURCE_PREFIX):
            raise TemplateError(f"authorizer {name}: only JWT authorizers reading a header run locally")
        jwt = self.template.resolve(config["JwtConfiguration"])
        return JwtAuthorizer(
            issuer=str(jwt["issuer"]),
            audiences=_strings(jwt.get("audience")),
            header=source.removeprefix(_IDENTITY_SOURCE_PREFIX).lower(),
        )

    def _route(self, function: str, properties: dict[str, Any]) -> Route:
        if properties.get("ApiId") != {"Ref": self.api.logical_id}:
            raise TemplateError(f"{function}: its HttpApi events must say ApiId: !Ref {self.api.logical_id}")
        name = (properties.get("Auth") or {}).get("Authorizer", self._default_authorizer)
        if name not in (None, "NONE") and name not in self._authorizers:
            raise TemplateError(f"{function}: unknown authorizer {name}")
        path = str(properties["Path"])
        authorizer = None if name in (None, "NONE") else self._authorizers[name]
        return Route(str(properties["Method"]).upper(), path, function, authorizer, _route_pattern(path))

    def _queue_source(self, function: str, properties: dict[str, Any]) -> QueueSource:
        resolve = self.template.resolve
        queue_arn = str(resolve(properties["Queue"]))
        concurrency = resolve((properties.get("ScalingConfig") or {}).get("MaximumConcurrency"))
        return QueueSource(
            function=function,
            queue_arn=queue_arn,
            queue_url=self.template.queue_url(queue_arn.rsplit(":", 1)[-1]),
            batch_size=int(resolve(properties.get("BatchSize", 10))),
            batching_window=float(resolve(properties.get("MaximumBatchingWindowInSeconds", 0))),
            report_batch_item_failures="ReportBatchItemFailures"
            in (properties.get("FunctionResponseTypes") or []),
            maximum_concurrency=int(concurrency) if concurrency is not None else None,
        )
