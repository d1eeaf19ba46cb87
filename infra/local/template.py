"""template.yaml, read with SAM's own reader and resolved to the local stack's names.

The local stack reads the same template SAM deploys (DESIGN decision 6). Resolution covers what
the template uses: parameters (defaults, overridden by local values), pseudo parameters,
conditions (Equals, Not), Ref, GetAtt, Sub and If; anything else raises TemplateError, naming it.
Physical names are what CloudFormation gives: a resource's explicit name property (BucketName,
...) or else "<stack>-<LogicalId>".
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from samtranslator.yaml_helper import yaml_parse

STACK_NAME = "shoebox-local"
ACCOUNT_ID = "123456789012"  # moto's default account
REGION = "us-east-1"
PSEUDO_PARAMETERS = {
    "AWS::StackName": STACK_NAME,
    "AWS::AccountId": ACCOUNT_ID,
    "AWS::Region": REGION,
    "AWS::Partition": "aws",
}
_SUB_VARIABLE = re.compile(r"\$\{([^}]*)\}")


class TemplateError(ValueError):
    """The template uses something the local stack cannot resolve (the message says what)."""


def load_template(path: Path) -> dict[str, Any]:
    """The template as plain data, short-form tags as {"Ref": ...}/{"Fn::X": ...}: the one reader
    of template.yaml for the local stack, the OpenAPI document, the tests and the build report."""
    document = yaml_parse(path.read_text(encoding="utf-8"))
    if not isinstance(document, dict) or not isinstance(document.get("Resources"), dict):
        raise TemplateError(f"{path}: not a CloudFormation template (no Resources)")
    return document


def parameter_overrides(text: str) -> dict[str, str]:
    """`Key=Value Key2="a value"`, as `sam deploy --parameter-overrides` takes them (and
    SHOEBOX_PARAMETER_OVERRIDES for the local stack): whitespace-separated, shell quoting."""
    found: dict[str, str] = {}
    for token in shlex.split(text):
        name, equals, value = token.partition("=")
        if not equals or not name:
            raise TemplateError(f"parameter override {token!r} is not Key=Value")
        found[name] = value
    return found


def intrinsic(node: Any) -> tuple[str, Any] | None:
    """(name, argument) when the node is an intrinsic function ({"Ref": ...}, {"Fn::Sub": ...}), else None."""
    if isinstance(node, dict) and len(node) == 1:
        ((key, value),) = node.items()
        if key == "Ref" or key.startswith("Fn::"):
            return key, value
    return None


def references(node: Any) -> Iterator[str]:
    """Every logical name a node refers to (Ref, GetAtt, ${...} in Sub), pseudo parameters included."""
    found = intrinsic(node)
    if found is not None and found[0] == "Ref":
        yield str(found[1])
    elif found is not None and found[0] == "Fn::GetAtt":
        yield str(found[1][0] if isinstance(found[1], list) else found[1].split(".", 1)[0])
    elif found is not None and found[0] == "Fn::Sub" and isinstance(found[1], str):
        yield from (name.split(".", 1)[0] for name in _SUB_VARIABLE.findall(found[1]))
    elif isinstance(node, dict):
        for value in node.values():
            yield from references(value)
    elif isinstance(node, list):
        for item in node:
            yield from references(item)


def _parameter_value(name: str, spec: Mapping[str, Any], override: str | None) -> str | list[str]:
    raw = override if override is not None else spec.get("Default")
    if raw is None:
        raise TemplateError(f"parameter {name} has no default and no local value")
    # CloudFormation hands parameters to the template as strings (Number too).
    if spec.get("Type") == "CommaDelimitedList":
        return [item.strip() for item in str(raw).split(",")]
    return str(raw)


class Template:
    """A loaded template with its parameters bound: resolves values to local names."""

    def __init__(
        self, document: Mapping[str, Any], parameters: Mapping[str, str] | None = None, *, aws_url: str = ""
    ) -> None:
        """aws_url: the emulator's endpoint, where the queues' URLs are."""
        self.document = document
        self.aws_url = aws_url.rstrip("/")
        declared: Mapping[str, Any] = document.get("Parameters") or {}
        given = dict(parameters or {})
        if unknown := set(given) - set(declared):
            raise TemplateError(f"unknown parameters: {sorted(unknown)}")
        self.parameters = {
            name: _parameter_value(name, spec, given.get(name)) for name, spec in declared.items()
        }
        everything: Mapping[str, dict[str, Any]] = document["Resources"]
        # The resources that exist in this stack: their Condition, if any, holds.
        self.resources = {
            logical_id: resource
            for logical_id, resource in everything.items()
            if "Condition" not in resource or self.condition(resource["Condition"])
        }

    def resource(self, logical_id: str) -> dict[str, Any]:
        try:
            return self.resources[logical_id]
        except KeyError:
            raise TemplateError(f"{logical_id} is not a resource of this stack") from None

    def condition(self, name: str) -> bool:
        conditions: Mapping[str, Any] = self.document.get("Conditions") or {}
        if name not in conditions:
            raise TemplateError(f"unknown condition {name}")
        return self._truth(conditions[name])

    def _truth(self, node: Any) -> bool:
        key, value = intrinsic(node) or ("", [])
        if key == "Fn::Equals":
            left, right = (self.resolve(item) for item in value)
            return bool(left == right)
        if key == "Fn::Not":
            return not self._truth(value[0])
        if isinstance(node, dict) and set(node) == {"Condition"}:
            return self.condition(node["Condition"])
        raise TemplateError(f"not a condition the local stack evaluates: {node!r}")

    # -------------------------------------------------------------- names

    def name(self, logical_id: str) -> str:
        """A resource's physical name, as CloudFormation would give it."""
        resource = self.resource(logical_id)
        kind = str(resource["Type"])
        # AWS::S3::Bucket -> BucketName, AWS::SQS::Queue -> QueueName, ...
        explicit = (resource.get("Properties") or {}).get(kind.rsplit("::", 1)[-1] + "Name")
        if explicit is not None:
            return str(self.resolve(explicit))
        generated = f"{STACK_NAME}-{logical_id}"
        return generated.lower() if kind == "AWS::S3::Bucket" else generated

    def names(self) -> dict[str, str]:
        return {logical_id: self.name(logical_id) for logical_id in self.resources}

    def queue_url(self, queue_name: str) -> str:
        return f"{self.aws_url}/{ACCOUNT_ID}/{queue_name}"

    def ref(self, name: str) -> Any:
        if name in PSEUDO_PARAMETERS:
            return PSEUDO_PARAMETERS[name]
        if name in self.parameters:
            return self.parameters[name]
        if self.resource(name)["Type"] == "AWS::SQS::Queue":
            return self.queue_url(self.name(name))  # Ref of a queue is its URL
        return self.name(name)

    def get_att(self, logical_id: str, attribute: str) -> str:
        kind = str(self.resource(logical_id)["Type"])
        name = self.name(logical_id)
        if (kind, attribute) == ("AWS::CloudFront::Distribution", "DomainName"):
            # The shape CloudFront gives; the local CDN (the gateway's /cdn/) sets its own URL.
            return f"{name.lower()}.cloudfront.net"
        if attribute != "Arn":
            raise TemplateError(f"GetAtt {logical_id}.{attribute} is not supported locally")
        if kind == "AWS::S3::Bucket":
            return f"arn:aws:s3:::{name}"
        resource = {"AWS::DynamoDB::Table": f"table/{name}", "AWS::Serverless::Function": f"function:{name}"}
        service = "lambda" if kind == "AWS::Serverless::Function" else kind.split("::")[1].lower()
        return f"arn:aws:{service}:{REGION}:{ACCOUNT_ID}:{resource.get(kind, name)}"

    # -------------------------------------------------------------- values

    def resolve(self, node: Any) -> Any:
        """A template value with every intrinsic function evaluated."""
        found = intrinsic(node)
        if found is not None:
            return self._evaluate(*found)
        if isinstance(node, list):
            return [self.resolve(item) for item in node]
        if isinstance(node, dict):
            return {key: self.resolve(value) for key, value in node.items()}
        return node

    def _evaluate(self, key: str, value: Any) -> Any:
        if key == "Ref":
            return self.ref(value)
        if key == "Fn::GetAtt":
            logical_id, attribute = value if isinstance(value, list) else str(value).split(".", 1)
            return self.get_att(logical_id, attribute)
        if key == "Fn::If":
            condition, when_true, when_false = value
            return self.resolve(when_true if self.condition(condition) else when_false)
        if key == "Fn::Sub" and isinstance(value, str):
            return _SUB_VARIABLE.sub(lambda match: self._sub_variable(match.group(1)), value)
        raise TemplateError(f"{key} {value!r} is not supported locally")

    def _sub_variable(self, name: str) -> str:
        if "." in name:
            return self.get_att(*name.split(".", 1))
        found = self.ref(name)
        if isinstance(found, list):
            raise TemplateError(f"Fn::Sub: ${{{name}}} is a list")
        return str(found)
