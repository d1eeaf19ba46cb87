"""Loads template.yaml and resolves its intrinsic functions to the local stack's names.

The local stack reads the same template SAM deploys (DESIGN decision 6). Resolution follows
CloudFormation's rules where the local stack needs them: parameters (defaults overridden by
local values), pseudo parameters, conditions, Ref/GetAtt/Sub/If/Join/Select/Split/FindInMap, and
SAM's Globals. Physical names are what CloudFormation would give: a resource's explicit name
property (BucketName, QueueName, ...) or else "<stack>-<LogicalId>".
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml


class TemplateError(ValueError):
    """The template uses something the local stack cannot resolve (the message says what)."""


# ------------------------------------------------------------------ loading


class _CfnLoader(yaml.CSafeLoader):
    """YAML loader that turns CloudFormation's short-form tags into their long form (libyaml's
    safe loader: the template parses in milliseconds instead of a second)."""


def _construct_tag(loader: yaml.constructor.SafeConstructor, suffix: str, node: yaml.Node) -> dict[str, Any]:
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        assert isinstance(node, yaml.MappingNode)
        value = loader.construct_mapping(node, deep=True)
    if suffix in ("Ref", "Condition"):
        return {suffix: value}
    if suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)  # "Bucket.Arn" -> ["Bucket", "Arn"]
    return {f"Fn::{suffix}": value}


_CfnLoader.add_multi_constructor("!", _construct_tag)


def load_template(path: Path) -> dict[str, Any]:
    """The template as plain data, short-form tags turned into {"Ref": ...}/{"Fn::X": ...}."""
    document = yaml.load(path.read_text(encoding="utf-8"), Loader=_CfnLoader)  # noqa: S506 (safe loader subclass)
    if not isinstance(document, dict) or not isinstance(document.get("Resources"), dict):
        raise TemplateError(f"{path}: not a CloudFormation template (no Resources)")
    return document


def references(node: Any) -> Iterator[str]:
    """Every logical name a node refers to (Ref, GetAtt, ${...} in Sub), pseudo params included."""
    if isinstance(node, list):
        for item in node:
            yield from references(item)
    elif isinstance(node, dict):
        if len(node) == 1:
            ((key, value),) = node.items()
            if key == "Ref" and isinstance(value, str):
                yield value
                return
            if key == "Fn::GetAtt" and isinstance(value, list) and value:
                yield str(value[0])
                return
            if key == "Fn::Sub":
                text, variables = (value, {}) if isinstance(value, str) else (value[0], value[1])
                for name in _SUB_VARIABLE.findall(text):
                    if not name.startswith("!") and name not in variables:
                        yield name.split(".", 1)[0]
                yield from references(variables)
                return
        for value in node.values():
            yield from references(value)


# ------------------------------------------------------------------ resolving

_SUB_VARIABLE = re.compile(r"\$\{([^}]*)\}")


class _NoValue:
    """AWS::NoValue: the property it is the value of is removed."""


NO_VALUE = _NoValue()

# "Condition" is a key of resources and outputs too, so it is only an intrinsic inside conditions.
_INTRINSICS = {
    "Ref",
    "Fn::GetAtt",
    "Fn::Sub",
    "Fn::If",
    "Fn::Join",
    "Fn::Select",
    "Fn::Split",
    "Fn::FindInMap",
    "Fn::Base64",
    "Fn::GetAZs",
    "Fn::Equals",
    "Fn::Not",
    "Fn::And",
    "Fn::Or",
}


@dataclass(frozen=True)
class Pseudo:
    """Pseudo parameters of the local stack; the account is moto's default one."""

    stack_name: str = "shoebox-local"
    account_id: str = "123456789012"
    region: str = "us-east-1"
    partition: str = "aws"
    url_suffix: str = "amazonaws.com"


class Template:
    """A loaded template with its parameters bound: resolves values to local names."""

    def __init__(
        self,
        document: Mapping[str, Any],
        parameters: Mapping[str, str] | None = None,
        *,
        aws_url: str,
        pseudo: Pseudo | None = None,
    ) -> None:
        self.document = document
        self.pseudo = pseudo or Pseudo()
        self.aws_url = aws_url.rstrip("/")
        declared: Mapping[str, Any] = document.get("Parameters") or {}
        unknown = set(parameters or {}) - set(declared)
        if unknown:
            raise TemplateError(f"unknown parameters: {sorted(unknown)}")
        self.parameters = {
            name: self._parameter_value(name, spec, (parameters or {}).get(name))
            for name, spec in declared.items()
        }
        self._conditions: dict[str, bool] = {}

    # -------------------------------------------------------------- inputs

    @staticmethod
    def _parameter_value(name: str, spec: Mapping[str, Any], override: str | None) -> str | list[str]:
        raw = override if override is not None else spec.get("Default")
        if raw is None:
            raise TemplateError(f"parameter {name} has no default and no local value")
        kind = str(spec.get("Type", "String"))
        # CloudFormation hands parameters to the template as strings (Number too).
        if kind in ("CommaDelimitedList", "List<Number>") or kind.startswith("List<"):
            items = raw if isinstance(raw, list) else str(raw).split(",")
            return [str(item).strip() for item in items]
        if kind in ("String", "Number") or kind.startswith("AWS::EC2::"):
            return str(raw)
        raise TemplateError(f"parameter {name}: type {kind} is not supported locally")

    @property
    def resources(self) -> dict[str, dict[str, Any]]:
        """The resources that exist in this stack (their Condition holds)."""
        everything: Mapping[str, dict[str, Any]] = self.document["Resources"]
        return {
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
        if name not in self._conditions:
            conditions: Mapping[str, Any] = self.document.get("Conditions") or {}
            if name not in conditions:
                raise TemplateError(f"unknown condition {name}")
            self._conditions[name] = self._truth(conditions[name])
        return self._conditions[name]

    def _truth(self, node: Any) -> bool:
        if isinstance(node, dict) and len(node) == 1:
            ((key, value),) = node.items()
            if key == "Condition":
                return self.condition(value)
            if key == "Fn::Equals":
                left, right = (self.resolve(item) for item in value)
                return bool(left == right)
            if key == "Fn::Not":
                return not self._truth(value[0])
            if key == "Fn::And":
                return all(self._truth(item) for item in value)
            if key == "Fn::Or":
                return any(self._truth(item) for item in value)
        raise TemplateError(f"not a condition: {node!r}")

    # -------------------------------------------------------------- names

    def name(self, logical_id: str) -> str:
        """A resource's physical name, as CloudFormation would give it."""
        resource = self.resource(logical_id)
        kind = str(resource["Type"])
        # AWS::S3::Bucket -> BucketName, AWS::SQS::Queue -> QueueName, AWS::DynamoDB::Table -> ...
        explicit = (resource.get("Properties") or {}).get(kind.rsplit("::", 1)[-1] + "Name")
        if explicit is not None:
            return str(self.resolve(explicit))
        generated = f"{self.pseudo.stack_name}-{logical_id}"
        return generated.lower() if kind == "AWS::S3::Bucket" else generated

    def names(self) -> dict[str, str]:
        return {logical_id: self.name(logical_id) for logical_id in self.resources}

    def ref(self, name: str) -> Any:
        pseudo = self.pseudo
        builtins: dict[str, Any] = {
            "AWS::StackName": pseudo.stack_name,
            "AWS::AccountId": pseudo.account_id,
            "AWS::Region": pseudo.region,
            "AWS::Partition": pseudo.partition,
            "AWS::URLSuffix": pseudo.url_suffix,
            "AWS::StackId": f"arn:{pseudo.partition}:cloudformation:{pseudo.region}:{pseudo.account_id}"
            f":stack/{pseudo.stack_name}/local",
            "AWS::NoValue": NO_VALUE,
        }
        if name in builtins:
            return builtins[name]
        if name in self.parameters:
            return self.parameters[name]
        kind = self.resource(name)["Type"]
        if kind == "AWS::SQS::Queue":
            return self.queue_url(self.name(name))  # Ref of a queue is its URL
        if kind in ("AWS::Serverless::LayerVersion", "AWS::Lambda::LayerVersion", "AWS::SNS::Topic"):
            return self.get_att(name, "Arn")
        return self.name(name)

    def queue_url(self, queue_name: str) -> str:
        return f"{self.aws_url}/{self.pseudo.account_id}/{queue_name}"

    def get_att(self, logical_id: str, attribute: str) -> Any:
        kind = str(self.resource(logical_id)["Type"])
        name = self.name(logical_id)
        p = self.pseudo
        if attribute == "Arn":
            arns = {
                "AWS::S3::Bucket": f"arn:{p.partition}:s3:::{name}",
                "AWS::SQS::Queue": f"arn:{p.partition}:sqs:{p.region}:{p.account_id}:{name}",
                "AWS::DynamoDB::Table": f"arn:{p.partition}:dynamodb:{p.region}:{p.account_id}:table/{name}",
                "AWS::Logs::LogGroup": f"arn:{p.partition}:logs:{p.region}:{p.account_id}:log-group:{name}:*",
                "AWS::SNS::Topic": f"arn:{p.partition}:sns:{p.region}:{p.account_id}:{name}",
            }
            if kind in ("AWS::Serverless::Function", "AWS::Lambda::Function"):
                return f"arn:{p.partition}:lambda:{p.region}:{p.account_id}:function:{name}"
            if kind in ("AWS::Serverless::LayerVersion", "AWS::Lambda::LayerVersion"):
                return f"arn:{p.partition}:lambda:{p.region}:{p.account_id}:layer:{name}:1"
            if kind in arns:
                return arns[kind]
            service = kind.split("::")[1].lower()
            return f"arn:{p.partition}:{service}:{p.region}:{p.account_id}:{name}"
        attributes = {
            ("AWS::SQS::Queue", "QueueName"): name,
            ("AWS::SQS::Queue", "QueueUrl"): self.queue_url(name),
            ("AWS::S3::Bucket", "DomainName"): f"{name}.s3.{p.url_suffix}",
            ("AWS::S3::Bucket", "RegionalDomainName"): f"{name}.s3.{p.region}.{p.url_suffix}",
            # The shape CloudFront gives; the local CDN (the gateway's /cdn/) sets its own URL.
            ("AWS::CloudFront::Distribution", "DomainName"): f"{name.lower()}.cloudfront.net",
        }
        if (kind, attribute) in attributes:
            return attributes[(kind, attribute)]
        raise TemplateError(f"GetAtt {logical_id}.{attribute} is not supported locally")

    # -------------------------------------------------------------- values

    def resolve(self, node: Any) -> Any:
        """A template value with every intrinsic function evaluated."""
        if isinstance(node, list):
            items = (self.resolve(item) for item in node)
            return [item for item in items if item is not NO_VALUE]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            ((key, value),) = node.items()
            if key in _INTRINSICS:
                return self._intrinsic(key, value)
        resolved = {key: self.resolve(value) for key, value in node.items()}
        return {key: value for key, value in resolved.items() if value is not NO_VALUE}

    def _intrinsic(self, key: str, value: Any) -> Any:
        if key == "Ref":
            return self.ref(value)
        if key == "Fn::GetAtt":
            logical_id, attribute = value if isinstance(value, list) else str(value).split(".", 1)
            return self.get_att(self.resolve(logical_id), self.resolve(attribute))
        if key == "Fn::Sub":
            return self._sub(value)
        if key == "Fn::If":
            condition, when_true, when_false = value
            return self.resolve(when_true if self.condition(condition) else when_false)
        if key == "Fn::Join":
            delimiter, items = value
            return str(delimiter).join(str(item) for item in self.resolve(items))
        if key == "Fn::Select":
            index, items = value
            return self.resolve(items)[int(self.resolve(index))]
        if key == "Fn::Split":
            delimiter, text = value
            return str(self.resolve(text)).split(str(delimiter))
        if key == "Fn::FindInMap":
            map_name, top, second = (self.resolve(item) for item in value)
            return self.document["Mappings"][map_name][top][second]
        if key == "Fn::Base64":
            return base64.b64encode(str(self.resolve(value)).encode()).decode()
        if key == "Fn::GetAZs":
            return [f"{self.pseudo.region}{zone}" for zone in "abc"]
        return self._truth({key: value})  # Fn::Equals/Not/And/Or used as values

    def _sub(self, value: Any) -> str:
        text, variables = (value, {}) if isinstance(value, str) else (value[0], value[1])
        bound = {name: self.resolve(variable) for name, variable in variables.items()}

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"  # ${!Literal} writes ${Literal}
            if name in bound:
                found = bound[name]
            elif "." in name:
                logical_id, attribute = name.split(".", 1)
                found = self.get_att(logical_id, attribute)
            else:
                found = self.ref(name)
            if isinstance(found, list):
                raise TemplateError(f"Fn::Sub: ${{{name}}} is a list")
            return str(found)

        return _SUB_VARIABLE.sub(replace, str(text))


def merge_globals(defaults: Any, own: Any) -> Any:
    """SAM's Globals rule: maps merge (the resource wins), lists add up (globals first), any
    other value of the resource replaces the global one."""
    is_intrinsic = isinstance(own, dict) and len(own) == 1 and next(iter(own)) in _INTRINSICS
    if isinstance(defaults, dict) and isinstance(own, dict) and not is_intrinsic:
        merged = dict(defaults)
        for key, value in own.items():
            merged[key] = merge_globals(defaults[key], value) if key in defaults else value
        return merged
    if isinstance(defaults, list) and isinstance(own, list):
        return [*defaults, *own]
    return own
