"""The unit tier's network guard (installed for every unit test by tests/unit/conftest.py).

Inside `offline()`, the test's own thread and every thread started while a unit test runs may
use sockets only within AF_UNIX (event loops wake themselves through socket pairs); any other
address raises NetworkUsed — not an OSError, so no client mistakes it for a network fault and
retries or swallows it. Threads no unit test started are left alone: in a whole-suite run, the
local stack that the local tier started earlier keeps polling its queues.
"""

from __future__ import annotations

import functools
import socket
import threading
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

GUARDED = ("connect", "connect_ex", "bind", "sendto", "sendmsg")

# Every thread a unit test (or its fixtures) started, for as long as it lives.
_started_offline: weakref.WeakSet[threading.Thread] = weakref.WeakSet()


class NetworkUsed(RuntimeError):
    """A unit test tried to use a network address."""


@contextmanager
def offline() -> Iterator[None]:
    test_thread = threading.current_thread()
    real_start = threading.Thread.start

    @functools.wraps(real_start)
    def start(thread: threading.Thread) -> None:
        _started_offline.add(thread)
        real_start(thread)

    def in_the_test() -> bool:
        current = threading.current_thread()
        return current is test_thread or current in _started_offline

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(threading.Thread, "start", start)
        for name in GUARDED:
            patch.setattr(socket.socket, name, _refusing(name, getattr(socket.socket, name), in_the_test))
        yield


def _refusing(name: str, real: Callable[..., Any], in_the_test: Callable[[], bool]) -> Callable[..., Any]:
    @functools.wraps(real)
    def guarded(self: socket.socket, *args: Any, **kwargs: Any) -> Any:
        if self.family != socket.AF_UNIX and in_the_test():
            raise NetworkUsed(f"the unit tier must not use the network: socket.{name}{args!r}")
        return real(self, *args, **kwargs)

    return guarded
