"""Lambda entry point of the create_upload function."""

from create_upload.router import router
from shoebox import aws, records
from shoebox.app import create_app, lambda_handler

app = create_app(router)
# No Secrets Manager client at init: only a duplicate (a READY image's signed variant URLs) reads
# the CDN key, and that first read makes it (~5 ms); a new slot, the usual request, never does.
handler = lambda_handler(app, clients=(aws.s3, records.connect))
