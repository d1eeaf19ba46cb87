"""Lambda execution environments: each in its own process, driven by awslambdaric.

Every environment's process runs AWS's own Runtime Interface Client (`python -m awslambdaric
<handler>`) against a small local implementation of the Lambda Runtime API, so handlers get a
real `context`, deadlines, init errors and cold/warm starts (DESIGN decision 7). One process
serves one invocation at a time, like one execution environment. A process that dies, times out
or fails to initialise is replaced on the next invocation.

A function has several environments, as in Lambda (DESIGN decision 13): an invocation takes an
idle one or, when every one is busy, starts another (a cold start), up to the function's limit.
"""

from __future__ import annotations

import functools
import itertools
import json
import os
import queue
import sys
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from infra.local.processes import ChildProcess, Sink
from infra.local.topology import FunctionSpec

API_PREFIX = "/2018-06-01/runtime"
# How long a function's process gets to answer after its deadline before it is killed.
TIMEOUT_GRACE_SECONDS = 1.0
# Lambda allows 10 s to initialise; locally imports can be slower on a busy machine.
INIT_TIMEOUT_SECONDS = 60.0


class InvocationError(Exception):
    """The invocation failed: the handler raised, init failed, the process died or timed out."""

    def __init__(self, function: str, error: Mapping[str, Any]) -> None:
        self.function = function
        self.error = dict(error)
        super().__init__(f"{function}: {error.get('errorType')}: {error.get('errorMessage')}")


@dataclass
class _Invocation:
    request_id: str
    payload: bytes
    timeout_seconds: int
    deadline: float | None = None  # set when the process takes it: init time does not count
    done: threading.Event = field(default_factory=threading.Event)
    result: bytes | None = None
    error: dict[str, Any] | None = None


def _error_body(body: bytes, error_type: str | None) -> dict[str, Any]:
    try:
        error = json.loads(body)
    except ValueError:
        error = None
    if not isinstance(error, dict):
        error = {"errorMessage": body.decode("utf-8", "replace")}
    error.setdefault("errorType", error_type or "Runtime.Unknown")
    return error


class _RuntimeApi(ThreadingHTTPServer):
    """The Runtime API for one process (one per process generation, so a dead process's
    pending `next` request can never take an invocation meant for its successor)."""

    daemon_threads = True

    def __init__(self, function_arn: str) -> None:
        super().__init__(("127.0.0.1", 0), _RuntimeHandler)
        self.function_arn = function_arn
        self.pending: queue.Queue[_Invocation] = queue.Queue()
        self.inflight: dict[str, _Invocation] = {}
        self.initialised = threading.Event()  # the process asked for its first invocation
        self.init_error: dict[str, Any] | None = None
        self.closed = threading.Event()
        threading.Thread(target=self.serve_forever, args=(0.1,), name="runtime-api", daemon=True).start()

    @property
    def address(self) -> str:
        host, port = self.server_address[:2]
        return f"{host!s}:{port}"

    def close(self) -> None:
        self.closed.set()
        self.shutdown()
        self.server_close()

    def next_invocation(self) -> _Invocation | None:
        """The next invocation for the process, once there is one; None once closed."""
        self.initialised.set()
        while not self.closed.is_set():
            try:
                invocation = self.pending.get(timeout=0.25)
            except queue.Empty:
                continue
            invocation.deadline = time.time() + invocation.timeout_seconds
            self.inflight[invocation.request_id] = invocation
            return invocation
        return None

    def report(self, path: str, body: bytes, error_type: str | None) -> bool:
        """An init error, or an invocation's response or error, from the process."""
        if path == f"{API_PREFIX}/init/error":
            self.init_error = _error_body(body, error_type)
            return True
        parts = path.removeprefix(f"{API_PREFIX}/invocation/").split("/")
        invocation = self.inflight.pop(parts[0], None) if len(parts) == 2 else None
        if invocation is None or parts[1] not in ("response", "error"):
            return False
        if parts[1] == "response":
            invocation.result = body
        else:
            invocation.error = _error_body(body, error_type)
        invocation.done.set()
        return True


class _RuntimeHandler(BaseHTTPRequestHandler):
    server: _RuntimeApi

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the runtime's chatter is not the developer's business

    def do_GET(self) -> None:
        if self.path != f"{API_PREFIX}/invocation/next":
            self._reply(HTTPStatus.NOT_FOUND)
            return
        invocation = self.server.next_invocation()
        if invocation is None:
            return  # closed: this process is being replaced; its request dies with it
        assert invocation.deadline is not None
        headers = {
            "Lambda-Runtime-Aws-Request-Id": invocation.request_id,
            "Lambda-Runtime-Deadline-Ms": str(int(invocation.deadline * 1000)),
            "Lambda-Runtime-Invoked-Function-Arn": self.server.function_arn,
            "Lambda-Runtime-Trace-Id": f"Root=1-{int(time.time()):08x}-{uuid.uuid4().hex[:24]}",
        }
        self._reply(HTTPStatus.OK, invocation.payload, headers)

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.server.report(self.path, body, self.headers.get("Lambda-Runtime-Function-Error-Type")):
            self._reply(HTTPStatus.ACCEPTED)
        else:
            self._reply(HTTPStatus.NOT_FOUND, b'{"errorType":"InvalidRequestID"}')

    def _reply(self, status: int, body: bytes = b"{}", headers: Mapping[str, str] | None = None) -> None:
        try:
            self.send_response(status)
            for name, value in {"Content-Type": "application/json", **(headers or {})}.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except OSError:
            pass  # the process went away mid-request: its invocation fails on its own


def _stopped(function: str) -> InvocationError:
    return InvocationError(
        function, {"errorType": "Local.Stopped", "errorMessage": "the local stack is stopping"}
    )


class ExecutionEnvironment:
    """One execution environment of a function: its process and its Runtime API; invocations
    are serialised. `index` tells a function's environments apart (1 for the first)."""

    def __init__(
        self,
        spec: FunctionSpec,
        *,
        environment: Mapping[str, str],
        sink: Sink,
        handler: str | None = None,
        extra_paths: tuple[Path, ...] = (),
        index: int = 1,
    ) -> None:
        self.spec = spec
        self.index = index
        # How the terminal and pids() name it: "validate", "validate#2", ...
        self.label = spec.label if index == 1 else f"{spec.label}#{index}"
        self.name = spec.logical_id if index == 1 else f"{spec.logical_id}#{index}"
        self.handler = handler or spec.handler
        self._environment = dict(environment)
        self._sink = sink
        self._paths = (spec.code_dir, *spec.layer_dirs, *extra_paths)
        self._lock = threading.Lock()
        self._api: _RuntimeApi | None = None
        self._process: ChildProcess | None = None
        self._closed = False

    # -------------------------------------------------------------- lifecycle

    def start(self) -> None:
        """Start the process now (it initialises while the rest of the stack comes up)."""
        with self._lock:
            self._ensure_running()

    def wait_initialised(self, timeout: float) -> bool:
        """True once the process asked for its first invocation or reported an init error."""
        deadline = time.monotonic() + timeout
        while True:
            api, process = self._api, self._process
            if api is None or process is None:
                return False
            if api.initialised.is_set() or api.init_error is not None or not process.alive():
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.05)

    @property
    def init_error(self) -> dict[str, Any] | None:
        return self._api.init_error if self._api else None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process and self._process.alive() else None

    def stop(self) -> None:
        """Stop the process now, even mid-invocation (that invocation fails); no restarts after."""
        self._closed = True
        process = self._process
        if process is not None:
            process.stop(timeout=3)
        with self._lock:  # an invocation in flight has seen its process die and returned
            self._discard()

    def _ensure_running(self) -> None:
        if self._closed:
            raise _stopped(self.spec.logical_id)
        if self._process is not None and self._process.alive():
            return
        self._discard()
        self._api = _RuntimeApi(self.spec.arn)
        self._process = ChildProcess(
            self.label,
            [sys.executable, "-m", "awslambdaric", self.handler],
            sink=self._sink,
            env=self._process_environment(self._api.address),
            cwd=self.spec.code_dir,  # Lambda runs in the task root
        )
        self._process.start()

    def _discard(self) -> None:
        if self._process is not None:
            self._process.stop(timeout=3)
            self._process = None
        if self._api is not None:
            self._api.close()
            self._api = None

    def _process_environment(self, runtime_api: str) -> dict[str, str]:
        spec = self.spec
        stamp = time.strftime("%Y/%m/%d", time.gmtime())
        # What Lambda's execution environment sets, then the function's own variables.
        return {
            "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
            "LANG": "en_US.UTF-8",
            "TZ": ":UTC",
            "PYTHONPATH": os.pathsep.join(str(path) for path in self._paths),
            "LAMBDA_TASK_ROOT": str(spec.code_dir),
            "AWS_EXECUTION_ENV": f"AWS_Lambda_{spec.runtime}",
            "AWS_LAMBDA_RUNTIME_API": runtime_api,
            "AWS_LAMBDA_FUNCTION_NAME": spec.name,
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_size),
            "AWS_LAMBDA_FUNCTION_TIMEOUT": str(spec.timeout),
            "AWS_LAMBDA_LOG_GROUP_NAME": spec.log_group,
            "AWS_LAMBDA_LOG_STREAM_NAME": f"{stamp}/[$LATEST]{uuid.uuid4().hex}",
            "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
            "_HANDLER": self.handler,
            **self._environment,
        }

    # -------------------------------------------------------------- invoking

    def invoke(self, event: Any) -> Any:
        """Run one invocation; the handler's result, or InvocationError."""
        with self._lock:
            self._ensure_running()
            invocation = _Invocation(str(uuid.uuid4()), json.dumps(event).encode(), self.spec.timeout)
            assert self._api is not None
            self._api.pending.put(invocation)
            error = self._wait(invocation)
            if error is not None:
                self._discard()  # Lambda does not reuse an environment that crashed or timed out
                raise InvocationError(self.spec.logical_id, error)
            if invocation.error is not None:
                raise InvocationError(self.spec.logical_id, invocation.error)
            assert invocation.result is not None
            return json.loads(invocation.result) if invocation.result else None

    def _wait(self, invocation: _Invocation) -> dict[str, Any] | None:
        """None once the process has answered; else what Lambda reports for this invocation: the
        init error, the crash, or the timeout."""
        api, process = self._api, self._process
        assert api is not None
        assert process is not None
        init_deadline = time.time() + INIT_TIMEOUT_SECONDS
        request = f"RequestId: {invocation.request_id} Error:"
        while not invocation.done.wait(0.05):
            if api.init_error is not None:
                return api.init_error
            if not process.alive():
                message = f"{request} Runtime exited with exit status {process.exit_code()}"
                return {"errorType": "Runtime.ExitError", "errorMessage": message}
            if time.time() > (invocation.deadline or init_deadline) + TIMEOUT_GRACE_SECONDS:
                message = f"{request} Task timed out after {self.spec.timeout:.2f} seconds"
                return {"errorType": "Sandbox.Timedout", "errorMessage": message}
        return None


class FunctionEnvironments:
    """A function's execution environments, scaled as Lambda scales them: an invocation takes an
    idle environment (the most recently used: warm) or, when all are busy, starts a new one (a
    cold start), up to `limit`. Past the limit an invocation waits for an environment to be free:
    Lambda would throttle, but locally the limit is the machine's, not the account's. `reap()`
    stops environments left idle, as Lambda recycles them."""

    def __init__(
        self,
        spec: FunctionSpec,
        limit: int,
        *,
        environment: Mapping[str, str],
        sink: Sink,
        handler: str | None = None,
        extra_paths: tuple[Path, ...] = (),
    ) -> None:
        self.spec = spec
        self.limit = limit
        self._make = functools.partial(
            ExecutionEnvironment,
            spec,
            environment=environment,
            sink=sink,
            handler=handler,
            extra_paths=extra_paths,
        )
        self._free = threading.Semaphore(limit)
        self._lock = threading.Lock()
        self._idle: list[tuple[ExecutionEnvironment, float]] = []  # and since when, oldest first
        self.environments: list[ExecutionEnvironment] = []
        self._indexes = itertools.count(1)
        self._closed = False

    def start(self) -> ExecutionEnvironment:
        """Start one environment now (it initialises while the rest of the stack comes up)."""
        with self._lock:
            environment = self._new()
            self._idle.append((environment, time.monotonic()))
        environment.start()
        return environment

    def invoke(self, event: Any) -> Any:
        """Run one invocation in an environment of its own; the handler's result, or
        InvocationError."""
        with self._free:
            environment = self._take()
            try:
                return environment.invoke(event)
            finally:
                with self._lock:
                    self._idle.append((environment, time.monotonic()))

    def reap(self, idle_seconds: float) -> None:
        """Stop the environments idle for more than `idle_seconds`, but the most recently used
        one: it stays warm, as the first one started with the stack."""
        cutoff = time.monotonic() - idle_seconds
        with self._lock:
            stale = [environment for environment, since in self._idle[:-1] if since < cutoff]
            self._idle = [
                (environment, since) for environment, since in self._idle if environment not in stale
            ]
            self.environments = [environment for environment in self.environments if environment not in stale]
        for environment in stale:
            environment.stop()

    def pids(self) -> dict[str, int]:
        """Each environment's live process, by the environment's name."""
        return {environment.name: pid for environment in self.environments if (pid := environment.pid)}

    def stop(self) -> None:
        """Stop every environment at once (an invocation in flight fails); no new ones after."""
        with self._lock:
            self._closed = True
            environments = list(self.environments)
        stoppers = [threading.Thread(target=environment.stop) for environment in environments]
        for thread in stoppers:
            thread.start()
        for thread in stoppers:
            thread.join()

    def _take(self) -> ExecutionEnvironment:
        with self._lock:
            if self._idle:
                return self._idle.pop()[0]
            return self._new()  # every environment is busy, and fewer than `limit` exist

    def _new(self) -> ExecutionEnvironment:
        if self._closed:
            raise _stopped(self.spec.logical_id)
        environment = self._make(index=next(self._indexes))
        self.environments.append(environment)
        return environment
