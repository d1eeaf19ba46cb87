"""ThumbnailFunction with its imaging broken: every thumbnail attempt crashes.

Runs in the function's own process (DevStack handler_overrides), so the patch touches only
that process; everything else is the real handler, with its retry and FAILED logic.
"""

from __future__ import annotations

from typing import Any

from make_thumbnails import handler as real
from make_thumbnails import imaging


class InjectedCrash(RuntimeError):
    pass


def _crash(*args: Any, **kwargs: Any) -> Any:
    raise InjectedCrash("injected by tests/local/crashing_thumbnails.py")


imaging.make_thumbnails = _crash


def handler(event: dict[str, Any], context: Any) -> Any:
    return real.handler(event, context)
