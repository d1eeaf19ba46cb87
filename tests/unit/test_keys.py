"""Image ids: unguessable, strict, and safe to pass on a command line."""

from __future__ import annotations

from unittest import mock

from shoebox import keys


def test_ids_are_22_url_safe_characters() -> None:
    image_id = keys.new_image_id()
    assert len(image_id) == 22
    assert keys.is_image_id(image_id)


def test_an_id_never_starts_with_a_dash() -> None:
    # The first draws start with "-" (argparse and rm would read them as options): thrown away.
    draws = ["-" + "a" * 21, "-" + "b" * 21, "c" * 22]
    with mock.patch.object(keys.secrets, "token_urlsafe", side_effect=draws) as draw:
        assert keys.new_image_id() == "c" * 22
    assert draw.call_count == 3


def test_is_image_id_is_strict() -> None:
    good = "A" * 22
    assert keys.is_image_id(good)
    for bad in (good + "\n", good[:-1], good + "A", "A" * 21 + "/", "", "A" * 21 + "é"):
        assert not keys.is_image_id(bad), repr(bad)
