"""Placeholder router for delete_image (being written)."""

from fastapi import APIRouter

router = APIRouter()
