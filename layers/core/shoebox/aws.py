"""boto3 clients, created once (during a function's init in Lambda: shoebox.startup, else on first
use) and reused across invocations, all from one botocore session.

Endpoints come from the SDK's own AWS_ENDPOINT_URL (the local stack sets it), never from a
stage flag.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

import boto3
import botocore.session
from botocore.config import Config

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_secretsmanager import SecretsManagerClient

# SigV4 everywhere: presigned POST/PUT/GET must carry it in every region.
_S3_CONFIG = Config(signature_version="s3v4", retries={"mode": "standard"})


@cache
def botocore_session() -> botocore.session.Session:
    """The session every client is made from (PynamoDB's too: shoebox.records.connect). A session
    loads the SDK's endpoint and partition data when it makes its first client (~60 ms of JSON):
    once per process, not once per session."""
    return botocore.session.get_session()


@cache
def _session() -> boto3.session.Session:
    return boto3.session.Session(botocore_session=botocore_session())


@cache
def s3() -> S3Client:
    return _session().client("s3", config=_S3_CONFIG)


@cache
def secretsmanager() -> SecretsManagerClient:
    return _session().client("secretsmanager", config=Config(retries={"mode": "standard"}))


def reset() -> None:
    """Forget cached clients (tests that switch endpoints or mocks call this)."""
    s3.cache_clear()
    secretsmanager.cache_clear()
    _session.cache_clear()
    botocore_session.cache_clear()
