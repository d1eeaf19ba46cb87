"""Placeholder router for create_upload (being written)."""

from fastapi import APIRouter

router = APIRouter()
