"""`make cost`'s arithmetic: DynamoDB item sizes, what each request is priced as, Lambda's billed
duration, and the status rounds the clients' own schedule makes."""

from __future__ import annotations

import math
from typing import Any

import pytest

from bench import cost
from bench.dynamodb_size import item_size
from shoebox_cli.follow import expected_seconds


def test_item_sizes_follow_dynamodbs_rules() -> None:
    assert item_size({"id": {"S": "abc"}}) == 2 + 3
    # Numbers: 1 byte per two significant digits, plus 1; leading and trailing zeroes trimmed.
    assert item_size({"n": {"N": "123"}}) == 1 + 3
    assert item_size({"n": {"N": "1000"}}) == 1 + 2
    assert item_size({"ok": {"BOOL": True}}) == 2 + 1
    # A map: 3 bytes, and 1 per element besides its names and values.
    assert item_size({"m": {"M": {"a": {"S": "xy"}, "b": {"N": "5"}}}}) == 1 + 3 + (1 + 2 + 1) + (1 + 2 + 1)
    assert item_size({"b": {"B": b"\x00" * 10}}) == 1 + 10


def _priced(call: dict[str, Any]) -> tuple[float, dict[str, float]]:
    bill = cost.Bill()
    cost.price_call(bill, "step", call)
    return bill.total(), dict(bill.requests)


def test_s3_requests_are_priced_by_their_class() -> None:
    put = cost.PRICES["s3_put_copy_post_list_per_1k"] / 1000
    get = cost.PRICES["s3_get_head_per_1k"] / 1000
    assert _priced({"service": "s3", "operation": "PutObject"})[0] == pytest.approx(put)
    assert _priced({"service": "s3", "operation": "HeadObject"})[0] == pytest.approx(get)
    assert _priced({"service": "s3", "operation": "GetObject"})[0] == pytest.approx(get)
    assert _priced({"service": "s3", "operation": "DeleteObjects"})[0] == 0.0


def test_dynamodb_is_priced_by_size_consistency_and_transactions() -> None:
    write = cost.PRICES["dynamodb_write_units_per_million"] / 1e6
    read = cost.PRICES["dynamodb_read_units_per_million"] / 1e6
    update = {"service": "dynamodb", "operation": "UpdateItem", "write_sizes": [1500]}
    dollars, counted = _priced(update)
    assert dollars == pytest.approx(2 * write)
    assert counted == {"dynamodb:UpdateItem": 1.0, "dynamodb:write_units": 2.0}
    transaction = {"service": "dynamodb", "operation": "TransactWriteItems", "write_sizes": [400, 100]}
    assert _priced(transaction)[0] == pytest.approx(4 * write)  # two items, twice each
    eventual = {"service": "dynamodb", "operation": "GetItem", "read_sizes": [5000], "consistent": False}
    assert _priced(eventual)[0] == pytest.approx(1 * read)  # 2 units of 4 KB, halved
    consistent = {**eventual, "consistent": True}
    assert _priced(consistent)[0] == pytest.approx(2 * read)


def test_lambda_duration_is_cpu_at_the_memorys_vcpu_share_plus_aws_latency() -> None:
    line = {"cpu_ms": 100.0, "calls": [{"service": "s3"}, {"service": "dynamodb"}]}
    waits = cost.AWS_LATENCY_MS["s3"] + cost.AWS_LATENCY_MS["dynamodb"]
    assert cost.lambda_ms(line, 1769) == math.ceil(100 + waits)
    assert cost.lambda_ms(line, 512) == math.ceil(100 * 1769 / 512 + waits)
    assert cost.lambda_ms(line, 3538) == math.ceil(100 + waits)  # one thread gains nothing past 1 vCPU


def test_status_rounds_are_the_clients_own_schedule() -> None:
    size = 3 * 1024 * 1024
    first = expected_seconds(size)
    assert cost.follow_rounds(size, first - 0.01) == 1
    assert cost.follow_rounds(size, first + 0.01) == 2  # then 0.5 s later
    assert cost.follow_rounds(size, first + 0.51) == 3  # then 0.75 s later
