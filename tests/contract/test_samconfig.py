"""samconfig.toml ⇄ template.yaml: every deploy environment names a stack that can name buckets and
overrides only parameters that the template declares."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import pytest

from infra.local.template import load_template

ROOT = Path(__file__).resolve().parents[2]
ENVIRONMENTS = ("dev", "prod")
# Bucket names are "<stack>-uploads-<12-digit account>" / "<stack>-media-…": at most 63 characters,
# lowercase letters, digits and hyphens.
LONGEST_SUFFIX = len("-uploads-") + 12


@pytest.fixture(scope="module")
def deploys() -> dict[str, dict[str, Any]]:
    config = tomllib.loads((ROOT / "samconfig.toml").read_text())
    return {env: config[env]["deploy"]["parameters"] for env in ENVIRONMENTS}


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_stack_name_can_name_buckets(deploys: dict[str, dict[str, Any]], env: str) -> None:
    stack = deploys[env]["stack_name"]
    assert re.fullmatch(r"[a-z][a-z0-9-]*[a-z0-9]", stack)
    assert len(stack) + LONGEST_SUFFIX <= 63


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_deploy_settings(deploys: dict[str, dict[str, Any]], env: str) -> None:
    deploy = deploys[env]
    assert deploy["capabilities"] == "CAPABILITY_IAM"
    assert deploy["resolve_s3"] is True
    assert deploy["region"]
    assert deploy["confirm_changeset"] is (env == "prod")


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_overrides_name_template_parameters(deploys: dict[str, dict[str, Any]], env: str) -> None:
    parameters = load_template(ROOT / "template.yaml")["Parameters"]
    overridden = {override.split("=", 1)[0] for override in deploys[env]["parameter_overrides"]}
    assert overridden <= set(parameters)
