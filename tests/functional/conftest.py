"""Functional tier: each function's real `handler(event, context)` under moto's in-process AWS."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from shoebox import aws, cdn, shares
from shoebox.observability import logger, metrics
from shoebox.records import ImageRecord
from shoebox.settings import get_settings
from tests.functional.harness import (
    CDN_BASE_URL,
    CDN_KEY_SECRET,
    MAX_UPLOAD_BYTES,
    MEDIA,
    REGION,
    SHARE_KEY_SECRET,
    TABLE,
    UPLOADS,
    Api,
    Cloud,
    Output,
    create_secrets,
    create_table_from_template,
)

ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
    "TABLE_NAME": TABLE,
    "UPLOADS_BUCKET": UPLOADS,
    "MEDIA_BUCKET": MEDIA,
    "MAX_UPLOAD_BYTES": str(MAX_UPLOAD_BYTES),
    "UPLOAD_URL_TTL_SECONDS": "900",
    "CDN_BASE_URL": CDN_BASE_URL,
    "CDN_PRIVATE_KEY_SECRET": CDN_KEY_SECRET,
    "SHARE_KEY_SECRET": SHARE_KEY_SECRET,
    "POWERTOOLS_SERVICE_NAME": "shoebox",
    "POWERTOOLS_METRICS_NAMESPACE": "Shoebox",
}


@pytest.fixture(scope="session")
def lambda_environment() -> Iterator[None]:
    """The functions' environment, once per session: clients are expensive to build and stay
    valid across tests (moto intercepts every botocore client while a mock is active)."""
    with pytest.MonkeyPatch.context() as patch:
        for name, value in ENV.items():
            patch.setenv(name, value)
        for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
            patch.delenv(name, raising=False)
        # The metrics object is built at import, possibly before this environment existed.
        patch.setattr(metrics, "namespace", ENV["POWERTOOLS_METRICS_NAMESPACE"])
        get_settings.cache_clear()
        aws.reset()
        # PynamoDB keeps one connection per model, table name included: start from a clean one.
        patch.setattr(ImageRecord, "_connection", None)
        yield
        get_settings.cache_clear()
        aws.reset()


@pytest.fixture(scope="session")
def aws_clients(lambda_environment: None) -> dict[str, Any]:
    return {
        "s3": boto3.client("s3", region_name=REGION),
        "dynamodb": boto3.client("dynamodb", region_name=REGION),
        "secretsmanager": boto3.client("secretsmanager", region_name=REGION),
    }


def _forget_keys() -> None:
    # Keys are read once per execution environment; each test's AWS is a new one.
    cdn.signer.cache_clear()
    shares.share_settings.cache_clear()
    shares.token_key.cache_clear()


@pytest.fixture
def cloud(aws_clients: dict[str, Any]) -> Iterator[Cloud]:
    """A fresh in-process AWS per test: both buckets, the table (from template.yaml) and the
    delivery and share key secrets."""
    get_settings.cache_clear()
    _forget_keys()
    with mock_aws():
        s3 = aws_clients["s3"]
        s3.create_bucket(Bucket=UPLOADS)
        s3.create_bucket(Bucket=MEDIA)
        create_table_from_template(aws_clients["dynamodb"], TABLE)
        create_secrets(aws_clients["secretsmanager"])
        yield Cloud(s3=s3, uploads=UPLOADS, media=MEDIA)
    _forget_keys()


@pytest.fixture
def api(cloud: Cloud) -> Api:
    return Api()


@pytest.fixture
def output(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Output:
    logs = io.StringIO()
    monkeypatch.setattr(logger.registered_handler, "stream", logs)
    return Output(logs, lambda: capsys.readouterr().out)
