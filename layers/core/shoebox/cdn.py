"""CloudFront signed URLs (canned policy): windowed signing for the API, verification for the local CDN.

A canned-policy URL is the object's URL plus `Expires`, `Signature` and `Key-Pair-Id`; the signature
is RSA-SHA1 (PKCS#1 v1.5) over the policy JSON, written without whitespace, in base64 with
CloudFront's URL-safe alphabet (`+` → `-`, `=` → `_`, `/` → `~`). CloudFront checks it at the edge
with the public keys of the distribution's trusted key group; the local gateway's `/cdn/` route
checks it with `verify_url`.

`cryptography` is imported only where a key is loaded or used: the API functions that never sign
(create_upload, delete_image, health) do not pay its import (~45-65 ms measured here).
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING
from urllib.parse import quote

from botocore.exceptions import ClientError

from shoebox import aws
from shoebox.settings import SettingsError, _integer, _text

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, RSAPublicKey

DEFAULT_WINDOW_SECONDS = 86_400
# A rotated key reaches every warm execution environment within this time (see the README's
# "Delivery keys"); between refreshes the key is read once per environment.
KEY_REFRESH_SECONDS = 3600.0
# After a failed refresh the cached key goes on signing, and the next attempt waits this long.
KEY_RETRY_SECONDS = 60.0
# Each environment signs a given URL once per window: a list of 20 images is 80 signatures,
# ~0.4 ms each (RSA-2048, measured here), and the same variants are listed again and again.
SIGNED_URL_CACHE_SIZE = 4096

SIGNATURE_PARAMETERS = ("Expires", "Signature", "Key-Pair-Id")
_TO_CLOUDFRONT = str.maketrans("+=/", "-_~")
_FROM_CLOUDFRONT = str.maketrans("-_~", "+=/")
_CLOUDFRONT_BASE64 = re.compile(r"[A-Za-z0-9~_-]+")
_EPOCH_SECONDS = re.compile(r"[0-9]{1,12}")
_KEY_PAIR_ID = re.compile(r"[A-Za-z0-9_-]{1,128}")


class CdnConfigurationError(RuntimeError):
    """The signing key cannot be had (missing or malformed secret): an operator must act."""


class SignatureRefused(Exception):
    """A URL whose signature does not let it through; `reason` says why (for logs, not clients)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# ------------------------------------------------------------------ pure functions


def window_expiry(now: float, window_seconds: int = DEFAULT_WINDOW_SECONDS) -> int:
    """The `Expires` of a URL issued at `now` (epoch seconds): the end of the window that holds
    now + half a window.

    Every URL issued during one window-long span is the same, so browsers and the CDN cache it; each
    stays valid at least half a window (a page rendered just before the switch still loads its
    images hours later) and at most one and a half (36 h by default): that also bounds how long a
    URL handed out before a share is revoked or an image deleted keeps working.
    """
    if window_seconds < 2:
        raise ValueError(f"window must be at least 2 seconds, got {window_seconds}")
    halfway = int(now) + window_seconds // 2
    return (halfway // window_seconds + 1) * window_seconds


def canned_policy(resource: str, expires: int) -> str:
    """The policy CloudFront rebuilds from a canned-policy URL: exact JSON, no whitespace."""
    statement = {"Resource": resource, "Condition": {"DateLessThan": {"AWS:EpochTime": expires}}}
    return json.dumps({"Statement": [statement]}, separators=(",", ":"))


def cloudfront_b64encode(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii").translate(_TO_CLOUDFRONT)


def cloudfront_b64decode(text: str) -> bytes:
    """Strict: only CloudFront's alphabet (standard `+`, `/`, `=` are refused), padding included."""
    if not _CLOUDFRONT_BASE64.fullmatch(text):
        raise ValueError("not CloudFront base64")
    try:
        return base64.b64decode(text.translate(_FROM_CLOUDFRONT), validate=True)
    except binascii.Error as exc:
        raise ValueError("not CloudFront base64") from exc


def sign_url(url: str, *, expires: int, key_pair_id: str, private_key: RSAPrivateKey) -> str:
    """`url` (the object's URL, with its own query if any) signed with a canned policy."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    signature = private_key.sign(canned_policy(url, expires).encode(), padding.PKCS1v15(), hashes.SHA1())  # noqa: S303 (CloudFront's canned policies are RSA-SHA1)
    separator = "&" if "?" in url else "?"
    return (
        f"{url}{separator}Expires={expires}&Signature={cloudfront_b64encode(signature)}"
        f"&Key-Pair-Id={key_pair_id}"
    )


def verify_url(url: str, *, public_keys: Mapping[str, RSAPublicKey], now: float) -> str:
    """The resource `url` grants (the URL without its signature parameters), if its canned-policy
    signature is by one of `public_keys` (Key-Pair-Id → key) and has not expired; else
    SignatureRefused. `url` is the URL as requested: scheme, host, raw path and raw query."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    base, _, query = url.partition("?")
    found: dict[str, str] = {}
    kept: list[str] = []
    for part in query.split("&") if query else ():
        name, _, value = part.partition("=")
        if name in ("Policy", "Hash-Algorithm"):
            raise SignatureRefused(f"{name} is not a canned-policy parameter")
        if name not in SIGNATURE_PARAMETERS:
            kept.append(part)
        elif name in found:
            raise SignatureRefused(f"{name} given twice")
        else:
            found[name] = value
    missing = [name for name in SIGNATURE_PARAMETERS if name not in found]
    if missing:
        raise SignatureRefused(f"missing {', '.join(missing)}")
    if not _EPOCH_SECONDS.fullmatch(found["Expires"]):
        raise SignatureRefused("Expires is not epoch seconds")
    expires = int(found["Expires"])
    public_key = public_keys.get(found["Key-Pair-Id"])
    if public_key is None:
        raise SignatureRefused("unknown Key-Pair-Id")
    try:
        signature = cloudfront_b64decode(found["Signature"])
    except ValueError:
        raise SignatureRefused("Signature is not CloudFront base64") from None
    resource = f"{base}?{'&'.join(kept)}" if kept else base
    try:
        public_key.verify(
            signature,
            canned_policy(resource, expires).encode(),
            padding.PKCS1v15(),
            hashes.SHA1(),  # noqa: S303 (CloudFront's canned policies are RSA-SHA1)
        )
    except InvalidSignature:
        raise SignatureRefused("signature does not match") from None
    if now >= expires:  # CloudFront's DateLessThan
        raise SignatureRefused("expired")
    return resource


def load_private_key(pem: str | bytes) -> RSAPrivateKey:
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    data = pem.encode() if isinstance(pem, str) else pem
    # The key is our own, from our secret: the RSA consistency check guards against hostile keys
    # and costs ~45 ms of every cold start (measured here), so it is skipped.
    key = load_pem_private_key(data, password=None, unsafe_skip_rsa_key_validation=True)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("CloudFront key pairs are RSA (2048 bits)")
    return key


def load_public_key(pem: str | bytes) -> RSAPublicKey:
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    key = load_pem_public_key(pem.encode() if isinstance(pem, str) else pem)
    if not isinstance(key, rsa.RSAPublicKey):
        raise ValueError("CloudFront key pairs are RSA (2048 bits)")
    return key


@dataclass(frozen=True)
class SigningKey:
    """A CloudFront key pair's id and private key: they change together, in one secret value."""

    key_pair_id: str
    private_key: RSAPrivateKey


def parse_signing_key(secret_string: str, *, source: str = "the secret") -> SigningKey:
    """The secret's value: `{"key_pair_id": "K2JCJMDEHXQW5F", "private_key": "-----BEGIN ..."}`."""
    try:
        value = json.loads(secret_string)
        key_pair_id, pem = value["key_pair_id"], value["private_key"]
        if not isinstance(key_pair_id, str) or not _KEY_PAIR_ID.fullmatch(key_pair_id):
            raise ValueError("key_pair_id is not a CloudFront public key id")
        if not isinstance(pem, str):
            raise ValueError("private_key is not a PEM string")
        return SigningKey(key_pair_id, load_private_key(pem))
    except (ValueError, KeyError, TypeError) as exc:
        raise CdnConfigurationError(
            f"{source} must hold {{'key_pair_id': ..., 'private_key': <RSA PEM>}}: {exc}"
        ) from None


# ------------------------------------------------------------------ the signer


def delivery_path(key: str) -> str:
    """The URL path of a media bucket object on the CDN (the distribution's origin is the bucket)."""
    return "/" + quote(key, safe="/")


class UrlSigner:
    """Signs CDN URLs of media bucket objects with windowed expiry.

    The key comes from `fetch_key` on first use (lazily: a function that never signs never reads
    the secret) and is kept for the life of the execution environment, refreshed hourly so that a
    rotated key takes over everywhere within the hour.
    """

    def __init__(
        self,
        base_url: str,
        fetch_key: Callable[[], SigningKey],
        *,
        window_seconds: int = DEFAULT_WINDOW_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.window_seconds = window_seconds
        self._fetch_key = fetch_key
        self._clock = clock
        self._key: SigningKey | None = None
        self._refresh_at = 0.0
        self._signed: dict[tuple[str, int, str], str] = {}

    def url(self, key: str) -> str:
        """The signed CDN URL of the object `key`, the same one for the whole window."""
        now = self._clock()
        signing_key = self._signing_key(now)
        resource = self.base_url + delivery_path(key)
        expires = window_expiry(now, self.window_seconds)
        memo = (resource, expires, signing_key.key_pair_id)
        signed = self._signed.get(memo)
        if signed is None:
            if len(self._signed) >= SIGNED_URL_CACHE_SIZE:
                self._signed.clear()  # windows move on; old entries are dead weight
            signed = sign_url(
                resource,
                expires=expires,
                key_pair_id=signing_key.key_pair_id,
                private_key=signing_key.private_key,
            )
            self._signed[memo] = signed
        return signed

    def _signing_key(self, now: float) -> SigningKey:
        if self._key is None or now >= self._refresh_at:
            try:
                self._key = self._fetch_key()
                self._refresh_at = now + KEY_REFRESH_SECONDS
            except Exception:
                if self._key is None:
                    raise
                self._refresh_at = now + KEY_RETRY_SECONDS  # keep signing with the key we have
        return self._key


@dataclass(frozen=True)
class CdnSettings:
    base_url: str  # CDN_BASE_URL: https://<distribution>.cloudfront.net, or the local gateway's /cdn
    private_key_secret: str  # CDN_PRIVATE_KEY_SECRET: the secret's ARN or name
    window_seconds: int = DEFAULT_WINDOW_SECONDS  # DELIVERY_URL_WINDOW_SECONDS

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> CdnSettings:
        base_url = _text(env, "CDN_BASE_URL").rstrip("/")
        if not re.fullmatch(r"https?://[^/?#\s]+(/[^?#\s]*)?", base_url):
            raise SettingsError(f"environment variable CDN_BASE_URL must be an http(s) URL, got {base_url!r}")
        window = _integer(env, "DELIVERY_URL_WINDOW_SECONDS", cls.window_seconds)
        if window < 2:
            raise SettingsError(
                f"environment variable DELIVERY_URL_WINDOW_SECONDS must be at least 2, got {window}"
            )
        return cls(base_url, _text(env, "CDN_PRIVATE_KEY_SECRET"), window)


def secret_key_fetcher(secret_id: str) -> Callable[[], SigningKey]:
    """Reads the signing key from Secrets Manager (the function's role may read only that secret)."""

    def fetch() -> SigningKey:
        try:
            value = aws.secretsmanager().get_secret_value(SecretId=secret_id)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            raise CdnConfigurationError(
                f"cannot read the CDN signing key from {secret_id} ({code}): put the key pair in it "
                "as the README's 'Delivery keys' says"
            ) from exc
        if "SecretString" not in value:
            raise CdnConfigurationError(f"{secret_id} holds binary data, not the key pair's JSON")
        return parse_signing_key(value["SecretString"], source=secret_id)

    return fetch


@cache
def signer() -> UrlSigner:
    """The process's signer, built from the environment on first use (not at import)."""
    settings = CdnSettings.from_env()
    return UrlSigner(
        settings.base_url,
        secret_key_fetcher(settings.private_key_secret),
        window_seconds=settings.window_seconds,
    )
