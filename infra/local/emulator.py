"""The AWS emulator: moto server in its own process, and boto3 clients pointed at it."""

from __future__ import annotations

import http.client
import os
import socket
import sys
import time
from typing import Any

import boto3

from infra.local.processes import ChildProcess, Sink
from infra.local.template import ACCOUNT_ID, REGION

# Credentials the emulators accept; never real ones. LocalStack takes a 12-digit key id as the
# account (the template's, as moto's default) and checks presigned URLs with the secret "test".
DUMMY_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": ACCOUNT_ID,
    "AWS_SECRET_ACCESS_KEY": "test",
    "AWS_SESSION_TOKEN": "testing",
}
# `python -m moto.server`, except that on Linux it dies with the stack even when the stack is
# killed outright (SIGKILL), so no orphan keeps the port. The signal is tied to the thread that
# started it: start the stack from a thread that lives as long as the stack (the main thread).
# werkzeug logs errors only: no banner, no line per request (a long-poll per worker a second).
# (Function processes need no such thing: they exit when their Runtime API goes away.)
# moto closes an object's bytes the moment another write replaces or deletes it, so a request
# still reading that version fails with a 500 (measured: two uploads to one key at once, the first
# PUT's own event notification reading its ETag); S3 finishes it. Left to the garbage collector,
# the bytes live as long as a request holds them.
_LAUNCH = """
import logging, os, signal, sys
if sys.platform == "linux":
    import ctypes
    ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    if os.getppid() != int(sys.argv[1]):
        sys.exit("the local stack is already gone")
logging.getLogger("werkzeug").setLevel(logging.ERROR)
# moto applies a DynamoDB request in steps, with no lock: two conditional writes or transactions
# at once can both pass their conditions (measured: 20 concurrent transactions with `n < 5` let
# 6-8 through in 7 of 30 rounds). DynamoDB serialises the writes to an item; one lock over every
# DynamoDB request gives that locally, and S3 and SQS stay concurrent.
import threading
from moto.moto_server.werkzeug_app import DomainDispatcherApplication
_dynamodb = threading.Lock()
_dispatch = DomainDispatcherApplication.__call__
def _serialised(self, environ, start_response):
    if environ.get("HTTP_X_AMZ_TARGET", "").startswith("DynamoDB_"):
        with _dynamodb:
            return _dispatch(self, environ, start_response)
    return _dispatch(self, environ, start_response)
DomainDispatcherApplication.__call__ = _serialised
from moto.s3.models import FakeKey
FakeKey.dispose = lambda self, garbage=False: None
from moto.server import main
main(sys.argv[2:])
"""


def client(service: str, aws_url: str) -> Any:
    """A boto3 client for the emulator (typed by the caller: boto3's stubs give the type)."""
    return boto3.client(
        service,  # type: ignore[call-overload]
        endpoint_url=aws_url,
        region_name=REGION,
        aws_access_key_id=DUMMY_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=DUMMY_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        aws_session_token=DUMMY_CREDENTIALS["AWS_SESSION_TOKEN"],
    )


class MotoServer(ChildProcess):
    """`python -m moto.server` serving a socket the stack has bound (so no other server can take
    its port while moto starts: the function environments' Runtime APIs bind free ports at the
    same time, and one once answered the stack's CreateTable with a 404), stopped with its
    process group."""

    def __init__(self, listening: socket.socket, sink: Sink) -> None:
        self.port = listening.getsockname()[1]
        listening.listen(socket.SOMAXCONN)
        argv = [sys.executable, "-c", _LAUNCH, str(os.getpid()), "-H", "127.0.0.1", "-p", str(self.port)]
        # werkzeug serves an inherited socket when it runs under its reloader: it says so in these.
        env = {**os.environ, "WERKZEUG_RUN_MAIN": "true", "WERKZEUG_SERVER_FD": str(listening.fileno())}
        super().__init__("moto", argv, sink=sink, env=env, pass_fds=[listening.fileno()])

    def wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive():
                raise RuntimeError(f"moto server exited (code {self.exit_code()}); is port {self.port} free?")
            connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=1)
            try:
                connection.request("GET", "/")  # any answer means it serves
                connection.getresponse().read()
                return
            except OSError:
                time.sleep(0.05)
            finally:
                connection.close()
        raise RuntimeError(f"moto server did not answer on port {self.port} within {timeout:.0f} s")
