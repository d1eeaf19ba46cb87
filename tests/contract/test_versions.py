"""Published versions, SnapStart and tracing, on what CloudFormation will really create
(tests/contract/sam.py): every function is traced and invoked through its `live` alias (the
HTTP API's routes, their invoke permissions, the queues' event source mappings), and SnapStart
is on the API functions exactly when the stack's ApiSnapStart parameter says Yes."""

from __future__ import annotations

from typing import Any

import pytest

from infra.local.template import load_template
from tests.contract.sam import TEMPLATE, translate

ALIAS = "live"
SNAPSTART_IF_ASKED = {"ApplyOn": {"Fn::If": ["ApiSnapStartOn", "PublishedVersions", "None"]}}


@pytest.fixture(scope="module")
def resources() -> dict[str, Any]:
    found: dict[str, Any] = translate()["Resources"]
    return found


def _functions(resources: dict[str, Any]) -> dict[str, Any]:
    return {name: item for name, item in resources.items() if item["Type"] == "AWS::Lambda::Function"}


def _of_type(resources: dict[str, Any], kind: str) -> dict[str, Any]:
    return {name: item for name, item in resources.items() if item["Type"] == kind}


def _api_functions() -> set[str]:
    document = load_template(TEMPLATE)
    return {
        name
        for name, item in document["Resources"].items()
        if item["Type"] == "AWS::Serverless::Function"
        and any(event["Type"] == "HttpApi" for event in (item["Properties"].get("Events") or {}).values())
    }


def test_the_snapstart_parameter_defaults_to_off() -> None:
    document = load_template(TEMPLATE)
    parameter = document["Parameters"]["ApiSnapStart"]
    assert (parameter["Default"], parameter["AllowedValues"]) == ("No", ["Yes", "No"])
    assert document["Conditions"]["ApiSnapStartOn"] == {"Fn::Equals": [{"Ref": "ApiSnapStart"}, "Yes"]}


def test_snapstart_is_the_parameters_on_api_functions_and_off_on_the_pipeline(
    resources: dict[str, Any],
) -> None:
    api = _api_functions()
    assert len(api) == 15
    for name, function in _functions(resources).items():
        expected = SNAPSTART_IF_ASKED if name in api else {"ApplyOn": "None"}
        assert function["Properties"].get("SnapStart") == expected, name


def test_every_function_is_traced(resources: dict[str, Any]) -> None:
    untraced = [
        name
        for name, function in _functions(resources).items()
        if function["Properties"].get("TracingConfig") != {"Mode": "Active"}
    ]
    assert not untraced


def test_every_function_has_a_live_alias_on_its_published_version(resources: dict[str, Any]) -> None:
    aliases = _of_type(resources, "AWS::Lambda::Alias")
    versions = _of_type(resources, "AWS::Lambda::Version")
    for name in _functions(resources):
        alias = aliases[f"{name}Alias{ALIAS}"]["Properties"]
        assert (alias["Name"], alias["FunctionName"]) == (ALIAS, {"Ref": name})
        version = alias["FunctionVersion"]["Fn::GetAtt"][0]
        assert versions[version]["Properties"]["FunctionName"] == {"Ref": name}


def test_routes_and_queues_invoke_the_alias_not_latest(resources: dict[str, Any]) -> None:
    api = _api_functions()
    (http_api,) = _of_type(resources, "AWS::ApiGatewayV2::Api").values()
    uris = {
        operation["x-amazon-apigateway-integration"]["uri"]["Fn::Sub"]
        for path in http_api["Properties"]["Body"]["paths"].values()
        for operation in path.values()
        if "x-amazon-apigateway-integration" in operation
    }
    assert uris == {
        f"arn:${{AWS::Partition}}:apigateway:${{AWS::Region}}:lambda:path/2015-03-31/functions/"
        f"${{{name}Alias{ALIAS}}}/invocations"
        for name in api
    }
    permitted = {
        item["Properties"]["FunctionName"]["Ref"]
        for item in _of_type(resources, "AWS::Lambda::Permission").values()
        if item["Properties"]["Principal"] == "apigateway.amazonaws.com"
    }
    assert permitted == {f"{name}Alias{ALIAS}" for name in api}
    mappings = _of_type(resources, "AWS::Lambda::EventSourceMapping").values()
    assert {item["Properties"]["FunctionName"]["Ref"] for item in mappings} == {
        f"ValidateFunctionAlias{ALIAS}",
        f"ThumbnailFunctionAlias{ALIAS}",
    }
