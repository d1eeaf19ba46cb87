"""The one Powertools logger and metrics object every function uses (JSON logs, EMF metrics)."""

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit, single_metric

logger = Logger()
metrics = Metrics()


def count_rejection(code: str) -> None:
    """ImagesRejected by `code`. Metrics' dimensions apply to a whole flush, and one batch can
    reject for several codes, so each rejection is its own EMF blob."""
    dimensions = {"service": str(metrics.service)} if metrics.service else {}
    with single_metric(
        name="ImagesRejected",
        unit=MetricUnit.Count,
        value=1,
        namespace=metrics.namespace,
        default_dimensions={**dimensions, **metrics.default_dimensions},
    ) as metric:
        metric.add_dimension(name="code", value=code)


__all__ = ["MetricUnit", "count_rejection", "logger", "metrics"]
