"""template.yaml ⇄ code: handlers import, routes have functions and are served by their apps, the
table matches the PynamoDB model, environments name only what exists, the pipeline's wiring
matches the key prefixes the code uses."""

from __future__ import annotations

import importlib
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI

from infra.local.template import Template, load_template, references
from infra.local.topology import Topology
from shoebox import keys
from shoebox.records import ImageRecord

ROOT = Path(__file__).resolve().parents[2]
DOCUMENT = load_template(ROOT / "template.yaml")
FUNCTIONS = {
    logical_id: resource
    for logical_id, resource in DOCUMENT["Resources"].items()
    if resource["Type"] == "AWS::Serverless::Function"
}
PSEUDO = {
    f"AWS::{name}" for name in ("StackName", "AccountId", "Region", "Partition", "URLSuffix", "NoValue")
}


@cache
def topology() -> Topology:
    """The template resolved with the local stack's values, as `make dev` sees it."""
    local = {"JwtIssuer": "http://127.0.0.1:3000/_local", "JwtAudience": "shoebox-local"}
    return Topology(Template(DOCUMENT, local, aws_url="http://127.0.0.1:4566"), ROOT)


def _handler(dotted: str) -> Any:
    module, name = dotted.rsplit(".", 1)
    return getattr(importlib.import_module(module), name)


@pytest.mark.parametrize("logical_id", sorted(FUNCTIONS))
def test_every_handler_imports_to_a_callable(logical_id: str) -> None:
    spec = topology().functions[logical_id]
    module_file = spec.code_dir / (spec.handler.rsplit(".", 1)[0].replace(".", "/") + ".py")
    assert module_file.is_file(), f"{logical_id}: {module_file} is missing"
    assert callable(_handler(spec.handler)), f"{logical_id}: {spec.handler} is not callable"


def test_every_route_has_a_function_and_no_route_is_declared_twice() -> None:
    routes = topology().routes
    assert routes, "the template declares no HttpApi route"
    assert {route.function for route in routes} <= set(FUNCTIONS)
    keys_seen = [route.route_key for route in routes]
    assert len(keys_seen) == len(set(keys_seen)), keys_seen


def _app_routes(app: FastAPI) -> set[tuple[str, str]]:
    # The OpenAPI paths: FastAPI resolves included routers there (app.routes holds them lazily).
    paths: dict[str, dict[str, Any]] = app.openapi()["paths"]
    return {(method.upper(), path) for path, operations in paths.items() for method in operations}


@pytest.mark.parametrize("route", topology().routes, ids=lambda route: route.route_key)
def test_every_route_is_served_by_its_functions_app(route: Any) -> None:
    # Handlers are Mangum(app); the app a function module builds must answer the template's route.
    module = importlib.import_module(topology().functions[route.function].handler.rsplit(".", 1)[0])
    app = getattr(module, "app", None)
    assert isinstance(app, FastAPI), f"{route.function}: its handler module has no FastAPI `app`"
    served = _app_routes(app)
    assert (route.method, route.path) in served, f"{route.route_key} is not served by {route.function}"


# The token in a share link is the permission: those routes, and health, have no authorizer.
PUBLIC_ROUTES = {"GET /v1/health", "GET /s/{token}", "GET /s/{token}/{variant}"}


def test_only_health_and_share_links_are_public() -> None:
    public = {route.route_key for route in topology().routes if route.authorizer is None}
    assert public == PUBLIC_ROUTES


def test_every_other_route_needs_the_jwt_authorizer() -> None:
    protected = [route for route in topology().routes if route.route_key not in PUBLIC_ROUTES]
    assert {route.route_key for route in protected} >= {
        "POST /v1/images/{id}/shares",
        "GET /v1/images/{id}/shares",
        "DELETE /v1/shares/{share_id}",
    }
    for route in protected:
        assert route.authorizer is not None, route.route_key
    # One authorizer for all of them: the API's DefaultAuthorizer (the only one it declares).
    assert len(DOCUMENT["Resources"]["HttpApi"]["Properties"]["Auth"]["Authorizers"]) == 1
    assert len({route.authorizer for route in protected}) == 1


def test_the_table_matches_the_model() -> None:
    table = DOCUMENT["Resources"]["ImagesTable"]["Properties"]
    schema = ImageRecord._get_schema()
    assert _key_schema(table["KeySchema"]) == _key_schema(schema["key_schema"])
    template_types = {item["AttributeName"]: item["AttributeType"] for item in table["AttributeDefinitions"]}
    model_types = {item["AttributeName"]: item["AttributeType"] for item in schema["attribute_definitions"]}
    assert template_types == model_types
    template_indexes = {index["IndexName"]: index for index in table["GlobalSecondaryIndexes"]}
    model_indexes = {index["index_name"]: index for index in schema["global_secondary_indexes"]}
    assert set(template_indexes) == set(model_indexes) == {"by-owner", "ready-by-sha256"}
    for name, index in template_indexes.items():
        assert _key_schema(index["KeySchema"]) == _key_schema(model_indexes[name]["key_schema"])
        assert index["Projection"]["ProjectionType"] == model_indexes[name]["projection"]["ProjectionType"]
    ttl = ImageRecord._ttl_attribute()
    assert ttl is not None
    assert table["TimeToLiveSpecification"] == {"AttributeName": ttl.attr_name, "Enabled": True}


def _key_schema(items: list[dict[str, str]]) -> dict[str, str]:
    return {item["KeyType"]: item["AttributeName"] for item in items}


@pytest.mark.parametrize("logical_id", sorted(FUNCTIONS))
def test_environments_name_only_what_exists(logical_id: str) -> None:
    known = set(DOCUMENT["Resources"]) | set(DOCUMENT.get("Parameters") or {}) | PSEUDO
    variables = (topology().function_properties(logical_id).get("Environment") or {}).get("Variables") or {}
    for name, value in variables.items():
        missing = set(references(value)) - known
        assert not missing, f"{logical_id}: {name} refers to {sorted(missing)}"
    resolved = topology().functions[logical_id].environment
    assert all(isinstance(value, str) and value for value in resolved.values()), resolved


def test_the_pipeline_notifies_on_the_prefixes_the_code_uses() -> None:
    resources = DOCUMENT["Resources"]

    def prefixes(bucket: str) -> set[str]:
        configurations = resources[bucket]["Properties"]["NotificationConfiguration"]["QueueConfigurations"]
        return {
            rule["Value"]
            for configuration in configurations
            for rule in configuration["Filter"]["S3Key"]["Rules"]
            if rule["Name"] == "prefix"
        }

    assert prefixes("UploadsBucket") == {keys.INCOMING_PREFIX}
    # Only originals notify: thumbnails written next to them must not trigger anything.
    assert prefixes("MediaBucket") == {keys.ORIGINALS_PREFIX}
    assert not keys.THUMBNAILS_PREFIX.startswith(keys.ORIGINALS_PREFIX)


def test_each_queue_source_has_a_dead_letter_queue_and_a_long_enough_visibility() -> None:
    sources = topology().queue_sources
    assert {source.function for source in sources} == {"ValidateFunction", "ThumbnailFunction"}
    queues = {
        topology().template.name(logical_id): resource["Properties"]
        for logical_id, resource in DOCUMENT["Resources"].items()
        if resource["Type"] == "AWS::SQS::Queue"
    }
    for source in sources:
        queue = queues[source.queue_arn.rsplit(":", 1)[-1]]
        assert "RedrivePolicy" in queue, source.function
        assert source.report_batch_item_failures, source.function
        # DESIGN decision 1: visibility timeout >= 6 x the consuming function's timeout.
        assert int(queue["VisibilityTimeout"]) >= 6 * topology().functions[source.function].timeout
