"""Lambda entry point of the get_upload function."""

from get_upload.router import router
from shoebox import aws, records
from shoebox.app import create_app, lambda_handler

app = create_app(router)
handler = lambda_handler(app, clients=(aws.s3, records.connect))
