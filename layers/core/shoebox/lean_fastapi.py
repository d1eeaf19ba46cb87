"""FastAPI without the import-time work that an API function, which serves no OpenAPI document,
never uses: imported by each API function's package first, before anything imports FastAPI.

Measured with `make bench-coldstart` and `python -X importtime` (README: Cold starts):

* FastAPI's own OpenAPI models (`fastapi.openapi.models`, 36 pydantic models) are built when
  FastAPI is imported. They are only used to write the OpenAPI document, which the Lambda apps
  disable (`openapi_url=None`): here they are defined with pydantic's `defer_build`, so each is
  built on its first use instead (`make openapi` and the local stack's /docs still build them;
  the document is the same: tests/unit/test_lean_fastapi.py). The three that models.py rebuilds
  itself (Schema, Operation, Encoding: most of the work) are still built; the rest are not.
* Every route registration asks whether a model is a `pydantic.v1` one, which imports
  `pydantic.v1` (~50 ms) to find out. No class can derive from `pydantic.v1.BaseModel` unless
  `pydantic.v1` has been imported, so until then the answer is no without importing it.

Both reach into private names of pydantic (`_internal._config.config_defaults`) and FastAPI
(`_compat.shared`), at the versions uv.lock pins; tests/unit/test_lean_fastapi.py fails when an
upgrade moves them. What FastAPI 0.165 imports unconditionally (opentelemetry-api for its
telemetry, ~4%) cannot be avoided from outside.
"""

from __future__ import annotations

import sys
from typing import Any

from pydantic._internal import _config

# Where FastAPI was imported already (tests, the local gateway, `make openapi`), its models are
# built: nothing to defer then, and nothing changes but the pydantic.v1 check below.
_config.config_defaults["defer_build"] = True
try:
    import fastapi._compat
    from fastapi import encoders
    from fastapi._compat import shared
finally:
    _config.config_defaults["defer_build"] = False


def _v1_base_model() -> Any:
    v1 = sys.modules.get("pydantic.v1")
    return None if v1 is None else v1.BaseModel


def is_pydantic_v1_model_class(cls: Any) -> bool:
    base = _v1_base_model()
    return base is not None and shared.lenient_issubclass(cls, base)


def is_pydantic_v1_model_instance(obj: Any) -> bool:
    base = _v1_base_model()
    return base is not None and isinstance(obj, base)


shared.is_pydantic_v1_model_class = is_pydantic_v1_model_class
shared.is_pydantic_v1_model_instance = is_pydantic_v1_model_instance
fastapi._compat.is_pydantic_v1_model_instance = is_pydantic_v1_model_instance
encoders.is_pydantic_v1_model_instance = is_pydantic_v1_model_instance  # type: ignore[attr-defined]
