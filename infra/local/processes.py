"""Child processes of the local stack: own process group, output forwarded line by line.

Each child runs in its own session so that Ctrl-C reaches only the stack, which then stops the
children in order; stopping a child signals its whole process group, so nothing is orphaned.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, Protocol


class Sink(Protocol):
    """Where the stack's and its children's output goes: one line at a time, with its source."""

    def write(self, source: str, line: str) -> None: ...


# Powertools' standard keys: kept in the JSON (and in AWS), left out of the terminal's line.
_STANDARD_LOG_KEYS = frozenset(
    {
        "level",
        "message",
        "exception",
        "timestamp",
        "location",
        "service",
        "cold_start",
        "function_name",
        "function_memory_size",
        "function_arn",
        "function_request_id",
        "request_id",
        "xray_trace_id",
        "sampling_rate",
    }
)


def readable(line: str) -> str | None:
    """A Powertools JSON log line as `LEVEL message key=value ...` (its traceback, if any, on
    the lines after); None for an EMF metrics blob (CloudWatch's to read); any other line as it is."""
    try:
        record = json.loads(line) if line.startswith("{") else None
    except ValueError:
        record = None
    if isinstance(record, dict) and "_aws" in record:
        return None
    if not isinstance(record, dict) or not {"level", "message"} <= set(record):
        return line
    extras = [
        f"{key}={value if isinstance(value, str) else json.dumps(value)}"
        for key, value in record.items()
        if key not in _STANDARD_LOG_KEYS
    ]
    text = f"{record['level']:<5} {record['message']}" + (f"  {' '.join(extras)}" if extras else "")
    return f"{text}\n{record['exception']}" if record.get("exception") else text


class ConsoleSink:
    """Readable lines for a developer's terminal, each prefixed with its source."""

    def __init__(self, stream: IO[str] | None = None, width: int = 13) -> None:
        self._stream = stream or sys.stdout
        self._width = width
        self._lock = threading.Lock()

    def write(self, source: str, line: str) -> None:
        text = readable(line)
        if text is not None:
            with self._lock:
                self._stream.write(f"{source:<{self._width}}  {text}\n")
                self._stream.flush()


class FileSink:
    """Lines appended to a file (tests keep the terminal quiet and the log for debugging)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file = path.open("a", encoding="utf-8", buffering=1)
        self._lock = threading.Lock()

    def write(self, source: str, line: str) -> None:
        with self._lock:
            if not self._file.closed:
                self._file.write(f"{source} | {line}\n")

    def close(self) -> None:
        with self._lock:
            self._file.close()


class ChildProcess:
    """One child process in its own process group, its stdout+stderr sent to a sink."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        *,
        sink: Sink,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
        pass_fds: Sequence[int] = (),
    ) -> None:
        self.name = name
        self._argv = list(argv)
        self._env = dict(env) if env is not None else None
        self._cwd = cwd
        self._pass_fds = tuple(pass_fds)
        self._sink = sink
        self._process: subprocess.Popen[bytes] | None = None
        self._pump: threading.Thread | None = None

    def start(self) -> None:
        self._process = subprocess.Popen(
            self._argv,
            env=self._env,
            cwd=self._cwd,
            pass_fds=self._pass_fds,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # own process group: Ctrl-C goes to the stack only
        )
        self._pump = threading.Thread(target=self._forward, name=f"output-{self.name}", daemon=True)
        self._pump.start()

    def _forward(self) -> None:
        assert self._process is not None
        assert self._process.stdout is not None
        for raw in self._process.stdout:
            # Lambda's runtime writes a multi-line error as one line joined with \r.
            for line in raw.decode("utf-8", "replace").rstrip("\r\n").split("\r"):
                self._sink.write(self.name, line)

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def alive(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def exit_code(self) -> int | None:
        return self._process.poll() if self._process else None

    def stop(self, timeout: float = 5.0) -> None:
        """SIGTERM to the process group, SIGKILL if it has not exited within `timeout`."""
        process = self._process
        if process is None:
            return
        self._signal_group(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            self._signal_group(signal.SIGKILL)
            process.wait()
        self._signal_group(signal.SIGKILL)  # whatever it started and left behind
        if self._pump is not None:
            self._pump.join(timeout=2)

    def kill(self) -> None:
        """SIGKILL now (a Lambda environment that timed out is not asked politely)."""
        if self._process is not None:
            self._signal_group(signal.SIGKILL)
            self._process.wait()
            if self._pump is not None:
                self._pump.join(timeout=2)

    def _signal_group(self, signum: int) -> None:
        assert self._process is not None
        with contextlib.suppress(ProcessLookupError, PermissionError):  # the group is already gone
            os.killpg(self._process.pid, signum)
