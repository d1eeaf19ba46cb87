"""Lambda entry point of HealthFunction."""

from health.router import router
from shoebox.app import create_app, lambda_handler

app = create_app(router)
handler = lambda_handler(app, clients=())
