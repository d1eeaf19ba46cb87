"""Lambda entry point of the delete_share function."""

from delete_share.router import router
from shoebox import records
from shoebox.app import create_app, lambda_handler

app = create_app(router)
handler = lambda_handler(app, clients=(records.connect,))
