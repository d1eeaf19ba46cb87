"""GET /v1/health: liveness, without auth."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()


@router.get("/v1/health")
def health() -> dict[str, str]:
    return {"status": "ok", "service": "shoebox"}
