"""DynamoDB's size of an item, as it bills capacity: attribute names plus values (the rules of
DynamoDB's developer guide, "Item sizes and formats"). For `make cost`."""

from __future__ import annotations

from typing import Any


def item_size(item: dict[str, Any]) -> int:
    """DynamoDB's size of an item in its wire form ({"name": {"S": "…"}, …}): names plus values."""
    return sum(len(name.encode()) + _value_size(value) for name, value in item.items())


def _value_size(value: dict[str, Any]) -> int:
    (kind, content), *_ = value.items()
    if kind == "S":
        return len(content.encode())
    if kind == "N":
        digits = content.lstrip("-").replace(".", "").strip("0") or "0"
        return (len(digits) + 1) // 2 + 1
    if kind == "B":
        # Bytes once botocore parsed an answer; base64 in a request's JSON.
        return len(content) if isinstance(content, bytes) else len(content) * 3 // 4
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "M":
        return 3 + sum(len(name.encode()) + _value_size(each) + 1 for name, each in content.items())
    if kind == "L":
        return 3 + sum(_value_size(each) + 1 for each in content)
    return sum(len(str(each).encode()) for each in content)  # sets
