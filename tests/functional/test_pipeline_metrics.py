"""The pipeline's processing-time metric (the dashboard's p50/p99), from the real handlers."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.functional.pipeline_support import Flow, metric_values, photo


@pytest.fixture
def flow(cloud: Any) -> Flow:
    return Flow(cloud.s3, cloud.uploads, cloud.media)


def _event_time(event: dict[str, Any]) -> datetime:
    notification = json.loads(event["Records"][0]["body"])
    return datetime.fromisoformat(notification["Records"][0]["eventTime"])


def _elapsed_ms(since: datetime) -> float:
    return (datetime.now(UTC) - since).total_seconds() * 1000


@pytest.mark.parametrize("step", ["validate", "thumbnails"])
def test_each_step_reports_the_time_from_its_objects_event_to_done(
    flow: Flow, capsys: pytest.CaptureFixture[str], step: str
) -> None:
    image = flow.pending()
    event = flow.uploaded_event(image.id, photo())
    if step == "thumbnails":
        assert flow.validate(event) == {"batchItemFailures": []}
        capsys.readouterr()
        event = flow.original_event(image.id)
    before = _elapsed_ms(_event_time(event))

    handled = flow.validate(event) if step == "validate" else flow.thumbnails(event)

    after = _elapsed_ms(_event_time(event))
    assert handled == {"batchItemFailures": []}
    [(milliseconds, dimensions)] = metric_values(capsys.readouterr().out, "ProcessingMilliseconds")
    assert dimensions == {"service": "shoebox", "step": step}
    assert before <= milliseconds <= after
