"""Local key material, made on first start in the stack's state folder and kept across restarts.

The local issuer's JWT key, the local CDN's key pair and the values of the template's generated
secrets (the share-token key) live here, so that tokens, share links and signed URLs handed out
before a restart still work after it. Each file is written once, readable by its owner only.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import secrets
import string
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from infra.local.template import TemplateError
from infra.local.topology import Topology

CDN_KEY_FILE = "cdn-signing-key.pem"
SECRET_TYPE = "AWS::SecretsManager::Secret"  # noqa: S105 (a resource type)


def created_once(path: Path, make: Callable[[], bytes]) -> bytes:
    """The file's bytes; when it does not exist yet, `make()`'s, written there first."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        # Written aside, then linked into place: two stacks starting at once end up with one value.
        temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}")
        with os.fdopen(os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as file:
            file.write(make())  # readable by its owner only, from the start
        with contextlib.suppress(FileExistsError):
            os.link(temporary, path)
        temporary.unlink()
    return path.read_bytes()


def _new_rsa_pem() -> bytes:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def rsa_private_key(path: Path) -> rsa.RSAPrivateKey:
    """The RSA-2048 key in `path`, made on first use."""
    loaded = serialization.load_pem_private_key(created_once(path, _new_rsa_pem), password=None)
    if not isinstance(loaded, rsa.RSAPrivateKey):
        raise ValueError(f"{path}: not an RSA private key")
    return loaded


@dataclass(frozen=True)
class CdnKeyPair:
    """The local CDN's key pair: the API signs with it (through the secret the template declares),
    the gateway's /cdn/ route checks with its public half."""

    key_pair_id: str
    private_key: rsa.RSAPrivateKey

    @classmethod
    def load(cls, state_dir: Path) -> CdnKeyPair:
        key = rsa_private_key(state_dir / CDN_KEY_FILE)
        public = key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        # Shaped like CloudFront's public key ids (K2JCJMDEHXQW5F), derived from the key itself.
        digest = base64.b32encode(hashlib.sha256(public).digest()).decode("ascii")
        return cls("K" + digest[:13], key)

    def public_keys(self) -> dict[str, rsa.RSAPublicKey]:
        """Key-Pair-Id -> public key: the distribution's trusted key group."""
        return {self.key_pair_id: self.private_key.public_key()}

    def secret_string(self) -> str:
        """The signing key's secret value, as the README's "Delivery keys" has ops put it."""
        pem = self.private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        return json.dumps({"key_pair_id": self.key_pair_id, "private_key": pem.decode("ascii")})


# GenerateSecretString's character classes, by the option that leaves each out.
_CLASSES = {
    "ExcludeLowercase": string.ascii_lowercase,
    "ExcludeUppercase": string.ascii_uppercase,
    "ExcludeNumbers": string.digits,
    "ExcludePunctuation": string.punctuation,  # Secrets Manager's punctuation is ASCII's
}
_GENERATE_OPTIONS = {"PasswordLength", "ExcludeCharacters", "IncludeSpace", *_CLASSES}


def _true(value: Any) -> bool:
    return str(value).lower() == "true"  # the template may say true or "true"


def generated_secret(path: Path, options: Mapping[str, Any]) -> str:
    """A value for a secret declared with `GenerateSecretString: options`, made as Secrets Manager
    makes one (for the options the template uses) on first use and kept in `path`."""
    if unknown := set(options) - _GENERATE_OPTIONS:
        raise TemplateError(f"GenerateSecretString options the local stack does not apply: {sorted(unknown)}")
    characters = "".join(chars for option, chars in _CLASSES.items() if not _true(options.get(option)))
    characters += " " if _true(options.get("IncludeSpace")) else ""
    alphabet = [char for char in characters if char not in str(options.get("ExcludeCharacters", ""))]
    length = int(options.get("PasswordLength", 32))
    if not alphabet or length < 1:
        raise TemplateError(f"GenerateSecretString {dict(options)} leaves nothing to generate")
    value = created_once(path, lambda: "".join(secrets.choice(alphabet) for _ in range(length)).encode())
    return value.decode()


def secret_strings(topology: Topology, state_dir: Path, cdn_key: CdnKeyPair) -> dict[str, str]:
    """Local values of the template's secrets, by LogicalId: the CDN key pair in the secret the
    functions sign with (their CDN_PRIVATE_KEY_SECRET), which ops fill in AWS; a value kept in
    the state folder for each secret the stack generates. Any other secret stays empty, as in AWS."""
    signing = {spec.environment.get("CDN_PRIVATE_KEY_SECRET") for spec in topology.functions.values()}
    template = topology.template
    values = {}
    for logical_id, resource in template.resources.items():
        if resource["Type"] != SECRET_TYPE:
            continue
        generate = (resource.get("Properties") or {}).get("GenerateSecretString")
        if template.name(logical_id) in signing:
            values[logical_id] = cdn_key.secret_string()
        elif generate is not None:
            path = state_dir / f"secret-{logical_id}"
            values[logical_id] = generated_secret(path, template.resolve(generate))
    return values
