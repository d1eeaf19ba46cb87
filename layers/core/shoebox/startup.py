"""What a function does during its Lambda init, so that its first request does not, and so that a
SnapStart snapshot (README: SnapStart) holds it: the AWS clients the function uses, created once.

Only in a Lambda execution environment (AWS or the local stack: AWS_LAMBDA_FUNCTION_NAME is
set), where the function's settings are there at init. Tests import handlers before they set the
environment; there the clients are still created on first use (shoebox.aws, shoebox.records).

After a SnapStart restore, one snapshot resumes many execution environments, so what must differ
between them is redone (`register_after_restore`): the `random` module's state, which the back-off
jitter of records and of botocore's retries draws from, is seeded afresh. Nothing else made at
init is unique or secret: ids, share tokens and nonces come from `secrets`/`uuid4` (os.urandom,
which the kernel reseeds); no secret is read at init (the CDN key and the share key are read on
first use); credentials are the runtime's refreshable ones; no connection is open yet.
"""

from __future__ import annotations

import os
import random
from collections.abc import Iterable
from typing import Literal

from snapshot_restore_py import register_after_restore

from shoebox import aws, records

Service = Literal["s3", "dynamodb", "secretsmanager"]


def in_lambda() -> bool:
    return bool(os.environ.get("AWS_LAMBDA_FUNCTION_NAME"))


def prepare(services: Iterable[Service]) -> None:
    """Create the clients of `services` now when running in Lambda; see the module's docstring."""
    if not in_lambda():
        return
    for service in services:
        if service == "s3":
            aws.s3()
        elif service == "secretsmanager":
            aws.secretsmanager()
        else:
            records.connect()
    register_after_restore(random.seed)
