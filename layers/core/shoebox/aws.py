"""boto3 clients, created once on first use and reused across invocations.

Endpoints come from the SDK's own AWS_ENDPOINT_URL (the local stack sets it), never from a
stage flag.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

import boto3
from botocore.config import Config

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_secretsmanager import SecretsManagerClient

# SigV4 everywhere: presigned POST/PUT/GET must carry it in every region.
_S3_CONFIG = Config(signature_version="s3v4", retries={"mode": "standard"})


@cache
def s3() -> S3Client:
    return boto3.client("s3", config=_S3_CONFIG)


@cache
def secretsmanager() -> SecretsManagerClient:
    return boto3.client("secretsmanager", config=Config(retries={"mode": "standard"}))


def reset() -> None:
    """Forget cached clients (tests that switch endpoints or mocks call this)."""
    s3.cache_clear()
    secretsmanager.cache_clear()
