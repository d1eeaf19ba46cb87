"""Lambda entry point of the complete_upload function."""

from complete_upload.router import router
from shoebox import aws, records
from shoebox.app import create_app, lambda_handler

app = create_app(router)
handler = lambda_handler(app, clients=(aws.s3, records.connect))
