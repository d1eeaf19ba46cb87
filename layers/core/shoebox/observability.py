"""The one Powertools logger and metrics object every function uses (JSON logs, EMF metrics)."""

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit, single_metric

logger = Logger()
metrics = Metrics()


def count_rejection(code: str) -> None:
    """ImagesRejected by `code`."""
    _with_dimension("ImagesRejected", MetricUnit.Count, 1, "code", code)


def record_processing(step: str, milliseconds: float) -> None:
    """ProcessingMilliseconds by `step` (validate, thumbnails): from the S3 event's time of the
    object the step took (the upload, the original) to the step done with it, its wait in the
    queue included. The two add up to an upload's way to READY (the dashboard's p50 and p99)."""
    _with_dimension("ProcessingMilliseconds", MetricUnit.Milliseconds, milliseconds, "step", step)


def _with_dimension(name: str, unit: MetricUnit, value: float, dimension: str, label: str) -> None:
    """One metric with a dimension of its own (a low-cardinality one: a code, a step). Metrics'
    dimensions apply to a whole flush, and one batch can hold several labels, so each value is its
    own EMF blob."""
    dimensions = {"service": str(metrics.service)} if metrics.service else {}
    with single_metric(
        name=name,
        unit=unit,
        value=value,
        namespace=metrics.namespace,
        default_dimensions={**dimensions, **metrics.default_dimensions},
    ) as metric:
        metric.add_dimension(name=dimension, value=label)


__all__ = ["MetricUnit", "count_rejection", "logger", "metrics", "record_processing"]
