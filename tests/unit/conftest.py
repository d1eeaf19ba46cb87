"""The unit tier cannot reach the network: every unit test, with its fixtures, runs offline().

`unshare -n .venv/bin/python -m pytest tests/unit` (as root) shows the same from outside.
"""

from __future__ import annotations

from collections.abc import Generator

import pytest

from tests.unit.offline import offline


# Hooks of this conftest run for the items under tests/unit only (pytest calls them through
# the item's own hook proxy); each phase covers the fixtures it sets up or tears down.
@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Generator[None]:
    with offline():
        return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None]:
    with offline():
        return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item) -> Generator[None]:
    with offline():
        return (yield)
