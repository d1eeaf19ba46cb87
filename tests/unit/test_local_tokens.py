"""The local stack's JWT checks (API Gateway's JWT authorizer rules), without a stack: every way
a token can be wrong is refused, a good one passes with its claims and scopes."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from infra.local.tokens import LocalIssuer, TokenRejected, bearer_token, verify

ISSUER = "http://127.0.0.1:3000/_local"
AUDIENCE = "shoebox-local"


@pytest.fixture(scope="module")
def issuer(tmp_path_factory: pytest.TempPathFactory) -> LocalIssuer:
    return LocalIssuer(tmp_path_factory.mktemp("issuer"), ISSUER, AUDIENCE)


def check(issuer: LocalIssuer, authorization: str | None) -> dict[str, Any]:
    """What the gateway does with an Authorization header: the verified claims, or TokenRejected."""
    verified = verify(bearer_token(authorization), issuer.jwks(), issuer=ISSUER, audiences=[AUDIENCE])
    return verified.claims


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _segments(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """A token's header and claims, unverified."""
    header, payload, _ = token.split(".")
    decode = lambda part: json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))  # noqa: E731
    return decode(header), decode(payload)


def _unsigned(header: dict[str, Any], payload: dict[str, Any]) -> str:
    return f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(payload).encode())}"


def forged(issuer: LocalIssuer) -> dict[str, str | None]:
    """Authorization header values the JWT authorizer must refuse, by what is wrong."""
    good = issuer.mint("mallory")
    header, payload = _segments(good)
    now = int(time.time())
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public_key = jwt.PyJWK(issuer.jwks()["keys"][0]).key
    public_pem = public_key.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    hs_input = _unsigned({**header, "alg": "HS256"}, payload)
    hs_signature = _b64(hmac.new(public_pem, hs_input.encode(), hashlib.sha256).digest())
    same_kid = {"kid": header["kid"]}
    tampered_payload = _b64(json.dumps({**payload, "sub": "alice"}).encode())
    return {
        "missing": None,
        "empty": "",
        "other scheme": f"Basic {good}",
        "bearer without token": "Bearer",
        "not a jwt": "Bearer not-a-jwt",
        "expired": f"Bearer {issuer.mint('mallory', iat=now - 7200, nbf=now - 7200, exp=now - 60)}",
        "no exp": f"Bearer {issuer.mint('mallory', exp=None)}",
        "exp not a number": f"Bearer {issuer.mint('mallory', exp='tomorrow')}",
        "exp a numeric string": f"Bearer {issuer.mint('mallory', exp=str(now + 3600))}",
        "iat a numeric string": f"Bearer {issuer.mint('mallory', iat=str(now))}",
        "not yet valid": f"Bearer {issuer.mint('mallory', nbf=now + 3600)}",
        "issued in the future": f"Bearer {issuer.mint('mallory', iat=now + 3600)}",
        "alg none": f"Bearer {_unsigned({**header, 'alg': 'none'}, payload)}.",
        "hmac with the public key": f"Bearer {hs_input}.{hs_signature}",
        "signed by another key": f"Bearer {jwt.encode(payload, other_key, 'RS256', headers=same_kid)}",
        "unknown kid": f"Bearer {jwt.encode(payload, other_key, 'RS256', headers={'kid': 'other'})}",
        "wrong issuer": f"Bearer {issuer.mint('mallory', iss='https://issuer.example')}",
        "wrong audience": f"Bearer {issuer.mint('mallory', aud='someone-else')}",
        "foreign client_id, no aud": f"Bearer {issuer.mint('mallory', aud=None, client_id='other')}",
        "tampered": "Bearer " + ".".join([good.split(".")[0], tampered_payload, good.split(".")[2]]),
    }


def test_every_forged_token_is_refused(issuer: LocalIssuer) -> None:
    # The reason goes in WWW-Authenticate: every refusal has one.
    reasons = {problem: refusal(issuer, authorization) for problem, authorization in forged(issuer).items()}
    assert [problem for problem, reason in reasons.items() if not reason] == []


def refusal(issuer: LocalIssuer, authorization: str | None) -> str | None:
    try:
        check(issuer, authorization)
    except TokenRejected as refused:
        return refused.reason
    return None


def test_a_good_token_passes_with_or_without_the_bearer_prefix(issuer: LocalIssuer) -> None:
    token = issuer.mint("alice", scope="openid email")
    for authorization in (f"Bearer {token}", f"bearer {token}", token, f"  Bearer {token}  "):
        claims = check(issuer, authorization)
        assert (claims["sub"], claims["iss"], claims["aud"]) == ("alice", ISSUER, AUDIENCE)
    verified = verify(token, issuer.jwks(), issuer=ISSUER, audiences=[AUDIENCE])
    assert verified.scopes == ["openid", "email"]
    assert verify(issuer.mint("bob"), issuer.jwks(), issuer=ISSUER, audiences=[AUDIENCE]).scopes is None


def test_client_id_stands_in_for_a_missing_aud(issuer: LocalIssuer) -> None:
    # Cognito access tokens carry client_id and no aud; the authorizer accepts them.
    token = issuer.mint("dave", aud=None, client_id=AUDIENCE)
    assert "aud" not in _segments(token)[1]
    assert check(issuer, f"Bearer {token}")["sub"] == "dave"


def test_tokens_last_twelve_hours_unless_asked(issuer: LocalIssuer) -> None:
    _, claims = _segments(issuer.mint("erin"))
    assert claims["exp"] - claims["iat"] == 12 * 3600
    _, short = _segments(issuer.mint("erin", expires_in=60))
    assert short["exp"] - short["iat"] == 60


def test_the_key_pair_survives_a_restart_and_only_its_public_half_is_published(tmp_path: Path) -> None:
    first = LocalIssuer(tmp_path, ISSUER, AUDIENCE)
    token = first.mint("frank")
    again = LocalIssuer(tmp_path, ISSUER, AUDIENCE)
    assert verify(token, again.jwks(), issuer=ISSUER, audiences=[AUDIENCE]).claims["sub"] == "frank"
    (key,) = again.jwks()["keys"]
    assert key["kid"] == _segments(token)[0]["kid"]
    assert "d" not in key
    assert (tmp_path / "jwt-signing-key.pem").stat().st_mode & 0o077 == 0  # the owner's alone
    assert again.discovery()["jwks_uri"] == f"{ISSUER}/.well-known/jwks.json"
