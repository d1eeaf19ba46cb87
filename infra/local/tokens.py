"""The local identity provider and the checks API Gateway's JWT authorizer makes.

A key pair is created on first start and kept in the local state folder, so tokens survive a
restart. Verification goes through the public JWKS only, with the authorizer's rules: the token
may carry a `Bearer` prefix; asymmetric algorithms only (RS*/ES*; `none` and HMAC are refused);
the `kid` must name a key of the set; `iss` must be the issuer; `aud` (or, without `aud`,
`client_id`) one of the audiences; `exp` required and in the future; `nbf` and `iat`, when
present, not in the future. (The template's routes require no scopes; the token's scopes are
handed to the function, as the authorizer does.)
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt

from infra.local.keys import rsa_private_key

DEFAULT_LIFETIME_SECONDS = 12 * 3600
ALGORITHM = "RS256"
# What API Gateway accepts: asymmetric signatures only.
ASYMMETRIC_ALGORITHMS = frozenset({"RS256", "RS384", "RS512", "ES256", "ES384", "ES512"})
_KEY_FILE = "jwt-signing-key.pem"


class TokenRejected(Exception):
    """The authorizer refuses the token (401); `reason` goes in WWW-Authenticate, never the body."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# ------------------------------------------------------------------ the local issuer


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class LocalIssuer:
    """Mints tokens the local gateway accepts; publishes its public key as a JWKS."""

    def __init__(self, state_dir: Path, issuer: str, audience: str) -> None:
        self.issuer = issuer
        self.audience = audience
        self._key = rsa_private_key(state_dir / _KEY_FILE)
        jwk: dict[str, Any] = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self._key.public_key()))
        # RFC 7638 thumbprint: a stable kid derived from the key itself.
        thumbprint = json.dumps({name: jwk[name] for name in ("e", "kty", "n")}, separators=(",", ":"))
        self.kid = _b64url(hashlib.sha256(thumbprint.encode()).digest())
        self._jwk = {**jwk, "kid": self.kid, "alg": ALGORITHM, "use": "sig"}

    def jwks(self) -> dict[str, Any]:
        return {"keys": [dict(self._jwk)]}

    def discovery(self) -> dict[str, Any]:
        """The OpenID discovery document, where an authorizer finds the JWKS."""
        return {
            "issuer": self.issuer,
            "jwks_uri": f"{self.issuer}/.well-known/jwks.json",
            "id_token_signing_alg_values_supported": [ALGORITHM],
            "response_types_supported": ["token"],
            "subject_types_supported": ["public"],
        }

    def mint(self, sub: str, *, expires_in: int = DEFAULT_LIFETIME_SECONDS, **claims: Any) -> str:
        """A signed token for `sub`; `claims` add to or replace the standard ones, and a claim
        given as None is left out (tests make expired, foreign or aud-less tokens that way)."""
        now = int(time.time())
        payload: dict[str, Any] = {
            "iss": self.issuer,
            "sub": sub,
            "aud": self.audience,
            "iat": now,
            "nbf": now,
            "exp": now + expires_in,
            "jti": uuid.uuid4().hex,
            "token_use": "access",
            **claims,
        }
        present = {name: value for name, value in payload.items() if value is not None}
        return jwt.encode(present, self._key, algorithm=ALGORITHM, headers={"kid": self.kid})


# ------------------------------------------------------------------ the authorizer's checks


@dataclass(frozen=True)
class Verified:
    claims: dict[str, Any]
    scopes: list[str] | None


def bearer_token(header_value: str | None) -> str:
    """The token from the identity source: with or without a `Bearer` prefix, like API Gateway."""
    if not header_value or not header_value.strip():
        raise TokenRejected("missing token")
    parts = header_value.strip().split()
    if len(parts) == 2 and parts[0].lower() == "bearer":
        return parts[1]
    if len(parts) == 1:
        return parts[0]
    raise TokenRejected("malformed authorization header")


def _scopes(claims: Mapping[str, Any]) -> list[str] | None:
    raw = claims.get("scope", claims.get("scp"))
    if raw is None:
        return None
    return raw.split() if isinstance(raw, str) else [str(item) for item in raw]


def verify(token: str, jwks: Mapping[str, Any], *, issuer: str, audiences: Iterable[str]) -> Verified:
    """The claims of a token that passes API Gateway's JWT authorizer checks, else TokenRejected."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.InvalidTokenError as exc:
        raise TokenRejected("malformed token") from exc
    algorithm = header.get("alg")
    if algorithm not in ASYMMETRIC_ALGORITHMS:
        raise TokenRejected(f"signing algorithm {algorithm!r} is not accepted")
    keys = [key for key in jwks.get("keys", []) if key.get("kid") == header.get("kid")]
    if not keys or keys[0].get("alg", algorithm) != algorithm:
        raise TokenRejected("no key of the JWKS matches the token's kid and algorithm")
    try:
        # PyJWT checks the signature, iss, exp (required), and nbf and iat (not in the future).
        key = jwt.PyJWK(keys[0], algorithm=algorithm).key
        claims: dict[str, Any] = jwt.decode(
            token,
            key,
            algorithms=[algorithm],
            issuer=issuer,
            options={"require": ["exp"], "verify_aud": False},
        )
    except jwt.PyJWTError as exc:
        raise TokenRejected(f"invalid token: {exc}") from exc
    if not all(isinstance(claims.get(name, 0), (int, float)) for name in ("exp", "nbf", "iat")):
        raise TokenRejected("exp, nbf and iat must be numbers (PyJWT takes numeric strings too)")
    offered = claims["aud"] if "aud" in claims else claims.get("client_id")
    offered = [offered] if isinstance(offered, str) else offered if isinstance(offered, list) else []
    if not set(offered) & set(audiences):
        raise TokenRejected("the token's audience is not accepted")
    return Verified(claims, _scopes(claims))
