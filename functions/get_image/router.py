"""Placeholder router for get_image (being written)."""

from fastapi import APIRouter

router = APIRouter()
