"""Lambda entry point of ValidateFunction: SQS batches of S3 events for `incoming/` uploads."""

from shoebox import keys, pipeline
from validate_upload.service import ValidateUpload

handler = pipeline.sqs_handler(ValidateUpload.from_settings, prefix=keys.INCOMING_PREFIX)
