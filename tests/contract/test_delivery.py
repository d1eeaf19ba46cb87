"""template.yaml's CDN ⇄ what the code and the SPEC expect: the media bucket is read only through the
distribution, which checks our signatures, keys its cache on the path alone and forbids sniffing and
scripts; the functions that sign get exactly the settings shoebox.cdn reads."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from infra.local.template import Template, load_template
from infra.local.topology import Topology
from shoebox import cdn, shares

ROOT = Path(__file__).resolve().parents[2]
DOCUMENT = load_template(ROOT / "template.yaml")
RESOURCES: dict[str, Any] = DOCUMENT["Resources"]
SIGNERS = (
    "CreateUploadFunction",  # a duplicate's READY image
    "ListImagesFunction",
    "GetImageFunction",
    "GetContentFunction",
    "ViewShareFunction",
    "GetSharedContentFunction",
)
TOKEN_KEEPERS = ("CreateShareFunction", "ListSharesFunction", "ViewShareFunction", "GetSharedContentFunction")


def topology() -> Topology:
    return Topology(Template(DOCUMENT, aws_url="http://127.0.0.1:4566"), ROOT)


def properties(logical_id: str) -> dict[str, Any]:
    return dict(RESOURCES[logical_id]["Properties"])


def test_the_media_bucket_is_private_and_only_the_distribution_reads_it() -> None:
    block = properties("MediaBucket")["PublicAccessBlockConfiguration"]
    assert all(
        block[name] is True
        for name in ("BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets")
    )
    policies = [
        props for props in map(properties, RESOURCES) if props.get("Bucket") == {"Ref": "MediaBucket"}
    ]
    assert len(policies) == 1
    statements = policies[0]["PolicyDocument"]["Statement"]
    allows = [statement for statement in statements if statement["Effect"] == "Allow"]
    source_arn = "arn:${AWS::Partition}:cloudfront::${AWS::AccountId}:distribution/${CdnDistribution}"
    assert allows == [
        {
            "Sid": "CdnReadsVariants",
            "Effect": "Allow",
            "Principal": {"Service": "cloudfront.amazonaws.com"},
            "Action": "s3:GetObject",
            "Resource": [
                {"Fn::Sub": "${MediaBucket.Arn}/originals/*"},
                {"Fn::Sub": "${MediaBucket.Arn}/thumbnails/*"},
            ],
            "Condition": {"StringEquals": {"aws:SourceArn": {"Fn::Sub": source_arn}}},
        }
    ]
    denies = [statement for statement in statements if statement["Effect"] == "Deny"]
    assert [deny["Condition"] for deny in denies] == [{"Bool": {"aws:SecureTransport": "false"}}]


def test_the_distribution_serves_the_media_bucket_through_oac_to_signed_https_requests() -> None:
    config = properties("CdnDistribution")["DistributionConfig"]
    (origin,) = config["Origins"]
    assert origin["DomainName"] == {"Fn::GetAtt": ["MediaBucket", "RegionalDomainName"]}
    assert origin["OriginAccessControlId"] == {"Fn::GetAtt": ["CdnOriginAccessControl", "Id"]}
    assert origin["S3OriginConfig"] == {"OriginAccessIdentity": ""}
    assert properties("CdnOriginAccessControl")["OriginAccessControlConfig"]["SigningBehavior"] == "always"
    behavior = config["DefaultCacheBehavior"]
    assert "CacheBehaviors" not in config  # one behavior: every path needs a signature
    assert behavior["TargetOriginId"] == origin["Id"]
    assert behavior["ViewerProtocolPolicy"] == "https-only"
    assert behavior["AllowedMethods"] == ["GET", "HEAD"]
    assert behavior["TrustedKeyGroups"] == [{"Ref": "CdnKeyGroup"}]
    assert behavior["CachePolicyId"] == {"Ref": "CdnCachePolicy"}
    assert behavior["ResponseHeadersPolicyId"] == {"Ref": "CdnResponseHeadersPolicy"}


def test_the_cache_key_is_the_path_alone() -> None:
    config = properties("CdnCachePolicy")["CachePolicyConfig"]
    key = config["ParametersInCacheKeyAndForwardedToOrigin"]
    assert key["QueryStringsConfig"] == {"QueryStringBehavior": "none"}  # Expires/Signature vary
    assert key["HeadersConfig"] == {"HeaderBehavior": "none"}
    assert key["CookiesConfig"] == {"CookieBehavior": "none"}
    assert config["DefaultTTL"] >= 365 * 86_400


def test_responses_forbid_sniffing_and_scripts_and_cache_for_long() -> None:
    config = properties("CdnResponseHeadersPolicy")["ResponseHeadersPolicyConfig"]
    security = config["SecurityHeadersConfig"]
    assert security["ContentTypeOptions"] == {"Override": True}
    csp = security["ContentSecurityPolicy"]
    assert csp["Override"] is True
    directives = {}
    for directive in csp["ContentSecurityPolicy"].split(";"):
        name, _, value = directive.strip().partition(" ")
        directives[name] = value
    assert directives["default-src"] == "'none'"  # so script-src falls back to 'none'
    assert "script-src" not in directives
    assert "sandbox" in directives
    (cache_control,) = [
        item for item in config["CustomHeadersConfig"]["Items"] if item["Header"] == "Cache-Control"
    ]
    values = {value.strip() for value in cache_control["Value"].split(",")}
    assert {"public", "immutable", "max-age=31536000"} <= values


def test_the_key_group_trusts_the_keys_of_both_slots_and_a_key_is_required() -> None:
    items = properties("CdnKeyGroup")["KeyGroupConfig"]["Items"]
    assert items == [
        {"Fn::If": ["HasCdnKeyA", {"Ref": "CdnPublicKeyA"}, {"Ref": "AWS::NoValue"}]},
        {"Fn::If": ["HasCdnKeyB", {"Ref": "CdnPublicKeyB"}, {"Ref": "AWS::NoValue"}]},
    ]
    assertion = DOCUMENT["Rules"]["CdnKeyGiven"]["Assertions"][0]["Assert"]
    assert assertion == {
        "Fn::Or": [
            {"Fn::Not": [{"Fn::Equals": [{"Ref": "CdnPublicKeyPemA"}, ""]}]},
            {"Fn::Not": [{"Fn::Equals": [{"Ref": "CdnPublicKeyPemB"}, ""]}]},
        ]
    }


def test_the_window_default_is_the_codes() -> None:
    assert DOCUMENT["Parameters"]["DeliveryUrlWindowSeconds"]["Default"] == cdn.DEFAULT_WINDOW_SECONDS


@pytest.mark.parametrize("function", SIGNERS)
def test_signing_functions_get_what_cdn_settings_read(function: str) -> None:
    local = topology()
    settings = cdn.CdnSettings.from_env(local.functions[function].environment)
    assert settings.base_url.startswith("https://")
    assert settings.private_key_secret == local.template.name("CdnSigningKeySecret")
    assert settings.window_seconds == cdn.DEFAULT_WINDOW_SECONDS


@pytest.mark.parametrize("function", TOKEN_KEEPERS)
def test_token_functions_get_what_share_settings_read(function: str) -> None:
    local = topology()
    settings = shares.ShareSettings.from_env(local.functions[function].environment)
    assert settings.key_secret == local.template.name("ShareKeySecret")
    assert settings.max_seconds == shares.DEFAULT_MAX_SECONDS


def test_the_share_key_is_generated_long_enough_and_the_longest_share_is_the_codes() -> None:
    generated = properties("ShareKeySecret")["GenerateSecretString"]
    assert generated["PasswordLength"] >= 64 >= shares.MIN_KEY_BYTES
    assert "SecretStringTemplate" not in generated  # the whole value is the key (shares.share_key)
    assert DOCUMENT["Parameters"]["MaxShareSeconds"]["Default"] == shares.DEFAULT_MAX_SECONDS
    environment = properties("CreateShareFunction")["Environment"]["Variables"]
    assert environment["MAX_SHARE_SECONDS"] == {"Ref": "MaxShareSeconds"}
