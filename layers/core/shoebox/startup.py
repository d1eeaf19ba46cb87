"""What a function does during its Lambda init, so that its first request does not, and so that a
SnapStart snapshot (README: SnapStart) holds it: the AWS clients the function uses, created once.

Only in a Lambda execution environment (AWS or the local stack: AWS_LAMBDA_FUNCTION_NAME is
set), where the function's settings are there at init. Tests import handlers before they set the
environment; there the clients are still created on first use (shoebox.aws, shoebox.records).

Before a SnapStart snapshot, an API function also runs one request through its app
(shoebox.app.rehearse), so the snapshot holds what a first request loads. After a SnapStart
restore, one snapshot resumes many execution environments, so what must differ
between them is redone (`register_after_restore`): the `random` module's state, which the back-off
jitter of records and of botocore's retries draws from, is seeded afresh. Nothing else made at
init is unique or secret: ids, share tokens and nonces come from `secrets`/`uuid4` (os.urandom:
/dev/urandom stays random across restores, says Lambda's uniqueness guide); no secret is read at
init (the CDN key and the share key are read on first use); with SnapStart the SDK's
credentials are the runtime's container credentials, refreshed when they expire; no connection
is open yet (creating a client sends nothing).
"""

from __future__ import annotations

import os
import random
from collections.abc import Callable, Iterable
from typing import Any

from snapshot_restore_py import register_after_restore, register_before_snapshot

# What makes a client: shoebox.aws.s3, shoebox.aws.secretsmanager, shoebox.records.connect.
ClientFactory = Callable[[], object]


def in_lambda() -> bool:
    return bool(os.environ.get("AWS_LAMBDA_FUNCTION_NAME"))


def prepare(clients: Iterable[ClientFactory]) -> None:
    """Create the function's clients now when running in Lambda; see the module's docstring. The
    handler names them, so a function imports no SDK it does not use (health: none)."""
    if not in_lambda():
        return
    for make in clients:
        make()
    register_after_restore(random.seed)


def before_snapshot(work: Callable[..., Any], *args: Any) -> None:
    """Run `work(*args)` before a SnapStart snapshot is taken (never without SnapStart): work the
    first request would do once, done ahead so the snapshot holds it."""
    if in_lambda():
        register_before_snapshot(work, *args)
