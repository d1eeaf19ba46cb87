"""shoebox.startup: in a Lambda execution environment a function's init creates its clients (one
DynamoDB client for both models) and registers the SnapStart hooks; anywhere else it does
nothing. Offline: creating a client calls no AWS service."""

from __future__ import annotations

import random
from collections.abc import Iterator

import pytest
import snapshot_restore_py
from health.router import router as health_router
from mangum import Mangum

from shoebox import aws, records, startup
from shoebox.app import create_app, rehearse
from shoebox.records import ImageRecord
from shoebox.settings import get_settings
from shoebox.usage import UsageRecord


@pytest.fixture
def clean(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    for name in ("TABLE_NAME", "UPLOADS_BUCKET", "MEDIA_BUCKET"):
        monkeypatch.setenv(name, "shoebox-test")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    # A client resolves its credentials when it is made (in Lambda: the runtime's).
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.setenv(name, "testing")
    monkeypatch.delenv("AWS_LAMBDA_FUNCTION_NAME", raising=False)
    monkeypatch.setattr(ImageRecord, "_connection", None)
    monkeypatch.setattr(UsageRecord, "_connection", None)
    monkeypatch.setattr(snapshot_restore_py, "_before_snapshot_registry", [])
    monkeypatch.setattr(snapshot_restore_py, "_after_restore_registry", [])
    get_settings.cache_clear()
    aws.reset()
    yield monkeypatch
    get_settings.cache_clear()
    aws.reset()


def test_outside_lambda_nothing_is_created_or_registered(clean: pytest.MonkeyPatch) -> None:
    startup.prepare((aws.s3, records.connect, aws.secretsmanager))
    startup.before_snapshot(print)
    assert aws.s3.cache_info().currsize == 0
    assert ImageRecord._connection is None
    assert snapshot_restore_py.get_before_snapshot() == []
    assert snapshot_restore_py.get_after_restore() == []


def test_in_lambda_the_named_clients_are_created_once_at_init(clean: pytest.MonkeyPatch) -> None:
    clean.setenv("AWS_LAMBDA_FUNCTION_NAME", "shoebox-GetUsageFunction")
    startup.prepare((records.connect,))
    assert aws.s3.cache_info().currsize == 0  # not named: not made
    assert aws.secretsmanager.cache_info().currsize == 0
    connection = ImageRecord._connection
    assert connection is not None
    assert connection.connection._client is not None  # the botocore client exists already
    assert UsageRecord._get_connection() is connection  # one client for both models

    startup.prepare((aws.s3, aws.secretsmanager))
    assert aws.s3.cache_info().currsize == aws.secretsmanager.cache_info().currsize == 1
    # Every client from one botocore session: the SDK's data loaded once.
    assert connection.connection.session is aws.botocore_session()
    assert aws.s3()._loader is aws.botocore_session().get_component("data_loader")


def test_after_a_restore_the_random_module_is_seeded_afresh(clean: pytest.MonkeyPatch) -> None:
    clean.setenv("AWS_LAMBDA_FUNCTION_NAME", "shoebox-GetUsageFunction")
    startup.prepare(())
    hooks = snapshot_restore_py.get_after_restore()
    assert hooks == [(random.seed, (), {})]
    # What Lambda does after a restore: two environments resumed from one snapshot (the same
    # state) draw different back-off jitter once the hook has run in each.
    state = random.getstate()
    draws = []
    for _ in range(2):
        random.setstate(state)
        for hook, args, kwargs in hooks:
            hook(*args, **kwargs)
        draws.append(random.random())
    assert draws[0] != draws[1]


def test_the_rehearsal_before_a_snapshot_runs_a_request_through_the_app(clean: pytest.MonkeyPatch) -> None:
    clean.setenv("AWS_LAMBDA_FUNCTION_NAME", "shoebox-HealthFunction")
    adapter = Mangum(create_app(health_router), lifespan="off")
    startup.before_snapshot(rehearse, adapter)
    [(hook, args, kwargs)] = snapshot_restore_py.get_before_snapshot()
    assert hook(*args, **kwargs) == 404  # no route: no AWS call (the unit tier is offline)
