"""Share tokens: made from the share id and a server key, so nothing secret is stored, and a
malformed or forged token is refused by a pure function, before anything reads the table."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest

from shoebox import keys, shares
from shoebox.settings import SettingsError
from shoebox.shares import InvalidShareToken, share_id_from_token, share_token

KEY = b"k" * 64
OTHER_KEY = b"o" * 64


def test_a_share_id_names_its_image_and_carries_128_random_bits() -> None:
    image_id = keys.new_image_id()
    share_ids = {shares.new_share_id(image_id) for _ in range(1000)}
    assert len(share_ids) == 1000
    for share_id in share_ids:
        assert shares.image_id_of(share_id) == image_id
        nonce = share_id.split(".")[1]
        assert len(base64.urlsafe_b64decode(nonce + "==")) == 16
    with pytest.raises(ValueError, match="not an image id"):
        shares.new_share_id("not-an-image-id")


def test_token_round_trip_and_the_same_token_every_time() -> None:
    share_id = shares.new_share_id(keys.new_image_id())
    token = share_token(share_id, KEY)
    assert token == share_token(share_id, KEY)  # the owner's list shows the same link again
    assert token.startswith(share_id + ".")
    assert share_id_from_token(token, KEY) == share_id


def test_the_tag_is_an_hmac_of_the_share_id() -> None:
    share_id = shares.new_share_id(keys.new_image_id())
    digest = hmac.new(KEY, b"shoebox share token v1\x00" + share_id.encode(), hashlib.sha256).digest()
    expected = base64.urlsafe_b64encode(digest[:16]).rstrip(b"=").decode()
    assert share_token(share_id, KEY) == f"{share_id}.{expected}"


def test_a_token_made_with_another_key_is_refused() -> None:
    share_id = shares.new_share_id(keys.new_image_id())
    with pytest.raises(InvalidShareToken, match="not made with this key"):
        share_id_from_token(share_token(share_id, OTHER_KEY), KEY)


def test_a_token_for_another_share_id_is_refused() -> None:
    image_id = keys.new_image_id()
    mine, theirs = shares.new_share_id(image_id), shares.new_share_id(image_id)
    tag = share_token(mine, KEY).rsplit(".", 1)[1]
    with pytest.raises(InvalidShareToken, match="not made with this key"):
        share_id_from_token(f"{theirs}.{tag}", KEY)


def tampered(token: str, index: int) -> str:
    replacement = "A" if token[index] != "A" else "B"
    return token[:index] + replacement + token[index + 1 :]


@pytest.mark.parametrize("index", [0, 21, 23, 44, 46, 66])
def test_any_changed_character_is_refused(index: int) -> None:
    token = share_token(shares.new_share_id(keys.new_image_id()), KEY)
    assert token[index] != "."
    with pytest.raises(InvalidShareToken):
        share_id_from_token(tampered(token, index), KEY)


@pytest.mark.parametrize(
    "token",
    [
        "",
        ".",
        "a.b.c",
        "A" * 22 + "." + "A" * 22,  # a share id without a tag
        "A" * 22 + "." + "A" * 22 + "." + "A" * 21,
        "A" * 22 + "." + "A" * 22 + "." + "A" * 23,
        "A" * 22 + "." + "A" * 22 + "." + "A" * 21 + "+",  # standard base64
        "A" * 22 + "." + "A" * 22 + "." + "A" * 21 + "é",
        "A" * 22 + "." + "A" * 22 + "." + "A" * 22 + "\n",
        "A" * 22 + ".." + "A" * 22 + "." + "A" * 22,
        "A" * 22 + "." + "A" * 22 + "." + "A" * 22 + "." + "A" * 22,
    ],
)
def test_malformed_tokens_are_refused(token: str) -> None:
    with pytest.raises(InvalidShareToken, match="malformed"):
        share_id_from_token(token, KEY)


@pytest.mark.parametrize("share_id", ["", "A" * 22, "A" * 22 + "." + "A" * 21, "A" * 22 + "/" + "A" * 22])
def test_malformed_share_ids_are_refused(share_id: str) -> None:
    with pytest.raises(ValueError, match="not a share id"):
        shares.image_id_of(share_id)
    with pytest.raises(ValueError, match="not a share id"):
        share_token(share_id, KEY)


def test_the_key_must_be_long_enough() -> None:
    assert shares.share_key("x" * 64) == b"x" * 64
    with pytest.raises(ValueError, match="at least 32 bytes"):
        shares.share_key("x" * 31)


def test_an_image_id_with_a_trailing_newline_is_not_one() -> None:
    with pytest.raises(ValueError, match="not an image id"):
        shares.new_share_id(keys.new_image_id() + "\n")


def test_a_share_id_splits_into_its_image_and_nonce_and_back() -> None:
    image_id = keys.new_image_id()
    share_id = shares.new_share_id(image_id)
    found_image, nonce = shares.split_share_id(share_id)
    assert found_image == image_id
    assert shares.join_share_id(found_image, nonce) == share_id
    with pytest.raises(ValueError, match="not a share id"):
        shares.split_share_id(share_id + "\n")


def test_a_share_url_is_the_page_or_one_variant_of_it() -> None:
    assert shares.share_url("https://api.example.com", "t.o.k") == "https://api.example.com/s/t.o.k"
    assert shares.share_url("http://127.0.0.1:3000", "t.o.k", "512") == "http://127.0.0.1:3000/s/t.o.k/512"


def test_share_settings_name_what_is_missing() -> None:
    settings = shares.ShareSettings.from_env({"SHARE_KEY_SECRET": "arn:aws:secretsmanager:x"})
    assert settings == shares.ShareSettings("arn:aws:secretsmanager:x", shares.DEFAULT_MAX_SECONDS)
    month = shares.ShareSettings.from_env({"SHARE_KEY_SECRET": "s", "MAX_SHARE_SECONDS": "60"})
    assert month.max_seconds == 60
    with pytest.raises(SettingsError, match="SHARE_KEY_SECRET"):
        shares.ShareSettings.from_env({})
    with pytest.raises(SettingsError, match="MAX_SHARE_SECONDS"):
        shares.ShareSettings.from_env({"SHARE_KEY_SECRET": "s", "MAX_SHARE_SECONDS": "a month"})
