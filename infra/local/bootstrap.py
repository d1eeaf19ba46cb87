"""Creates the template's buckets, queues and table in the emulator, generically by Type.

Resources are created in dependency order (Ref/GetAtt/Sub/DependsOn), so a queue's dead-letter
queue exists before the queue and the queues before the bucket notifications that target them.
CloudFormation's property shapes are translated to the API's here; every value comes from the
resolved template. Types the emulator has no use for are listed, not silently dropped.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from graphlib import CycleError, TopologicalSorter
from typing import Any

from infra.local.emulator import client
from infra.local.template import Template, TemplateError, references

# Types that are served by another part of the local stack, or have no local meaning.
NOT_EMULATED = {
    "AWS::Serverless::Function": "runs as a local process (runtime.py)",
    "AWS::Serverless::HttpApi": "served by the local gateway (gateway.py)",
    "AWS::Serverless::LayerVersion": "its folder is on the functions' PYTHONPATH",
    "AWS::Logs::LogGroup": "logs go to the terminal",
    "AWS::CloudWatch::Alarm": "no metrics are collected locally",
    "AWS::SNS::Topic": "only alarms notify it",
    "AWS::SNS::Subscription": "only alarms notify it",
    "AWS::Cognito::UserPool": "the local issuer (tokens.py) stands in for it",
    "AWS::Cognito::UserPoolClient": "the local issuer (tokens.py) stands in for it",
    # The emulator is plain HTTP, so a TLS-only policy could only deny everything.
    "AWS::S3::BucketPolicy": "TLS-only policies have no meaning on the local plain-HTTP emulator",
}

Creator = Callable[["Bootstrap", str, dict[str, Any]], None]


def _without_none(values: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in values.items() if value is not None}


class Bootstrap:
    def __init__(self, template: Template, aws_url: str) -> None:
        self.template = template
        region = template.pseudo.region
        self.s3 = client("s3", aws_url, region)
        self.sqs = client("sqs", aws_url, region)
        self.dynamodb = client("dynamodb", aws_url, region)
        self.created: list[str] = []
        self.skipped: dict[str, str] = {}  # LogicalId -> why it has no local counterpart
        self.unsupported: dict[str, str] = {}  # LogicalId -> Type the emulator is not given

    def run(self) -> None:
        resources = self.template.resources
        graph: dict[str, set[str]] = {}
        for logical_id, resource in resources.items():
            depends = resource.get("DependsOn") or []
            depends = [depends] if isinstance(depends, str) else depends
            graph[logical_id] = {
                name for name in (*references(resource.get("Properties")), *depends) if name in resources
            }
        try:
            order = list(TopologicalSorter(graph).static_order())
        except CycleError as exc:
            raise TemplateError(f"resources depend on each other in a cycle: {exc.args[1]}") from exc
        for logical_id in order:
            kind = str(resources[logical_id]["Type"])
            creator = CREATORS.get(kind)
            if creator is None:
                if kind in NOT_EMULATED:
                    self.skipped[logical_id] = NOT_EMULATED[kind]
                else:
                    self.unsupported[logical_id] = kind
                continue
            properties = self.template.resolve(resources[logical_id].get("Properties") or {})
            creator(self, logical_id, properties)
            self.created.append(logical_id)

    # -------------------------------------------------------------- SQS

    def queue(self, logical_id: str, properties: dict[str, Any]) -> None:
        attributes: dict[str, str] = {
            key: str(properties[key]).lower() if isinstance(properties[key], bool) else str(properties[key])
            for key in (
                "DelaySeconds",
                "MaximumMessageSize",
                "MessageRetentionPeriod",
                "ReceiveMessageWaitTimeSeconds",
                "VisibilityTimeout",
                "KmsMasterKeyId",
                "KmsDataKeyReusePeriodSeconds",
                "SqsManagedSseEnabled",
                "FifoQueue",
                "ContentBasedDeduplication",
                "DeduplicationScope",
                "FifoThroughputLimit",
            )
            if key in properties
        }
        if "RedrivePolicy" in properties:
            policy = dict(properties["RedrivePolicy"])
            policy["maxReceiveCount"] = int(policy["maxReceiveCount"])
            attributes["RedrivePolicy"] = json.dumps(policy)
        if "RedriveAllowPolicy" in properties:
            attributes["RedriveAllowPolicy"] = json.dumps(properties["RedriveAllowPolicy"])
        self.sqs.create_queue(QueueName=self.template.name(logical_id), Attributes=attributes)

    def queue_policy(self, logical_id: str, properties: dict[str, Any]) -> None:
        for url in properties["Queues"]:
            self.sqs.set_queue_attributes(
                QueueUrl=url, Attributes={"Policy": json.dumps(properties["PolicyDocument"])}
            )

    # -------------------------------------------------------------- S3

    def bucket(self, logical_id: str, properties: dict[str, Any]) -> None:
        name = self.template.name(logical_id)
        if self.template.pseudo.region == "us-east-1":
            self.s3.create_bucket(Bucket=name)
        else:
            self.s3.create_bucket(
                Bucket=name, CreateBucketConfiguration={"LocationConstraint": self.template.pseudo.region}
            )
        if "OwnershipControls" in properties:
            self.s3.put_bucket_ownership_controls(
                Bucket=name, OwnershipControls=properties["OwnershipControls"]
            )
        if "PublicAccessBlockConfiguration" in properties:
            self.s3.put_public_access_block(
                Bucket=name, PublicAccessBlockConfiguration=properties["PublicAccessBlockConfiguration"]
            )
        if "BucketEncryption" in properties:
            rules = properties["BucketEncryption"]["ServerSideEncryptionConfiguration"]
            self.s3.put_bucket_encryption(
                Bucket=name,
                ServerSideEncryptionConfiguration={
                    "Rules": [
                        _without_none(
                            {
                                "ApplyServerSideEncryptionByDefault": rule.get(
                                    "ServerSideEncryptionByDefault"
                                ),
                                "BucketKeyEnabled": rule.get("BucketKeyEnabled"),
                            }
                        )
                        for rule in rules
                    ]
                },
            )
        if "VersioningConfiguration" in properties:
            self.s3.put_bucket_versioning(
                Bucket=name,
                VersioningConfiguration={"Status": properties["VersioningConfiguration"]["Status"]},
            )
        if "CorsConfiguration" in properties:
            self.s3.put_bucket_cors(Bucket=name, CORSConfiguration={"CORSRules": _cors_rules(properties)})
        if "LifecycleConfiguration" in properties:
            self.s3.put_bucket_lifecycle_configuration(
                Bucket=name, LifecycleConfiguration={"Rules": _lifecycle_rules(properties)}
            )
        if "NotificationConfiguration" in properties:
            self.s3.put_bucket_notification_configuration(
                Bucket=name, NotificationConfiguration=_notifications(logical_id, properties)
            )

    # -------------------------------------------------------------- DynamoDB

    def table(self, logical_id: str, properties: dict[str, Any]) -> None:
        name = self.template.name(logical_id)
        arguments: dict[str, Any] = {
            "TableName": name,
            "AttributeDefinitions": properties["AttributeDefinitions"],
            "KeySchema": properties["KeySchema"],
            "BillingMode": properties.get("BillingMode", "PROVISIONED"),
        }
        for key in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes", "ProvisionedThroughput"):
            if key in properties:
                arguments[key] = properties[key]
        if "StreamSpecification" in properties:
            arguments["StreamSpecification"] = {"StreamEnabled": True, **properties["StreamSpecification"]}
        self.dynamodb.create_table(**arguments)
        ttl = properties.get("TimeToLiveSpecification")
        if ttl and ttl.get("Enabled"):
            self.dynamodb.update_time_to_live(
                TableName=name,
                TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl["AttributeName"]},
            )


def _cors_rules(properties: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        _without_none(
            {
                "ID": rule.get("Id"),
                "AllowedOrigins": rule["AllowedOrigins"],
                "AllowedMethods": rule["AllowedMethods"],
                "AllowedHeaders": rule.get("AllowedHeaders"),
                "ExposeHeaders": rule.get("ExposedHeaders"),
                "MaxAgeSeconds": rule.get("MaxAge"),
            }
        )
        for rule in properties["CorsConfiguration"]["CorsRules"]
    ]


def _lifecycle_rules(properties: dict[str, Any]) -> list[dict[str, Any]]:
    rules = []
    for rule in properties["LifecycleConfiguration"]["Rules"]:
        expiration = _without_none({"Days": rule.get("ExpirationInDays"), "Date": rule.get("ExpirationDate")})
        noncurrent = rule.get("NoncurrentVersionExpirationInDays")
        rules.append(
            _without_none(
                {
                    "ID": rule.get("Id"),
                    "Status": rule["Status"],
                    "Filter": {"Prefix": rule.get("Prefix", "")},
                    "Expiration": expiration or None,
                    "AbortIncompleteMultipartUpload": rule.get("AbortIncompleteMultipartUpload"),
                    "NoncurrentVersionExpiration": {"NoncurrentDays": noncurrent} if noncurrent else None,
                }
            )
        )
    return rules


def _filter(configuration: dict[str, Any]) -> dict[str, Any] | None:
    rules = ((configuration.get("Filter") or {}).get("S3Key") or {}).get("Rules")
    return {"Key": {"FilterRules": rules}} if rules else None


def _notifications(logical_id: str, properties: dict[str, Any]) -> dict[str, Any]:
    config = properties["NotificationConfiguration"]
    if config.get("LambdaConfigurations"):
        # DESIGN decision 1: the emulator drops S3 -> Lambda; the pipeline goes through SQS.
        raise TemplateError(f"{logical_id}: S3 -> Lambda notifications cannot run locally; use SQS")
    result: dict[str, Any] = {}
    queues = [
        _without_none({"QueueArn": item["Queue"], "Events": [item["Event"]], "Filter": _filter(item)})
        for item in config.get("QueueConfigurations") or []
    ]
    topics = [
        _without_none({"TopicArn": item["Topic"], "Events": [item["Event"]], "Filter": _filter(item)})
        for item in config.get("TopicConfigurations") or []
    ]
    if queues:
        result["QueueConfigurations"] = queues
    if topics:
        result["TopicConfigurations"] = topics
    if "EventBridgeConfiguration" in config:
        result["EventBridgeConfiguration"] = {}
    return result


CREATORS: dict[str, Creator] = {
    "AWS::SQS::Queue": Bootstrap.queue,
    "AWS::SQS::QueuePolicy": Bootstrap.queue_policy,
    "AWS::S3::Bucket": Bootstrap.bucket,
    "AWS::DynamoDB::Table": Bootstrap.table,
}
