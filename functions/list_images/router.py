"""Placeholder router for list_images (being written)."""

from fastapi import APIRouter

router = APIRouter()
