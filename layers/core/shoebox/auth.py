"""Who is calling: the JWT claims API Gateway's authorizer (or the local gateway) verified."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request

from shoebox.errors import Unauthorized


def claims(request: Request) -> dict[str, Any]:
    event = request.scope.get("aws.event") or {}
    authorizer = event.get("requestContext", {}).get("authorizer") or {}
    found: dict[str, Any] = authorizer.get("jwt", {}).get("claims") or {}
    return found


def current_owner(request: Request) -> str:
    """The caller's `sub`. The authorizer has already checked the token; a request without
    claims reached the function some other way and is refused."""
    sub = claims(request).get("sub")
    if not isinstance(sub, str) or not sub:
        raise Unauthorized("a valid bearer token is required")
    return sub


Owner = Annotated[str, Depends(current_owner)]
