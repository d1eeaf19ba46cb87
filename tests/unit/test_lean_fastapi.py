"""shoebox.lean_fastapi: an API function's import builds no OpenAPI model and imports no
pydantic.v1, and the OpenAPI document stays the same. Each check runs in a fresh interpreter, as a
Lambda init does (this test process has imported FastAPI long before)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _run(code: str) -> str:
    environment = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(str(ROOT / part) for part in ("functions", "layers/core", ".")),
    }
    environment.pop("AWS_LAMBDA_FUNCTION_NAME", None)  # no clients made at import
    done = subprocess.run(
        [sys.executable, "-c", code], env=environment, cwd=ROOT, capture_output=True, text=True, check=True
    )
    return done.stdout


def test_an_api_function_imports_no_openapi_model_and_no_pydantic_v1() -> None:
    found = json.loads(
        _run(
            "import json, sys\n"
            "import create_upload.handler\n"
            "from fastapi.openapi import models\n"
            "from pydantic import BaseModel\n"
            "built = sorted(name for name, item in vars(models).items() if isinstance(item, type)"
            " and issubclass(item, BaseModel) and item.__module__ == models.__name__"
            " and item.__pydantic_complete__)\n"
            "print(json.dumps({'built': built, 'pydantic_v1': 'pydantic.v1' in sys.modules}))"
        )
    )
    # models.py itself rebuilds Schema, Operation and Encoding (self-references); of the other
    # ~30, only the one FastAPI instantiates at import (OAuthFlows, a default value) is built.
    assert found == {"built": ["Encoding", "OAuthFlows", "Operation", "Schema"], "pydantic_v1": False}


def test_the_openapi_document_is_the_same_with_the_models_deferred() -> None:
    write = "import json\nfrom infra.openapi import build_openapi\nprint(json.dumps(build_openapi()))"
    deferred = _run("import health  # first: FastAPI's models deferred\n" + write)
    built = _run("import fastapi  # first: FastAPI's models built at import\n" + write)
    assert json.loads(deferred) == json.loads(built)
    assert '"/v1/uploads"' in deferred


def test_a_pydantic_v1_model_is_still_recognised_once_pydantic_v1_is_imported() -> None:
    found = _run(
        "import warnings\n"
        "import health\n"
        "from fastapi._compat import shared\n"
        "with warnings.catch_warnings():\n"
        "    warnings.simplefilter('ignore')\n"
        "    from pydantic import v1\n"
        "class Old(v1.BaseModel):\n"
        "    x: int\n"
        "print(shared.is_pydantic_v1_model_class(Old), shared.is_pydantic_v1_model_instance(Old(x=1)))"
    )
    assert found.split() == ["True", "True"]
