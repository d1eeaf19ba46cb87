"""Lambda entry point of ThumbnailFunction: SQS batches of S3 events for stored `originals/`."""

from make_thumbnails.service import MakeThumbnails
from shoebox import keys, pipeline

handler = pipeline.sqs_handler(MakeThumbnails.from_settings, prefix=keys.ORIGINALS_PREFIX)
