"""The local CDN's pure parts, without a stack: the key material kept in the state folder, the
secrets' local values, what the template's distribution serves and with which headers, and the
URL a signature is checked against."""

from __future__ import annotations

import json
import stat
import string
import time
from pathlib import Path
from typing import Any

import pytest
from starlette.requests import Request

from infra.local.cdn import read_distribution, requested_url, response_headers
from infra.local.keys import CdnKeyPair, created_once, generated_secret, secret_strings
from infra.local.template import Template, TemplateError, load_template
from infra.local.topology import Topology
from shoebox import cdn

ROOT = Path(__file__).resolve().parents[2]
LOCAL = {"JwtIssuer": "http://127.0.0.1:3000/_local", "JwtAudience": "shoebox-local"}


def template() -> Template:
    return Template(load_template(ROOT / "template.yaml"), LOCAL, aws_url="http://127.0.0.1:4566")


# ------------------------------------------------------------------ key material


def test_a_state_file_is_made_once_readable_by_its_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "state" / "value"
    made: list[bytes] = []

    def make() -> bytes:
        made.append(b"first")
        return made[-1]

    assert created_once(path, make) == b"first"
    assert created_once(path, lambda: b"second") == b"first"
    assert made == [b"first"]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [item.name for item in path.parent.iterdir()] == ["value"]  # no temporary left behind


def test_the_cdn_key_pair_survives_a_restart_and_fills_the_secret_as_ops_would(tmp_path: Path) -> None:
    first, again = CdnKeyPair.load(tmp_path), CdnKeyPair.load(tmp_path)
    assert first.key_pair_id == again.key_pair_id
    assert first.key_pair_id.startswith("K")
    assert len(first.key_pair_id) == 14
    assert first.key_pair_id != CdnKeyPair.load(tmp_path / "other").key_pair_id

    # What the signing functions read from the secret signs URLs the local CDN accepts.
    signing_key = cdn.parse_signing_key(first.secret_string())
    assert signing_key.key_pair_id == first.key_pair_id
    url = "http://127.0.0.1:3000/cdn/thumbnails/abc/256.webp"
    signed = cdn.sign_url(
        url,
        expires=int(time.time()) + 60,
        key_pair_id=signing_key.key_pair_id,
        private_key=signing_key.private_key,
    )
    assert cdn.verify_url(signed, public_keys=again.public_keys(), now=time.time()) == url


def test_a_generated_secret_follows_its_options_and_is_kept(tmp_path: Path) -> None:
    options = {"PasswordLength": 64, "ExcludePunctuation": True}
    value = generated_secret(tmp_path / "share", options)
    assert len(value) == 64
    assert set(value) <= set(string.ascii_letters + string.digits)
    assert generated_secret(tmp_path / "share", options) == value
    assert generated_secret(tmp_path / "other", options) != value

    digits = generated_secret(
        tmp_path / "digits",
        {
            "PasswordLength": "40",
            "ExcludeLowercase": "true",
            "ExcludeUppercase": True,
            "ExcludePunctuation": True,
            "ExcludeCharacters": "0",
        },
    )
    assert len(digits) == 40
    assert set(digits) <= set("123456789")


def test_generate_options_the_local_stack_does_not_apply_are_named(tmp_path: Path) -> None:
    with pytest.raises(TemplateError, match="GenerateStringKey"):
        generated_secret(tmp_path / "x", {"GenerateStringKey": "password", "SecretStringTemplate": "{}"})
    with pytest.raises(TemplateError, match="nothing to generate"):
        generated_secret(tmp_path / "y", {"ExcludeCharacters": string.printable})


def test_each_secret_gets_its_local_value(tmp_path: Path) -> None:
    document: dict[str, Any] = {
        "Resources": {
            "Api": {"Type": "AWS::Serverless::HttpApi", "Properties": {}},
            "Signer": {
                "Type": "AWS::Serverless::Function",
                "Properties": {
                    "CodeUri": "functions/",
                    "Handler": "get_image.handler.handler",
                    "Environment": {"Variables": {"CDN_PRIVATE_KEY_SECRET": {"Ref": "SigningKey"}}},
                },
            },
            "SigningKey": {"Type": "AWS::SecretsManager::Secret", "Properties": {}},
            "ShareKey": {
                "Type": "AWS::SecretsManager::Secret",
                "Properties": {"GenerateSecretString": {"PasswordLength": 64, "ExcludePunctuation": True}},
            },
            "FilledByOps": {"Type": "AWS::SecretsManager::Secret", "Properties": {}},
        }
    }
    key = CdnKeyPair.load(tmp_path)
    values = secret_strings(Topology(Template(document), ROOT), tmp_path, key)

    assert set(values) == {"SigningKey", "ShareKey"}  # FilledByOps stays empty, as in AWS
    assert json.loads(values["SigningKey"])["key_pair_id"] == key.key_pair_id
    assert len(values["ShareKey"]) == 64
    assert secret_strings(Topology(Template(document), ROOT), tmp_path, key) == values


def test_the_templates_signing_secret_gets_the_cdn_key_pair(tmp_path: Path) -> None:
    key = CdnKeyPair.load(tmp_path)
    values = secret_strings(Topology(template(), ROOT), tmp_path, key)
    assert values["CdnSigningKeySecret"] == key.secret_string()


# ------------------------------------------------------------------ the distribution


def test_the_distribution_serves_the_media_bucket_s_variants_with_the_policy_s_headers() -> None:
    distribution = read_distribution(template())

    assert distribution.bucket == template().name("MediaBucket")
    assert distribution.prefixes == ("originals/", "thumbnails/")
    # The template's CdnResponseHeadersPolicy, as CloudFront writes it on each response.
    assert dict(distribution.headers) == {
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; sandbox",
        "X-Frame-Options": "DENY",
        "Referrer-Policy": "no-referrer",
        "Strict-Transport-Security": "max-age=31536000",
        "Cache-Control": "public, max-age=31536000, immutable",
    }


def test_policy_parts_the_local_cdn_does_not_apply_are_named() -> None:
    with pytest.raises(TemplateError, match="CorsConfig"):
        response_headers({"Name": "x", "CorsConfig": {}})
    with pytest.raises(TemplateError, match="XSSProtection"):
        response_headers({"SecurityHeadersConfig": {"XSSProtection": {"Protection": True, "Override": True}}})
    hsts = {"AccessControlMaxAgeSec": 60, "IncludeSubdomains": True, "Preload": "true", "Override": True}
    assert response_headers({"SecurityHeadersConfig": {"StrictTransportSecurity": hsts}}) == (
        ("Strict-Transport-Security", "max-age=60; includeSubDomains; preload"),
    )


def test_a_signature_is_checked_against_the_url_as_requested() -> None:
    scope = {
        "type": "http",
        "method": "GET",
        "scheme": "http",
        "server": ("127.0.0.1", 3000),
        "path": "/cdn/thumbnails/a b/256.webp",
        "raw_path": b"/cdn/thumbnails/a%20b/256.webp",
        "query_string": b"Expires=1&Signature=a~b_&Key-Pair-Id=K1",
        "headers": [(b"host", b"localhost:3000")],
    }
    assert requested_url(Request(scope)) == (
        "http://localhost:3000/cdn/thumbnails/a%20b/256.webp?Expires=1&Signature=a~b_&Key-Pair-Id=K1"
    )
