"""CloudFront canned-policy URLs: signing checked against botocore's CloudFrontSigner (an independent
implementation of the same format), verification and its refusals, the expiry window, the signer.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import pytest
from botocore.signers import CloudFrontSigner
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from shoebox import cdn
from shoebox.cdn import (
    CdnConfigurationError,
    CdnSettings,
    SignatureRefused,
    SigningKey,
    UrlSigner,
    canned_policy,
    cloudfront_b64decode,
    cloudfront_b64encode,
    sign_url,
    verify_url,
    window_expiry,
)
from shoebox.settings import SettingsError

BASE = "https://d111111abcdef8.cloudfront.net"
URL = f"{BASE}/thumbnails/0123456789abcdefghijkl/256.webp"
KEY_ID = "K2JCJMDEHXQW5F"
OTHER_ID = "K3OTHERKEYID00"
EXPIRES = 1_767_290_400
DAY = 86_400


@pytest.fixture(scope="module")
def private_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def other_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def pem(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def signed(key: rsa.RSAPrivateKey, url: str = URL, expires: int = EXPIRES, key_id: str = KEY_ID) -> str:
    return sign_url(url, expires=expires, key_pair_id=key_id, private_key=key)


def verify(url: str, key: rsa.RSAPrivateKey, now: float = EXPIRES - 1) -> str:
    return verify_url(url, public_keys={KEY_ID: key.public_key()}, now=now)


# ------------------------------------------------------------------ the format


def test_policy_is_cloudfronts_canned_policy_without_whitespace() -> None:
    assert canned_policy("https://d111111abcdef8.cloudfront.net/image.jpg", 1357034400) == (
        '{"Statement":[{"Resource":"https://d111111abcdef8.cloudfront.net/image.jpg",'
        '"Condition":{"DateLessThan":{"AWS:EpochTime":1357034400}}}]}'
    )


def test_base64_uses_cloudfronts_alphabet() -> None:
    data = bytes([0xFB, 0xFF, 0xBF])  # standard base64: "+/+/"
    assert cloudfront_b64encode(data) == "-~-~"
    assert cloudfront_b64encode(b"\xff") == "~w__"  # "/w==": padding becomes underscores
    assert cloudfront_b64decode("~w__") == b"\xff"
    for standard in ("/w==", "+/+/", "~w_", "~w__\n", ""):
        with pytest.raises(ValueError, match="not CloudFront base64"):
            cloudfront_b64decode(standard)


def test_signed_url_is_what_botocores_signer_makes(private_key: rsa.RSAPrivateKey) -> None:
    def rsa_signer(message: bytes) -> bytes:
        return private_key.sign(message, padding.PKCS1v15(), hashes.SHA1())  # noqa: S303

    botocore_url = CloudFrontSigner(KEY_ID, rsa_signer).generate_presigned_url(
        URL, date_less_than=datetime.fromtimestamp(EXPIRES, UTC)
    )
    assert signed(private_key) == botocore_url


def test_signature_verifies_with_the_public_key_over_the_policy(private_key: rsa.RSAPrivateKey) -> None:
    query = parse_qs(urlsplit(signed(private_key)).query)
    assert list(query) == ["Expires", "Signature", "Key-Pair-Id"]
    assert query["Expires"] == [str(EXPIRES)]
    assert query["Key-Pair-Id"] == [KEY_ID]
    signature = cloudfront_b64decode(query["Signature"][0])
    private_key.public_key().verify(  # raises on a mismatch
        signature,
        canned_policy(URL, EXPIRES).encode(),
        padding.PKCS1v15(),
        hashes.SHA1(),  # noqa: S303 (CloudFront's canned policies are RSA-SHA1)
    )


def test_a_url_with_its_own_query_keeps_it_in_the_signed_resource(private_key: rsa.RSAPrivateKey) -> None:
    url = signed(private_key, url=URL + "?v=2")
    assert url.startswith(URL + "?v=2&Expires=")
    assert verify(url, private_key) == URL + "?v=2"
    with pytest.raises(SignatureRefused, match="does not match"):
        verify(url.replace("v=2", "v=3"), private_key)


# ------------------------------------------------------------------ verification


def test_round_trip(private_key: rsa.RSAPrivateKey) -> None:
    assert verify(signed(private_key), private_key) == URL


def test_a_url_botocore_signed_verifies(private_key: rsa.RSAPrivateKey) -> None:
    def rsa_signer(message: bytes) -> bytes:
        return private_key.sign(message, padding.PKCS1v15(), hashes.SHA1())  # noqa: S303

    url = CloudFrontSigner(KEY_ID, rsa_signer).generate_presigned_url(
        URL, date_less_than=datetime.fromtimestamp(EXPIRES, UTC)
    )
    assert verify(url, private_key) == URL


@pytest.mark.parametrize(
    ("tamper", "reason"),
    [
        (lambda url: url.replace("/256.webp", "/1024.webp"), "does not match"),  # another object
        (lambda url: url.replace("thumbnails/", "originals/"), "does not match"),
        (lambda url: url.replace(f"Expires={EXPIRES}", f"Expires={EXPIRES + DAY}"), "does not match"),
        (lambda url: url + "&extra=1", "does not match"),  # the resource changed
        (lambda url: url.replace("https://", "http://"), "does not match"),
        (lambda url: url.replace(f"Key-Pair-Id={KEY_ID}", "Key-Pair-Id=KUNKNOWN"), "unknown Key-Pair-Id"),
        (lambda url: url.split("&Key-Pair-Id")[0], "missing Key-Pair-Id"),
        (lambda url: url.split("?")[0], "missing Expires, Signature, Key-Pair-Id"),
        (lambda url: url + f"&Key-Pair-Id={KEY_ID}", "given twice"),
        (lambda url: url.replace(f"Expires={EXPIRES}", "Expires=-1"), "not epoch seconds"),
        (lambda url: url.replace("Signature=", "Signature=+"), "not CloudFront base64"),
        (lambda url: url + "&Policy=e30_", "not a canned-policy parameter"),
    ],
)
def test_tampered_urls_are_refused(
    private_key: rsa.RSAPrivateKey, tamper: Callable[[str], str], reason: str
) -> None:
    with pytest.raises(SignatureRefused, match=reason):
        verify(tamper(signed(private_key)), private_key)


def test_a_flipped_signature_byte_is_refused(private_key: rsa.RSAPrivateKey) -> None:
    url = signed(private_key)
    head, signature_and_rest = url.split("Signature=")
    signature, rest = signature_and_rest.split("&", 1)
    raw = bytearray(cloudfront_b64decode(signature))
    raw[100] ^= 1
    with pytest.raises(SignatureRefused, match="does not match"):
        verify(f"{head}Signature={cloudfront_b64encode(bytes(raw))}&{rest}", private_key)


def test_expired_is_refused_from_the_expiry_second_on(private_key: rsa.RSAPrivateKey) -> None:
    url = signed(private_key)
    assert verify(url, private_key, now=EXPIRES - 0.001) == URL
    for now in (EXPIRES, EXPIRES + 1, EXPIRES + 10 * DAY):
        with pytest.raises(SignatureRefused, match="expired"):
            verify(url, private_key, now=now)


def test_another_keys_signature_is_refused(
    private_key: rsa.RSAPrivateKey, other_key: rsa.RSAPrivateKey
) -> None:
    # Signed by another private key under our id: the id is known, the signature is not its.
    with pytest.raises(SignatureRefused, match="does not match"):
        verify(signed(other_key), private_key)


def test_the_wrong_key_pair_id_is_refused(
    private_key: rsa.RSAPrivateKey, other_key: rsa.RSAPrivateKey
) -> None:
    keys = {KEY_ID: private_key.public_key(), OTHER_ID: other_key.public_key()}
    # Our signature presented under the other (trusted) key's id.
    url = signed(private_key, key_id=OTHER_ID)
    with pytest.raises(SignatureRefused, match="does not match"):
        verify_url(url, public_keys=keys, now=EXPIRES - 1)
    # Both ids are trusted during a rotation: each key's own URLs pass.
    assert verify_url(signed(other_key, key_id=OTHER_ID), public_keys=keys, now=EXPIRES - 1) == URL
    assert verify_url(signed(private_key), public_keys=keys, now=EXPIRES - 1) == URL


# ------------------------------------------------------------------ the window


@pytest.mark.parametrize("window", [DAY, 3600, 7, 2])
def test_every_url_lives_between_half_and_one_and_a_half_windows(window: int) -> None:
    start = 1_767_225_600  # a multiple of a day
    for now in range(start, start + 3 * window, max(1, window // 97)):
        expires = window_expiry(now + 0.25, window)
        assert expires % window == 0
        assert window / 2 < expires - (now + 0.25) <= 1.5 * window


def test_the_same_url_for_a_whole_window() -> None:
    # The expiry switches half a window before each boundary (12:00 UTC for a day).
    noon, next_noon = 1_767_268_800, 1_767_268_800 + DAY
    expiries = {window_expiry(now, DAY) for now in range(noon, next_noon, 61)}
    assert expiries == {noon + DAY + DAY // 2}
    assert window_expiry(noon - 1, DAY) == noon + DAY // 2
    assert window_expiry(next_noon, DAY) == next_noon + DAY + DAY // 2


def test_window_must_be_positive() -> None:
    with pytest.raises(ValueError, match="at least 2 seconds"):
        window_expiry(0, 1)


# ------------------------------------------------------------------ the signer


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class Fetcher:
    """Counts reads of the "secret"; fails when told to."""

    def __init__(self, *keys: SigningKey) -> None:
        self.keys = list(keys)
        self.calls = 0
        self.failing = False

    def __call__(self) -> SigningKey:
        self.calls += 1
        if self.failing:
            raise CdnConfigurationError("secret unreadable")
        return self.keys[min(self.calls, len(self.keys)) - 1]


def test_signer_reads_the_key_lazily_once_and_repeats_urls_within_a_window(
    private_key: rsa.RSAPrivateKey,
) -> None:
    fetch, clock = Fetcher(SigningKey(KEY_ID, private_key)), Clock(1_767_268_800.0)
    signer = UrlSigner(BASE + "/", fetch, window_seconds=DAY, clock=clock)
    assert fetch.calls == 0  # constructing it reads nothing
    first = signer.url("thumbnails/0123456789abcdefghijkl/256.webp")
    assert signer.url("thumbnails/0123456789abcdefghijkl/256.webp") == first
    assert fetch.calls == 1
    clock.now += DAY - 1
    assert signer.url("thumbnails/0123456789abcdefghijkl/256.webp") == first
    assert verify(first, private_key, now=clock.now) == URL
    clock.now += 1  # the next window: a new URL, still valid
    second = signer.url("thumbnails/0123456789abcdefghijkl/256.webp")
    assert second != first
    assert verify(second, private_key, now=clock.now) == URL


def test_signer_quotes_keys_and_checks_the_whole_path(private_key: rsa.RSAPrivateKey) -> None:
    signer = UrlSigner(BASE, Fetcher(SigningKey(KEY_ID, private_key)), clock=Clock(EXPIRES - DAY))
    url = signer.url("originals/a b?c")
    assert url.startswith(f"{BASE}/originals/a%20b%3Fc?Expires=")
    assert verify(url, private_key) == f"{BASE}/originals/a%20b%3Fc"


def test_a_rotated_key_takes_over_at_the_hourly_refresh(
    private_key: rsa.RSAPrivateKey, other_key: rsa.RSAPrivateKey
) -> None:
    fetch = Fetcher(SigningKey(KEY_ID, private_key), SigningKey(OTHER_ID, other_key))
    clock = Clock(1_767_268_800.0)
    signer = UrlSigner(BASE, fetch, clock=clock)
    assert f"Key-Pair-Id={KEY_ID}" in signer.url("originals/x")
    clock.now += cdn.KEY_REFRESH_SECONDS - 1
    assert f"Key-Pair-Id={KEY_ID}" in signer.url("originals/x")
    clock.now += 1
    assert f"Key-Pair-Id={OTHER_ID}" in signer.url("originals/x")
    assert fetch.calls == 2


def test_a_failed_refresh_keeps_the_key_but_a_failed_first_read_raises(
    private_key: rsa.RSAPrivateKey,
) -> None:
    fetch, clock = Fetcher(SigningKey(KEY_ID, private_key)), Clock(1_767_268_800.0)
    signer = UrlSigner(BASE, fetch, clock=clock)
    before = signer.url("originals/x")
    fetch.failing = True
    clock.now += cdn.KEY_REFRESH_SECONDS
    assert signer.url("originals/x") == before
    clock.now += cdn.KEY_RETRY_SECONDS / 2
    signer.url("originals/x")
    assert fetch.calls == 2  # the next attempt waits KEY_RETRY_SECONDS
    with pytest.raises(CdnConfigurationError):
        UrlSigner(BASE, fetch, clock=clock).url("originals/x")


# ------------------------------------------------------------------ the secret and the settings


def test_the_secret_holds_the_key_pair_id_and_the_private_key(private_key: rsa.RSAPrivateKey) -> None:
    key = cdn.parse_signing_key(json.dumps({"key_pair_id": KEY_ID, "private_key": pem(private_key)}))
    assert key.key_pair_id == KEY_ID
    assert verify(signed(key.private_key), private_key) == URL


@pytest.mark.parametrize(
    "value",
    [
        "",
        "-----BEGIN PRIVATE KEY-----",
        json.dumps({"key_pair_id": KEY_ID}),
        json.dumps({"key_pair_id": "K 1", "private_key": "x"}),
        json.dumps({"key_pair_id": KEY_ID, "private_key": "not a pem"}),
        json.dumps([KEY_ID]),
    ],
)
def test_a_malformed_secret_names_what_it_must_hold(value: str) -> None:
    with pytest.raises(CdnConfigurationError, match="key_pair_id"):
        cdn.parse_signing_key(value, source="arn:secret")


def test_an_ec_key_is_refused() -> None:
    ec_pem = (
        ec.generate_private_key(ec.SECP256R1())
        .private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        .decode()
    )
    with pytest.raises(CdnConfigurationError, match="RSA"):
        cdn.parse_signing_key(json.dumps({"key_pair_id": KEY_ID, "private_key": ec_pem}))


def test_settings_from_the_environment() -> None:
    env = {"CDN_BASE_URL": BASE + "/", "CDN_PRIVATE_KEY_SECRET": "arn:aws:secretsmanager:x"}
    assert CdnSettings.from_env(env) == CdnSettings(BASE, "arn:aws:secretsmanager:x", DAY)
    assert CdnSettings.from_env({**env, "DELIVERY_URL_WINDOW_SECONDS": "3600"}).window_seconds == 3600
    local = CdnSettings.from_env({**env, "CDN_BASE_URL": "http://127.0.0.1:3000/cdn"})
    assert local.base_url == "http://127.0.0.1:3000/cdn"
    for broken in (
        {"CDN_PRIVATE_KEY_SECRET": "x"},
        {"CDN_BASE_URL": BASE},
        {**env, "CDN_BASE_URL": "d111111abcdef8.cloudfront.net"},
        {**env, "CDN_BASE_URL": BASE + "/?x=1"},
        {**env, "DELIVERY_URL_WINDOW_SECONDS": "1"},
    ):
        with pytest.raises(SettingsError):
            CdnSettings.from_env(broken)


def test_two_environments_hand_out_the_same_url(private_key: rsa.RSAPrivateKey) -> None:
    # PKCS#1 v1.5 signatures are deterministic: every execution environment signs a variant alike,
    # so a browser's cached copy stays good whichever function answered.
    clock = Clock(1_767_268_800.0)
    first = UrlSigner(BASE, Fetcher(SigningKey(KEY_ID, private_key)), clock=clock)
    second = UrlSigner(BASE, Fetcher(SigningKey(KEY_ID, private_key)), clock=clock)
    assert first.url("originals/0123456789abcdefghijkl") == second.url("originals/0123456789abcdefghijkl")
