"""Placeholder router for get_content (being written)."""

from fastapi import APIRouter

router = APIRouter()
