"""Lambda entry point of ThumbnailFunction: SQS batches of S3 events for stored `originals/`."""

from typing import Any

from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.typing import LambdaContext

from make_thumbnails.service import MakeThumbnails
from shoebox import aws, keys, pipeline
from shoebox.objects import ObjectStore
from shoebox.observability import logger, metrics
from shoebox.settings import get_settings


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    settings = get_settings()
    return pipeline.process_batch(
        event,
        context,
        MakeThumbnails.from_settings(settings, ObjectStore(aws.s3())),
        prefix=keys.ORIGINALS_PREFIX,
        max_receive_count=settings.max_receive_count,
    )
