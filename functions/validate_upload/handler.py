"""Lambda entry point of ValidateFunction: SQS batches of S3 events for `incoming/` uploads."""

from typing import Any

from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.typing import LambdaContext

from shoebox import aws, keys, pipeline
from shoebox.objects import ObjectStore
from shoebox.observability import logger, metrics
from shoebox.settings import get_settings
from validate_upload.service import ValidateUpload


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    settings = get_settings()
    return pipeline.process_batch(
        event,
        context,
        ValidateUpload.from_settings(settings, ObjectStore(aws.s3())),
        prefix=keys.INCOMING_PREFIX,
        max_receive_count=settings.max_receive_count,
    )
