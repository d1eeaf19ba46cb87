"""Lambda entry point of the view_share function."""

from shoebox import aws, records
from shoebox.app import create_app, lambda_handler
from view_share.router import router

app = create_app(router)
handler = lambda_handler(app, clients=(records.connect, aws.secretsmanager))
