"""The handler every function runs during `make cost` (DevStack handler_overrides): the function's
real handler, with each invocation and every AWS request it makes recorded.

Runs in each execution environment, its own process, as Lambda would run it. Every request goes
through botocore's Endpoint.make_request (boto3 and PynamoDB alike), so patching it sees each
one, retries included. DynamoDB's capacity is size-aware: the item sizes a request reads come
from its answer; for a write the probe reads the touched items before and after it (reads it
makes itself are not counted). One JSON line per invocation is appended to
$COST_DIR/<pid>.jsonl: the function, its wall and CPU milliseconds, and the requests.
"""

from __future__ import annotations

import importlib
import json
import os
import threading
import time
from pathlib import Path
from typing import Any

import boto3
import botocore.endpoint

from bench.dynamodb_size import item_size

_FUNCTION = os.environ["COST_FUNCTION"]  # the LogicalId
_module, _, _name = os.environ["COST_REAL_HANDLER"].rpartition(".")
_real = getattr(importlib.import_module(_module), _name)
_OUT = Path(os.environ["COST_DIR"]) / f"{os.getpid()}.jsonl"

_calls: list[dict[str, Any]] = []
_quiet = threading.local()  # set while the probe makes its own (uncounted) requests
_make_request = botocore.endpoint.Endpoint.make_request
_WRITES = {"PutItem", "UpdateItem", "DeleteItem"}


def _dynamodb() -> Any:
    return boto3.client("dynamodb")


def _item_sizes(table: str, keys: list[dict[str, Any]]) -> list[int]:
    """The current size of each keyed item (0 when absent), read without being counted."""
    _quiet.on = True
    try:
        client = _dynamodb()
        found = [client.get_item(TableName=table, Key=key, ConsistentRead=True).get("Item") for key in keys]
    finally:
        _quiet.on = False
    return [item_size(item) if item else 0 for item in found]


def _written(operation: str, body: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(table, key) of each item a write request touches."""
    if operation in _WRITES:
        key = body.get("Key") or _key_of(body["TableName"], body.get("Item", {}))
        return [(body["TableName"], key)]
    touched = []
    for entry in body.get("TransactItems", []):
        for kind, request in entry.items():
            if kind == "ConditionCheck":
                continue  # a check reads: DynamoDB bills it as a transactional write of its size
            key = request.get("Key") or _key_of(request["TableName"], request.get("Item", {}))
            touched.append((request["TableName"], key))
    return touched


_KEY_NAMES: dict[str, list[str]] = {}


def _key_of(table: str, item: dict[str, Any]) -> dict[str, Any]:
    if table not in _KEY_NAMES:
        _quiet.on = True
        try:
            schema = _dynamodb().describe_table(TableName=table)["Table"]["KeySchema"]
        finally:
            _quiet.on = False
        _KEY_NAMES[table] = [part["AttributeName"] for part in schema]
    return {name: item[name] for name in _KEY_NAMES[table]}


def _counted(self: Any, operation_model: Any, request_dict: dict[str, Any]) -> Any:
    if getattr(_quiet, "on", False):
        return _make_request(self, operation_model, request_dict)
    service = operation_model.service_model.service_name
    operation = operation_model.name
    call: dict[str, Any] = {"service": service, "operation": operation}
    body: dict[str, Any] = {}
    touched: list[tuple[str, dict[str, Any]]] = []
    before: list[int] = []
    if service == "dynamodb":
        body = json.loads(request_dict.get("body") or b"{}")
        touched = _written(operation, body)
        before = [size for table, key in touched for size in _item_sizes(table, [key])]
    started = time.perf_counter()
    response = _make_request(self, operation_model, request_dict)
    call["ms"] = (time.perf_counter() - started) * 1000
    http, parsed = response
    call["status"] = getattr(http, "status_code", None)
    if service == "dynamodb":
        if touched:
            after = [size for table, key in touched for size in _item_sizes(table, [key])]
            call["write_sizes"] = [max(pair) for pair in zip(before, after, strict=True)]
        else:
            call["read_sizes"] = _read_sizes(parsed)
        call["consistent"] = bool(body.get("ConsistentRead"))
    _calls.append(call)
    return response


def _read_sizes(parsed: dict[str, Any]) -> list[int]:
    if "Item" in parsed:
        return [item_size(parsed["Item"])]
    if "Items" in parsed:  # Query or Scan: one sum, rounded once (done by the pricing)
        return [sum(item_size(item) for item in parsed["Items"])]
    if "Responses" in parsed:  # BatchGetItem: each item rounded on its own
        return [item_size(item) for items in parsed["Responses"].values() for item in items]
    return [0]


botocore.endpoint.Endpoint.make_request = _counted  # type: ignore[method-assign,assignment]


def handler(event: dict[str, Any], context: Any) -> Any:
    _calls.clear()
    started, cpu = time.perf_counter(), time.process_time()
    try:
        return _real(event, context)
    finally:
        line = {
            "function": _FUNCTION,
            "ms": (time.perf_counter() - started) * 1000,
            "cpu_ms": (time.process_time() - cpu) * 1000,
            "calls": list(_calls),
            "pid": os.getpid(),
            "at": time.time(),
        }
        with _OUT.open("a", encoding="utf-8") as out:
            out.write(json.dumps(line) + "\n")
