"""One OpenAPI document for the whole HTTP API, assembled from every function's router.

`python -m infra.openapi [-o openapi.json]` writes it (stdout without -o); the local gateway
serves it at /openapi.json. The routers are the template's: each function with an HttpApi route
has the handler `X.handler.handler`, whose router is `X.router.router`.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from pathlib import Path
from typing import Any

from fastapi import APIRouter
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from infra.local.template import Template, load_template
from infra.local.topology import Topology
from shoebox.app import create_app
from shoebox.auth import current_owner

REPO_ROOT = Path(__file__).resolve().parents[1]
BEARER = "bearerAuth"
_METHODS = ("get", "put", "post", "delete", "patch", "head", "options")


def routers() -> list[APIRouter]:
    """The router of every function that serves an HttpApi route, in the template's order."""
    topology = Topology(Template(load_template(REPO_ROOT / "template.yaml")), REPO_ROOT)
    routed = {route.function for route in topology.routes}
    packages = [
        spec.handler.split(".", 1)[0] for spec in topology.functions.values() if spec.logical_id in routed
    ]
    found: list[APIRouter] = [importlib.import_module(f"{package}.router").router for package in packages]
    return found


def _needs_owner(dependant: Dependant) -> bool:
    return any(dep.call is current_owner or _needs_owner(dep) for dep in dependant.dependencies)


def build_openapi() -> dict[str, Any]:
    every = routers()
    app = create_app(*every)
    app.description = (
        "Serverless image hosting: ask for an upload slot, send the file straight to S3, "
        "then list, fetch and delete your images. Errors have the body "
        '`{"error": {"code", "message", "details"}}`.'
    )
    document = app.openapi()
    document["components"].setdefault("securitySchemes", {})[BEARER] = {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "RS256/ES256 JWT; `sub` owns the images.",
    }
    # A route needs the token exactly when it depends on the caller's identity.
    # (The routers carry full paths, no include prefix, so their routes are the app's.)
    secured = {
        (route.path, method.lower())
        for router in every
        for route in router.routes
        if isinstance(route, APIRoute) and _needs_owner(route.dependant)
        for method in route.methods or ()
    }
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            if method not in _METHODS:
                continue
            # The API answers validation errors with 400 and the SPEC body, not FastAPI's 422.
            operation["responses"].pop("422", None)
            if (path, method) in secured:
                operation["security"] = [{BEARER: []}]
    schemas = document["components"].get("schemas", {})
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    return document


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.openapi", description=__doc__)
    parser.add_argument("-o", "--output", type=Path, help="file to write (default: stdout)")
    args = parser.parse_args(argv)
    text = json.dumps(build_openapi(), indent=2, sort_keys=False) + "\n"
    if args.output is None:
        sys.stdout.write(text)
    else:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(text)
        print(f"wrote {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
