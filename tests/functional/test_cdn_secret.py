"""The signing key read from Secrets Manager (moto in-process), as a signing function reads it."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import boto3
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from moto import mock_aws

from shoebox import aws, cdn
from shoebox.cdn import CdnConfigurationError, secret_key_fetcher, verify_url
from tests.functional.harness import REGION

KEY_ID = "K2JCJMDEHXQW5F"
SECRET = "shoebox-test-cdn-signing-key"


@pytest.fixture
def secrets(lambda_environment: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    monkeypatch.setenv("CDN_BASE_URL", "https://d111111abcdef8.cloudfront.net")
    monkeypatch.setenv("CDN_PRIVATE_KEY_SECRET", SECRET)
    cdn.signer.cache_clear()
    aws.reset()
    with mock_aws():
        yield boto3.client("secretsmanager", region_name=REGION)
    cdn.signer.cache_clear()
    aws.reset()


@pytest.fixture(scope="module")
def private_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def key_pair_json(key: rsa.RSAPrivateKey) -> str:
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return json.dumps({"key_pair_id": KEY_ID, "private_key": pem})


def test_the_signer_signs_with_the_key_in_the_secret(secrets: object, private_key: rsa.RSAPrivateKey) -> None:
    boto3.client("secretsmanager", region_name=REGION).create_secret(
        Name=SECRET, SecretString=key_pair_json(private_key)
    )
    url = cdn.signer().url("thumbnails/0123456789abcdefghijkl/512.webp")
    assert url.startswith("https://d111111abcdef8.cloudfront.net/thumbnails/0123456789abcdefghijkl/512.webp?")
    resource = verify_url(url, public_keys={KEY_ID: private_key.public_key()}, now=time.time())
    assert resource.endswith("/512.webp")


def test_an_empty_secret_says_what_to_do(secrets: object) -> None:
    # The stack creates the secret empty; ops put the key pair in it after the first deploy.
    boto3.client("secretsmanager", region_name=REGION).create_secret(Name=SECRET)
    with pytest.raises(CdnConfigurationError, match="Delivery keys"):
        secret_key_fetcher(SECRET)()


def test_a_missing_secret_says_what_to_do(secrets: object) -> None:
    with pytest.raises(CdnConfigurationError, match="ResourceNotFoundException"):
        cdn.signer().url("originals/x")
