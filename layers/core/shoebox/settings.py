"""Typed settings read from the environment, once, failing fast with the variable's name."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache

MIB = 1024 * 1024
GIB = 1024 * MIB


class SettingsError(RuntimeError):
    """A required environment variable is missing or malformed."""


def _text(env: Mapping[str, str], name: str) -> str:
    value = env.get(name, "").strip()
    if not value:
        raise SettingsError(f"environment variable {name} is required")
    return value


def _integer(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"environment variable {name} must be an integer, got {raw!r}") from None
    if value < 1:
        raise SettingsError(f"environment variable {name} must be at least 1, got {value}")
    return value


@dataclass(frozen=True)
class Settings:
    table_name: str
    uploads_bucket: str
    media_bucket: str
    max_upload_bytes: int = 25 * MIB
    max_pixels: int = 100_000_000
    max_frames: int = 1000
    max_total_pixels: int = 100_000_000  # over all frames: why, in validate_upload.rules.Limits
    max_image_cpu_ms: int = 2000  # estimated from the headers: validate_upload.rules.Limits
    max_receive_count: int = 3
    upload_url_ttl_seconds: int = 900
    pending_ttl_seconds: int = 86_400
    # Quotas and back-pressure per owner (SPEC §3; stack parameters MaxImagesPerOwner, ...).
    max_images_per_owner: int = 10_000
    max_bytes_per_owner: int = 10 * GIB
    max_pending_per_owner: int = 50
    max_multipart_upload_bytes: int = 100 * MIB

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> Settings:
        return cls(
            table_name=_text(env, "TABLE_NAME"),
            uploads_bucket=_text(env, "UPLOADS_BUCKET"),
            media_bucket=_text(env, "MEDIA_BUCKET"),
            max_upload_bytes=_integer(env, "MAX_UPLOAD_BYTES", cls.max_upload_bytes),
            max_pixels=_integer(env, "MAX_PIXELS", cls.max_pixels),
            max_frames=_integer(env, "MAX_FRAMES", cls.max_frames),
            max_total_pixels=_integer(env, "MAX_TOTAL_PIXELS", cls.max_total_pixels),
            max_image_cpu_ms=_integer(env, "MAX_IMAGE_CPU_MS", cls.max_image_cpu_ms),
            max_receive_count=_integer(env, "MAX_RECEIVE_COUNT", cls.max_receive_count),
            upload_url_ttl_seconds=_integer(env, "UPLOAD_URL_TTL_SECONDS", cls.upload_url_ttl_seconds),
            pending_ttl_seconds=_integer(env, "PENDING_TTL_SECONDS", cls.pending_ttl_seconds),
            max_images_per_owner=_integer(env, "MAX_IMAGES_PER_OWNER", cls.max_images_per_owner),
            max_bytes_per_owner=_integer(env, "MAX_BYTES_PER_OWNER", cls.max_bytes_per_owner),
            max_pending_per_owner=_integer(env, "MAX_PENDING_PER_OWNER", cls.max_pending_per_owner),
            max_multipart_upload_bytes=_integer(
                env, "MAX_MULTIPART_UPLOAD_BYTES", cls.max_multipart_upload_bytes
            ),
        )


class TableName:
    """Resolves a model's Meta.table_name from the settings on each use, so importing a model
    reads no configuration (PynamoDB reads Meta.table_name when it first connects)."""

    def __get__(self, instance: object, owner: type) -> str:
        return get_settings().table_name


@cache
def get_settings() -> Settings:
    """The process's settings, read on first use (not at import, so tests can set the env)."""
    return Settings.from_env()
