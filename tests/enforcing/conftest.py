"""The enforcing tier: a real S3 server (SeaweedFS) that checks what moto does not.

moto enforces none of a presigned POST's policy and checks no presigned signature or expiry
(DESIGN, known gaps); SeaweedFS does. Each module of this tier gets its own server
(tests/enforcing/seaweedfs.py), and runs with the SDK's own settings pointed at it, so that
`shoebox.aws.s3()` — the client production code signs with — signs for SeaweedFS.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import boto3
import pytest

from shoebox import aws
from tests.enforcing.seaweedfs import SeaweedFS, running


@pytest.fixture(scope="module")
def seaweedfs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedFS]:
    with running(tmp_path_factory.mktemp("seaweedfs")) as server:
        yield server


@pytest.fixture(scope="module", autouse=True)
def sdk_pointed_at_seaweedfs(seaweedfs: SeaweedFS) -> Iterator[None]:
    """For the module: the SDK's settings name SeaweedFS and its keys; no session token, no
    profile, no per-service endpoint."""
    with pytest.MonkeyPatch.context() as patch:
        for name, value in seaweedfs.sdk_environment().items():
            patch.setenv(name, value)
        for name in ("AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_PROFILE", "AWS_REGION"):
            patch.delenv(name, raising=False)
        for name in [name for name in os.environ if name.startswith("AWS_ENDPOINT_URL_")]:
            patch.delenv(name)
        # boto3's default session keeps the credentials it first found: make it read these.
        patch.setattr(boto3, "DEFAULT_SESSION", None)
        aws.reset()
        yield
        aws.reset()
