"""Least privilege, checked on what CloudFormation will really create: template.yaml is translated
offline by aws-sam-translator (as `sam deploy` would), and each function's role must grant exactly
the (action, resource) pairs in the table below — no more, no fewer.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import pytest

from infra.local.template import load_template
from tests.contract.sam import TEMPLATE, translate

Grant = tuple[str, str]  # (action, resource); resources read as in template.yaml's !Sub strings

# What AWS's managed policies grant, as published in the IAM managed policy reference. SAM attaches
# the first to every function it makes a role for, the second to functions with an SQS event and
# the third to functions with `Tracing: Active` (Globals: every function).
MANAGED_POLICIES: dict[str, list[dict[str, Any]]] = {
    "service-role/AWSLambdaBasicExecutionRole": [
        {
            "Effect": "Allow",
            "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": "*",
        }
    ],
    "service-role/AWSLambdaSQSQueueExecutionRole": [
        {
            "Effect": "Allow",
            "Action": [
                "sqs:ReceiveMessage",
                "sqs:DeleteMessage",
                "sqs:GetQueueAttributes",
                "logs:CreateLogGroup",
                "logs:CreateLogStream",
                "logs:PutLogEvents",
            ],
            "Resource": "*",
        }
    ],
    "AWSXrayWriteOnlyAccess": [
        {
            "Effect": "Allow",
            "Action": [
                "xray:PutTraceSegments",
                "xray:PutTelemetryRecords",
                "xray:GetSamplingRules",
                "xray:GetSamplingTargets",
                "xray:GetSamplingStatisticSummaries",
            ],
            "Resource": ["*"],
        }
    ],
}

# Every function writes its own logs (AWSLambdaBasicExecutionRole: AWS's baseline, on any group)
# and its traces (AWSXrayWriteOnlyAccess: X-Ray takes no resource; Lambda sends the segments).
LOGS: set[Grant] = {
    ("logs:CreateLogGroup", "*"),
    ("logs:CreateLogStream", "*"),
    ("logs:PutLogEvents", "*"),
    ("xray:PutTraceSegments", "*"),
    ("xray:PutTelemetryRecords", "*"),
    ("xray:GetSamplingRules", "*"),
    ("xray:GetSamplingTargets", "*"),
    ("xray:GetSamplingStatisticSummaries", "*"),
}

# fmt: off
EXPECTED: dict[str, set[Grant]] = {
    "HealthFunction": set(),
    "CreateUploadFunction": {
        ("dynamodb:PutItem",         "${ImagesTable.Arn}"),                # the record
        ("dynamodb:GetItem",         "${ImagesTable.Arn}"),                # the usage item; a duplicate
        ("dynamodb:UpdateItem",      "${ImagesTable.Arn}"),                # the slot, with the record
        ("dynamodb:Query",           "${ImagesTable.Arn}/index/ready-by-sha256"),  # dedup
        ("s3:PutObject",             "${UploadsBucket.Arn}/incoming/*"),   # signs; CreateMultipartUpload
        ("s3:AbortMultipartUpload",  "${UploadsBucket.Arn}/incoming/*"),   # a refused multipart slot
        ("secretsmanager:GetSecretValue", "${CdnSigningKeySecret}"),     # a duplicate's variant URLs
    },
    "GetUploadFunction": {
        ("dynamodb:GetItem",         "${ImagesTable.Arn}"),
        ("s3:ListMultipartUploadParts", "${UploadsBucket.Arn}/incoming/*"),
        ("s3:PutObject",             "${UploadsBucket.Arn}/incoming/*"),   # only signs fresh URLs
    },
    "CompleteUploadFunction": {
        ("dynamodb:GetItem",         "${ImagesTable.Arn}"),
        ("dynamodb:UpdateItem",      "${ImagesTable.Arn}"),                # completion_requested
        ("s3:ListMultipartUploadParts", "${UploadsBucket.Arn}/incoming/*"),
        ("s3:PutObject",             "${UploadsBucket.Arn}/incoming/*"),   # CompleteMultipartUpload
    },
    "CancelUploadFunction": {
        ("dynamodb:GetItem",         "${ImagesTable.Arn}"),
        ("dynamodb:DeleteItem",      "${ImagesTable.Arn}"),                # the record
        ("dynamodb:UpdateItem",      "${ImagesTable.Arn}"),                # its slot, in one transaction
        ("s3:AbortMultipartUpload",  "${UploadsBucket.Arn}/incoming/*"),
        ("s3:DeleteObject",          "${UploadsBucket.Arn}/incoming/*"),
    },
    "GetUsageFunction": {
        ("dynamodb:GetItem",         "${ImagesTable.Arn}"),                # the usage item
    },
    "ListImagesFunction": {
        ("dynamodb:Query",           "${ImagesTable.Arn}/index/by-owner"),  # never the table itself
        ("dynamodb:BatchGetItem",    "${ImagesTable.Arn}"),                # ?ids=, owner checked per item
        ("secretsmanager:GetSecretValue", "${CdnSigningKeySecret}"),     # signs the items' CDN URLs
    },
    "GetImageFunction": {
        ("dynamodb:GetItem",         "${ImagesTable.Arn}"),
        ("secretsmanager:GetSecretValue", "${CdnSigningKeySecret}"),     # signs the variants' CDN URLs
    },
    "GetContentFunction": {
        ("dynamodb:GetItem",         "${ImagesTable.Arn}"),
        ("secretsmanager:GetSecretValue", "${CdnSigningKeySecret}"),     # signs the redirect's CDN URL
    },
    "DeleteImageFunction": {
        ("dynamodb:GetItem",         "${ImagesTable.Arn}"),
        ("dynamodb:UpdateItem",      "${ImagesTable.Arn}"),
        ("dynamodb:DeleteItem",      "${ImagesTable.Arn}"),
        ("s3:DeleteObject",          "${UploadsBucket.Arn}/incoming/*"),
        ("s3:DeleteObject",          "${MediaBucket.Arn}/originals/*"),
        ("s3:DeleteObject",          "${MediaBucket.Arn}/thumbnails/*"),
    },
    "CreateShareFunction": {
        ("dynamodb:GetItem",         "${ImagesTable.Arn}"),
        ("dynamodb:UpdateItem",      "${ImagesTable.Arn}"),                # adds the link to the image's item
        ("secretsmanager:GetSecretValue", "${ShareKeySecret}"),          # makes the link's token
    },
    "ListSharesFunction": {
        ("dynamodb:GetItem",         "${ImagesTable.Arn}"),
        ("secretsmanager:GetSecretValue", "${ShareKeySecret}"),          # shows each link's token
    },
    "DeleteShareFunction": {
        ("dynamodb:UpdateItem",      "${ImagesTable.Arn}"),                # one conditional remove; no token
    },
    "ViewShareFunction": {                                                  # public: read only
        ("dynamodb:GetItem",         "${ImagesTable.Arn}"),
        ("secretsmanager:GetSecretValue", "${ShareKeySecret}"),          # checks the token
        ("secretsmanager:GetSecretValue", "${CdnSigningKeySecret}"),     # signs the page's image URLs
    },
    "GetSharedContentFunction": {                                           # public: read only
        ("dynamodb:GetItem",         "${ImagesTable.Arn}"),
        ("secretsmanager:GetSecretValue", "${ShareKeySecret}"),          # checks the token
        ("secretsmanager:GetSecretValue", "${CdnSigningKeySecret}"),     # signs the redirect's CDN URL
    },
    "ValidateFunction": {
        ("sqs:ReceiveMessage",       "${ValidateQueue.Arn}"),
        ("sqs:DeleteMessage",        "${ValidateQueue.Arn}"),
        ("sqs:GetQueueAttributes",   "${ValidateQueue.Arn}"),
        ("dynamodb:GetItem",         "${ImagesTable.Arn}"),
        ("dynamodb:UpdateItem",      "${ImagesTable.Arn}"),
        ("s3:GetObject",             "${UploadsBucket.Arn}/incoming/*"),
        ("s3:DeleteObject",          "${UploadsBucket.Arn}/incoming/*"),
        ("s3:ListBucket",            "${UploadsBucket.Arn}"),
        ("s3:PutObject",             "${MediaBucket.Arn}/originals/*"),
        ("s3:DeleteObject",          "${MediaBucket.Arn}/originals/*"),
    },
    "ThumbnailFunction": {
        ("sqs:ReceiveMessage",       "${ThumbnailQueue.Arn}"),
        ("sqs:DeleteMessage",        "${ThumbnailQueue.Arn}"),
        ("sqs:GetQueueAttributes",   "${ThumbnailQueue.Arn}"),
        ("dynamodb:GetItem",         "${ImagesTable.Arn}"),
        ("dynamodb:UpdateItem",      "${ImagesTable.Arn}"),
        ("s3:GetObject",             "${MediaBucket.Arn}/originals/*"),
        ("s3:DeleteObject",          "${MediaBucket.Arn}/originals/*"),
        ("s3:ListBucket",            "${MediaBucket.Arn}"),
        ("s3:PutObject",             "${MediaBucket.Arn}/thumbnails/*"),
        ("s3:DeleteObject",          "${MediaBucket.Arn}/thumbnails/*"),
    },
}
# fmt: on

API_FUNCTIONS = {
    "HealthFunction",
    "CreateUploadFunction",
    "ListImagesFunction",
    "GetImageFunction",
    "GetContentFunction",
    "DeleteImageFunction",
    "CreateShareFunction",
    "ListSharesFunction",
    "DeleteShareFunction",
    "ViewShareFunction",
    "GetSharedContentFunction",
    "GetUploadFunction",
    "CompleteUploadFunction",
    "CancelUploadFunction",
    "GetUsageFunction",
}
PUBLIC_FUNCTIONS = {"HealthFunction", "ViewShareFunction", "GetSharedContentFunction"}
S3_WRITES = {"s3:PutObject", "s3:DeleteObject"}


@pytest.fixture(scope="module")
def cloudformation() -> dict[str, Any]:
    return translate()


@pytest.fixture(scope="module")
def grants(cloudformation: dict[str, Any]) -> dict[str, set[Grant]]:
    resources = cloudformation["Resources"]
    return {
        name: effective_grants(role_statements(resources[name + "Role"]))
        for name, resource in resources.items()
        if resource["Type"] == "AWS::Lambda::Function"
    }


def role_statements(role: dict[str, Any]) -> list[dict[str, Any]]:
    properties = role["Properties"]
    statements = [
        statement
        for policy in properties.get("Policies", [])
        for statement in as_list(policy["PolicyDocument"]["Statement"])
    ]
    for arn in properties.get("ManagedPolicyArns", []):
        name = arn_text(arn).split(":policy/", 1)[1]
        assert name in MANAGED_POLICIES, (
            f"unknown managed policy {name}: add its statements to MANAGED_POLICIES"
        )
        statements += MANAGED_POLICIES[name]
    return statements


def effective_grants(statements: list[dict[str, Any]]) -> set[Grant]:
    """Allows minus Denies, for the shapes the template uses: a Deny with NotResource confines
    an allow on `*` to the resources it names."""
    allowed = {
        (action, resource)
        for statement in statements
        if statement["Effect"] == "Allow"
        for action in as_list(statement["Action"])
        for resource in map(render, as_list(statement["Resource"]))
    }
    for deny in (statement for statement in statements if statement["Effect"] == "Deny"):
        assert set(deny) <= {"Effect", "Action", "NotResource"}, f"unsupported Deny shape: {deny}"
        actions = set(as_list(deny["Action"]))
        kept = {render(resource) for resource in as_list(deny["NotResource"])}
        confined = set()
        for action, resource in allowed:
            if action not in actions or resource in kept:
                confined.add((action, resource))
            elif resource == "*":
                confined |= {(action, each) for each in kept}
        allowed = confined
    return allowed


def render(resource: Any) -> str:
    """A policy resource as it reads in template.yaml: `*`, `${Logical.Arn}`, `${Logical}` (a Ref,
    the ARN of a secret) or a !Sub string."""
    if isinstance(resource, str):
        return resource
    if "Ref" in resource:
        return f"${{{resource['Ref']}}}"
    if "Fn::GetAtt" in resource:
        logical_id, attribute = resource["Fn::GetAtt"]
        return f"${{{logical_id}.{attribute}}}"
    if "Fn::Sub" in resource and isinstance(resource["Fn::Sub"], str):
        return str(resource["Fn::Sub"])
    raise AssertionError(f"unsupported policy resource: {json.dumps(resource)}")


def arn_text(arn: Any) -> str:
    return arn if isinstance(arn, str) else render(arn).replace("${AWS::Partition}", "aws")


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def table(grants: Iterable[Grant]) -> str:
    return "\n".join(f"  {action:<24} {resource}" for action, resource in sorted(grants))


def test_every_function_has_a_row() -> None:
    template = load_template(TEMPLATE)
    functions = {
        name
        for name, resource in template["Resources"].items()
        if resource["Type"] == "AWS::Serverless::Function"
    }
    assert functions == set(EXPECTED)


@pytest.mark.parametrize("function", sorted(EXPECTED))
def test_role_grants_exactly_the_table(grants: dict[str, set[Grant]], function: str) -> None:
    actual, expected = grants[function], EXPECTED[function] | LOGS
    assert actual == expected, (
        f"{function}'s role changed.\nGranted but not in the table:\n{table(actual - expected)}\n"
        f"In the table but not granted:\n{table(expected - actual)}"
    )


def test_no_action_wildcards(grants: dict[str, set[Grant]]) -> None:
    assert not [(f, a) for f, pairs in grants.items() for a, _ in pairs if "*" in a]


def test_s3_writes_are_confined_to_a_prefix(grants: dict[str, set[Grant]]) -> None:
    whole_bucket = [
        (function, action, resource)
        for function, pairs in grants.items()
        for action, resource in pairs
        if action in S3_WRITES and not resource.removesuffix("/*").count("/")
    ]
    assert not whole_bucket


def test_list_images_reads_the_table_only_through_the_owner_index_or_by_id(
    grants: dict[str, set[Grant]],
) -> None:
    # No Scan, no write: a page is a query of the owner's index; ?ids= a batch of key reads.
    assert {pair for pair in grants["ListImagesFunction"] if pair[0].startswith("dynamodb:")} == {
        ("dynamodb:Query", "${ImagesTable.Arn}/index/by-owner"),
        ("dynamodb:BatchGetItem", "${ImagesTable.Arn}"),
    }


def test_no_api_function_reads_objects(grants: dict[str, set[Grant]]) -> None:
    # Viewers get objects from the CDN with signed URLs (DESIGN decision 12); no function signs an
    # S3 GET any more, so none may read the media bucket.
    assert not {
        (function, resource)
        for function in API_FUNCTIONS
        for action, resource in grants[function]
        if action == "s3:GetObject"
    }


def readers_of(grants: dict[str, set[Grant]], secret: str) -> set[str]:
    return {
        function
        for function, pairs in grants.items()
        for action, resource in pairs
        if resource == f"${{{secret}}}" and action == "secretsmanager:GetSecretValue"
    }


def test_only_the_functions_that_sign_delivery_urls_read_the_signing_key(
    grants: dict[str, set[Grant]],
) -> None:
    assert readers_of(grants, "CdnSigningKeySecret") == {
        "CreateUploadFunction",  # a duplicate answers with the READY image
        "ListImagesFunction",
        "GetImageFunction",
        "GetContentFunction",
        "ViewShareFunction",
        "GetSharedContentFunction",
    }


def test_only_the_functions_that_make_or_check_share_tokens_read_the_share_key(
    grants: dict[str, set[Grant]],
) -> None:
    assert readers_of(grants, "ShareKeySecret") == {
        "CreateShareFunction",
        "ListSharesFunction",
        "ViewShareFunction",
        "GetSharedContentFunction",
    }


def test_secrets_are_only_ever_read(grants: dict[str, set[Grant]]) -> None:
    actions = {action for pairs in grants.values() for action, _ in pairs}
    assert {action for action in actions if action.startswith("secretsmanager:")} == {
        "secretsmanager:GetSecretValue"
    }


def test_public_functions_change_nothing(grants: dict[str, set[Grant]]) -> None:
    # Anyone may call them: they read one item and the keys they need, and write nothing.
    for function in PUBLIC_FUNCTIONS:
        actions = {action for action, _ in grants[function] - LOGS}
        assert actions <= {"dynamodb:GetItem", "secretsmanager:GetSecretValue"}, function


def test_queue_functions_consume_only_their_own_queue(grants: dict[str, set[Grant]]) -> None:
    for function, queue in (("ValidateFunction", "ValidateQueue"), ("ThumbnailFunction", "ThumbnailQueue")):
        assert {resource for action, resource in grants[function] if action.startswith("sqs:")} == {
            f"${{{queue}.Arn}}"
        }
