"""template.yaml translated offline by aws-sam-translator, as `sam deploy` would: what
CloudFormation will really create (the roles, versions, aliases, integrations SAM generates)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import boto3
from samtranslator.parser.parser import Parser
from samtranslator.translator.translator import Translator

from infra.local.template import load_template

TEMPLATE = Path(__file__).resolve().parents[2] / "template.yaml"


def translate() -> dict[str, Any]:
    template = load_template(TEMPLATE)
    for resource in template["Resources"].values():
        properties = resource.get("Properties", {})
        for key in ("CodeUri", "ContentUri"):  # the translator wants what `sam package` uploaded
            if key in properties:
                properties[key] = "s3://artifacts/placeholder.zip"
    # The region only names the partition; no call leaves the process: the managed-policy map
    # (used for policies named by name, which the template has none of) is empty.
    translator = Translator(None, Parser(), boto_session=boto3.session.Session(region_name="us-east-1"))
    translated: dict[str, Any] = translator.translate(
        template, parameter_values={}, get_managed_policy_map=dict
    )
    return translated
