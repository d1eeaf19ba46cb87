"""Lambda entry point of the get_shared_content function."""

from get_shared_content.router import router
from shoebox.app import create_app, lambda_handler

app = create_app(router)
handler = lambda_handler(app, clients=("dynamodb", "secretsmanager"))
