"""Creates the template's queues, buckets, table and secrets in the emulator, in dependency order.

Resources are created in the order their references give (Ref/GetAtt/Sub/DependsOn): a queue's
dead-letter queue before the queue, the queues before the bucket notifications that target them.
CloudFormation's property shapes become the API's here, for the properties template.yaml uses;
every value comes from the resolved template (a secret's value, which CloudFormation generates or
ops put in, comes from the local stack). Other types (functions, the API, log groups,
alarms, ...) are served by other parts of the local stack or mean nothing locally: skipped.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Mapping
from graphlib import TopologicalSorter
from typing import Any

from infra.local.template import Template, references

Properties = dict[str, Any]

# CloudFormation's names for an S3 CORS rule's fields -> the API's.
_CORS_FIELDS = {
    "Id": "ID",
    "AllowedOrigins": "AllowedOrigins",
    "AllowedMethods": "AllowedMethods",
    "AllowedHeaders": "AllowedHeaders",
    "ExposedHeaders": "ExposeHeaders",
    "MaxAge": "MaxAgeSeconds",
}


def create_resources(
    template: Template, client: Callable[[str], Any], secret_strings: Mapping[str, str] | None = None
) -> list[str]:
    """Create what the emulator holds; `client(service)` gives a boto3 client; `secret_strings`
    the secrets' values by LogicalId (a secret without one is created empty). The LogicalIds made."""
    clients = functools.cache(client)
    values = secret_strings or {}
    resources = template.resources
    graph = {}
    for logical_id, resource in resources.items():
        depends = resource.get("DependsOn") or []
        wanted = {
            *references(resource.get("Properties")),
            *([depends] if isinstance(depends, str) else depends),
        }
        graph[logical_id] = wanted & set(resources)
    created = []
    for logical_id in TopologicalSorter(graph).static_order():
        kind = resources[logical_id]["Type"]
        if kind in _CREATORS:
            service, create = _CREATORS[kind]
            properties = template.resolve(resources[logical_id].get("Properties") or {})
            if logical_id in values:
                properties["SecretString"] = values[logical_id]
            create(clients(service), template.name(logical_id), properties)
            created.append(logical_id)
    return created


def _queue(sqs: Any, name: str, properties: Properties) -> None:
    # The queue's properties are its attributes, as strings (the redrive policy as JSON).
    attributes = {
        key: str(value).lower() if isinstance(value, bool) else str(value)
        for key, value in properties.items()
    }
    if "RedrivePolicy" in properties:
        policy = properties["RedrivePolicy"]
        attributes["RedrivePolicy"] = json.dumps(
            {**policy, "maxReceiveCount": int(policy["maxReceiveCount"])}
        )
    sqs.create_queue(QueueName=name, Attributes=attributes)


def _queue_policy(sqs: Any, name: str, properties: Properties) -> None:
    for url in properties["Queues"]:
        sqs.set_queue_attributes(
            QueueUrl=url, Attributes={"Policy": json.dumps(properties["PolicyDocument"])}
        )


def _bucket(s3: Any, name: str, properties: Properties) -> None:
    s3.create_bucket(Bucket=name)  # us-east-1: no location constraint
    if "OwnershipControls" in properties:
        s3.put_bucket_ownership_controls(Bucket=name, OwnershipControls=properties["OwnershipControls"])
    if "PublicAccessBlockConfiguration" in properties:
        s3.put_public_access_block(
            Bucket=name, PublicAccessBlockConfiguration=properties["PublicAccessBlockConfiguration"]
        )
    if "BucketEncryption" in properties:
        rules = properties["BucketEncryption"]["ServerSideEncryptionConfiguration"]
        defaults = [
            {"ApplyServerSideEncryptionByDefault": rule["ServerSideEncryptionByDefault"]} for rule in rules
        ]
        s3.put_bucket_encryption(Bucket=name, ServerSideEncryptionConfiguration={"Rules": defaults})
    if "CorsConfiguration" in properties:
        rules = [
            {field: rule[key] for key, field in _CORS_FIELDS.items() if key in rule}
            for rule in properties["CorsConfiguration"]["CorsRules"]
        ]
        s3.put_bucket_cors(Bucket=name, CORSConfiguration={"CORSRules": rules})
    if "LifecycleConfiguration" in properties:
        rules = [_lifecycle_rule(rule) for rule in properties["LifecycleConfiguration"]["Rules"]]
        s3.put_bucket_lifecycle_configuration(Bucket=name, LifecycleConfiguration={"Rules": rules})
    if "NotificationConfiguration" in properties:
        queues = [
            _queue_notification(item)
            for item in properties["NotificationConfiguration"]["QueueConfigurations"]
        ]
        s3.put_bucket_notification_configuration(
            Bucket=name, NotificationConfiguration={"QueueConfigurations": queues}
        )


def _lifecycle_rule(rule: Properties) -> Properties:
    found = {"ID": rule.get("Id"), "Status": rule["Status"], "Filter": {"Prefix": rule.get("Prefix", "")}}
    if "ExpirationInDays" in rule:
        found["Expiration"] = {"Days": rule["ExpirationInDays"]}
    if "AbortIncompleteMultipartUpload" in rule:
        found["AbortIncompleteMultipartUpload"] = rule["AbortIncompleteMultipartUpload"]
    return {key: value for key, value in found.items() if value is not None}


def _queue_notification(item: Properties) -> Properties:
    found: Properties = {"QueueArn": item["Queue"], "Events": [item["Event"]]}
    if rules := ((item.get("Filter") or {}).get("S3Key") or {}).get("Rules"):
        found["Filter"] = {"Key": {"FilterRules": rules}}
    return found


def _table(dynamodb: Any, name: str, properties: Properties) -> None:
    indexes = {key: properties[key] for key in ("GlobalSecondaryIndexes",) if key in properties}
    dynamodb.create_table(
        TableName=name,
        AttributeDefinitions=properties["AttributeDefinitions"],
        KeySchema=properties["KeySchema"],
        BillingMode=properties.get("BillingMode", "PROVISIONED"),
        **indexes,
    )
    ttl = properties.get("TimeToLiveSpecification")
    if ttl and ttl.get("Enabled"):
        dynamodb.update_time_to_live(
            TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl["AttributeName"]}
        )


def _secret(secretsmanager: Any, name: str, properties: Properties) -> None:
    value = {"SecretString": properties["SecretString"]} if "SecretString" in properties else {}
    secretsmanager.create_secret(Name=name, Description=properties.get("Description", ""), **value)


_CREATORS: dict[str, tuple[str, Callable[[Any, str, Properties], None]]] = {
    "AWS::SQS::Queue": ("sqs", _queue),
    "AWS::SQS::QueuePolicy": ("sqs", _queue_policy),
    "AWS::S3::Bucket": ("s3", _bucket),
    "AWS::DynamoDB::Table": ("dynamodb", _table),
    "AWS::SecretsManager::Secret": ("secretsmanager", _secret),
}
