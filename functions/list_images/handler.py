"""Lambda entry point of the list_images function."""

from list_images.router import router
from shoebox.app import create_app, lambda_handler

app = create_app(router)
handler = lambda_handler(app, clients=("dynamodb", "secretsmanager"))
