"""Lambda entry point of the create_share function."""

from create_share.router import router
from shoebox import aws, records
from shoebox.app import create_app, lambda_handler

app = create_app(router)
handler = lambda_handler(app, clients=(records.connect, aws.secretsmanager))
