"""The unit tier's network guard (tests/unit/conftest.py) refuses every way out, and only that."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import boto3
import httpx
import pytest
from botocore.config import Config
from botocore.exceptions import HTTPClientError

from tests.unit.offline import NetworkUsed


@pytest.fixture(scope="module")
def port_opened_by_a_fixture() -> None:
    """A module fixture is set up inside the guard too (the first test's setup)."""
    with pytest.raises(NetworkUsed), socket.socket() as server:
        server.bind(("127.0.0.1", 0))


def _tcp_connect() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as client:
        client.connect(("127.0.0.1", 9))


def _tcp6_connect_ex() -> None:
    with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as client:
        client.connect_ex(("::1", 9))


def _udp_sendto() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client:
        client.sendto(b"hello", ("127.0.0.1", 9))


def _create_connection() -> None:
    socket.create_connection(("127.0.0.1", 9), timeout=1)


def _httpx_get() -> None:
    httpx.get("http://127.0.0.1:9/", timeout=1)


def _boto3_call() -> None:
    s3 = boto3.client(
        "s3",
        endpoint_url="http://127.0.0.1:9",
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"max_attempts": 1}),
    )
    s3.list_buckets()


@pytest.mark.usefixtures("port_opened_by_a_fixture")
@pytest.mark.parametrize(
    ("reach_out", "raised"),
    [
        (_tcp_connect, NetworkUsed),
        (_tcp6_connect_ex, NetworkUsed),
        (_udp_sendto, NetworkUsed),
        (_create_connection, NetworkUsed),
        (_httpx_get, NetworkUsed),
        (_boto3_call, HTTPClientError),  # botocore wraps what its HTTP client raises, message kept
    ],
)
def test_every_way_to_the_network_is_refused(reach_out: Callable[[], None], raised: type[Exception]) -> None:
    with pytest.raises(raised, match="the unit tier must not use the network"):
        reach_out()


def test_a_thread_the_test_starts_is_refused_too() -> None:
    with ThreadPoolExecutor(max_workers=1) as pool, pytest.raises(NetworkUsed):
        pool.submit(_tcp_connect).result()


def test_threads_no_unit_test_started_are_left_alone() -> None:
    """Such as the workers of a local stack that the local tier started in the same session."""
    seen: list[BaseException] = []

    def connect() -> None:
        try:
            _tcp_connect()
        except BaseException as error:  # which one it was is the point
            seen.append(error)

    bystander = threading.Thread(target=connect)
    threading.Thread.start.__wrapped__(bystander)  # the real start: as if no unit test started it
    bystander.join()
    # The real connect ran: port 9 refuses (or, under `unshare -n`, the network is unreachable).
    assert len(seen) == 1
    assert isinstance(seen[0], OSError), seen


def test_local_socket_pairs_still_work() -> None:
    left, right = socket.socketpair()  # AF_UNIX: what event loops wake themselves with
    with left, right:
        left.sendall(b"ping")
        assert right.recv(4) == b"ping"
    # An event loop of its own (asyncio.run would leave the thread without a current loop, which
    # Mangum's handlers in a later test of the same process need).
    with asyncio.Runner(loop_factory=asyncio.new_event_loop) as runner:
        assert runner.run(asyncio.sleep(0, result="done")) == "done"
