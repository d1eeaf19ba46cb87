"""LocalStack: the whole app on one machine, started and stopped as one thing.

    with LocalStack(api_port=0, aws_port=0, state_dir=tmp) as stack:
        stack.api_url, stack.aws_url, stack.token("alice"), stack.names["UploadsBucket"]

Start order: the gateway's socket is bound first (its port is part of the local parameter
values: the issuer URL and the allowed origins), moto starts, the function processes start and
initialise while the emulator's resources are created, then the queue workers, and the gateway
serves once every function has initialised.
`stop()` undoes all of it, children first, and is safe to call more than once.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

import uvicorn

from infra.local.bootstrap import Bootstrap
from infra.local.emulator import DUMMY_CREDENTIALS, MotoServer, client, free_port
from infra.local.gateway import Gateway
from infra.local.processes import ConsoleSink, Sink
from infra.local.runtime import INIT_TIMEOUT_SECONDS, ExecutionEnvironment
from infra.local.template import Template, load_template
from infra.local.tokens import LocalIssuer
from infra.local.topology import Topology
from infra.local.workers import QueueWorker

REPO_ROOT = Path(__file__).resolve().parents[2]
LOCAL_AUDIENCE = "shoebox-local"


class PortInUse(RuntimeError):
    """A port the stack was told to use is taken (by another `make dev`, most likely)."""


def _check_free(port: int, what: str) -> None:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError as exc:
            raise PortInUse(f"port {port} ({what}) is in use: stop what uses it or choose another") from exc


class LocalStack:
    """moto server + bootstrap from template.yaml + function processes + gateway + workers."""

    def __init__(
        self,
        *,
        api_port: int = 3000,
        aws_port: int = 4566,
        state_dir: Path | None = None,
        repo_root: Path = REPO_ROOT,
        template_path: Path | None = None,
        parameters: Mapping[str, str] | None = None,
        handler_overrides: Mapping[str, str] | None = None,
        env_overrides: Mapping[str, Mapping[str, str]] | None = None,
        retry_delay: int = 1,
        eager: bool = True,
        sink: Sink | None = None,
    ) -> None:
        """
        api_port, aws_port: 0 picks free ports.
        state_dir: where the local issuer's key pair lives (default <repo>/.shoebox).
        parameters: template parameter values, over the local ones and the defaults.
        handler_overrides: LogicalId -> handler ("tests.local.probe.handler"); the repo root is
            then on that function's PYTHONPATH.
        env_overrides: LogicalId -> extra environment variables for that function.
        retry_delay: seconds before a failed SQS message is visible again (see workers.py).
        eager: start every function process at start-up (else on its first invocation).
        """
        self.repo_root = repo_root
        self.state_dir = state_dir or repo_root / ".shoebox"
        self._template_path = template_path or repo_root / "template.yaml"
        self._requested_api_port = api_port
        self._requested_aws_port = aws_port
        self._parameters = dict(parameters or {})
        self._handler_overrides = dict(handler_overrides or {})
        self._env_overrides = {name: dict(values) for name, values in (env_overrides or {}).items()}
        self._retry_delay = retry_delay
        self._eager = eager
        self.sink: Sink = sink or ConsoleSink()
        self._lock = threading.Lock()
        self._moto: MotoServer | None = None
        self._socket: socket.socket | None = None
        self._server: uvicorn.Server | None = None
        self._server_thread: threading.Thread | None = None
        self.environments: dict[str, ExecutionEnvironment] = {}
        self.workers: list[QueueWorker] = []
        self.startup_seconds: float | None = None

    # -------------------------------------------------------------- what tests and __main__ use

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def aws_url(self) -> str:
        return f"http://127.0.0.1:{self.aws_port}"

    @property
    def issuer_url(self) -> str:
        return f"{self.api_url}/_local"

    @property
    def region(self) -> str:
        return self.template.pseudo.region

    def token(self, sub: str, **claims: Any) -> str:
        """A token the gateway accepts for `sub`; `claims` add to or replace the standard ones
        (a claim given as None is left out)."""
        return self.issuer.mint(sub, **claims)

    def client(self, service: str) -> Any:
        """A boto3 client for the emulator."""
        return client(service, self.aws_url, self.region)

    def queue_url(self, logical_id: str) -> str:
        return self.template.queue_url(self.names[logical_id])

    def pids(self) -> dict[str, int]:
        """Every live child process: "moto" and each function's LogicalId."""
        found = {"moto": self._moto.pid} if self._moto and self._moto.pid else {}
        found.update({name: env.pid for name, env in self.environments.items() if env.pid})
        return found

    # -------------------------------------------------------------- lifecycle

    def __enter__(self) -> LocalStack:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.stop()

    def start(self) -> LocalStack:
        started = time.monotonic()
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        self.startup_seconds = time.monotonic() - started
        return self

    def _start(self) -> None:
        # The gateway's port is needed before anything else: it is in the issuer URL and origins.
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self._socket.bind(("127.0.0.1", self._requested_api_port))
        except OSError as exc:
            raise PortInUse(f"port {self._requested_api_port} (SHOEBOX_API_PORT) is in use") from exc
        self.api_port: int = self._socket.getsockname()[1]
        self.aws_port: int = self._requested_aws_port or free_port()
        _check_free(self.aws_port, "SHOEBOX_AWS_PORT")

        self._moto = MotoServer(self.aws_port, self.sink)
        self._moto.start()

        origins = f"http://127.0.0.1:{self.api_port},http://localhost:{self.api_port}"
        local_values = {
            "JwtIssuer": self.issuer_url,
            "JwtAudience": LOCAL_AUDIENCE,
            "AllowedOrigins": origins,
        }
        document = load_template(self._template_path)
        declared = document.get("Parameters") or {}
        values = {name: value for name, value in local_values.items() if name in declared}
        self.template = Template(document, {**values, **self._parameters}, aws_url=self.aws_url)
        self.topology = Topology(self.template, self.repo_root)
        self.names: dict[str, str] = self.template.names()
        self.issuer = LocalIssuer(self.state_dir, self.issuer_url, LOCAL_AUDIENCE)

        for logical_id, spec in self.topology.functions.items():
            overridden = logical_id in self._handler_overrides
            self.environments[logical_id] = ExecutionEnvironment(
                spec,
                environment={
                    **self._aws_environment(),
                    **spec.environment,
                    **self._env_overrides.get(logical_id, {}),
                },
                sink=self.sink,
                handler=self._handler_overrides.get(logical_id),
                extra_paths=(self.repo_root,) if overridden else (),
            )
        unknown = (set(self._handler_overrides) | set(self._env_overrides)) - set(self.environments)
        if unknown:
            raise ValueError(f"overrides for functions the template does not have: {sorted(unknown)}")
        if self._eager:
            for environment in self.environments.values():
                environment.start()

        self._moto.wait_ready()
        bootstrap = Bootstrap(self.template, self.aws_url)
        bootstrap.run()
        self.sink.write("stack", f"created in the emulator: {', '.join(bootstrap.created)}")
        if bootstrap.unsupported:
            missing = ", ".join(f"{name} ({kind})" for name, kind in bootstrap.unsupported.items())
            self.sink.write("stack", f"not emulated locally: {missing}")

        sqs = self.client("sqs")
        for source in self.topology.queue_sources:
            worker = QueueWorker(
                source, sqs, self.invoke, region=self.region, retry_delay=self._retry_delay, sink=self.sink
            )
            worker.start()
            self.workers.append(worker)

        if self._eager:
            deadline = time.monotonic() + INIT_TIMEOUT_SECONDS
            for logical_id, environment in self.environments.items():
                if not environment.wait_initialised(max(0.0, deadline - time.monotonic())):
                    late = f"{logical_id} did not initialise within {INIT_TIMEOUT_SECONDS:.0f} s"
                    self.sink.write("stack", late)
                elif environment.init_error is not None:
                    error = environment.init_error
                    self.sink.write(
                        "stack",
                        f"{logical_id} failed to initialise: {error.get('errorType')}: "
                        f"{error.get('errorMessage')} (retried on its next invocation)",
                    )
        # Last: requests already wait in the bound socket's backlog, so the first answer of
        # /v1/health comes when everything is up.
        self._start_gateway()

    def _aws_environment(self) -> dict[str, str]:
        # What every function sees of AWS: the emulator's endpoint, dummy credentials, the region.
        return {
            **DUMMY_CREDENTIALS,
            "AWS_ENDPOINT_URL": self.aws_url,
            "AWS_REGION": self.region,
            "AWS_DEFAULT_REGION": self.region,
        }

    def _start_gateway(self) -> None:
        gateway = Gateway(
            self.topology,
            self.invoke,
            self.issuer,
            sink=self.sink,
            static_dir=self.repo_root / "clients" / "web",
            openapi=self._openapi_builder(),
        )
        config = uvicorn.Config(
            gateway.app(),
            log_level="warning",
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=2,  # a request waiting on a slow function does not hold up Ctrl-C
        )
        self._server = uvicorn.Server(config)
        assert self._socket is not None
        self._server_thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, name="gateway", daemon=True
        )
        self._server_thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._server_thread.is_alive():
                raise RuntimeError("the gateway did not start")
            time.sleep(0.01)

    def invoke(self, function: str, event: Any) -> Any:
        """Invoke a function by LogicalId in its own process (serialised per function)."""
        return self.environments[function].invoke(event)

    def stop(self) -> None:
        with self._lock:
            for worker in self.workers:
                worker.request_stop()  # all at once: each may be in a long poll
            for worker in self.workers:
                worker.join()
            self.workers = []
            if self._server is not None and self._server_thread is not None:
                self._server.should_exit = True
                self._server_thread.join(timeout=10)
                self._server = None
            if self._socket is not None:
                self._socket.close()
                self._socket = None
            stoppers = [
                threading.Thread(target=environment.stop, name=f"stop-{name}")
                for name, environment in self.environments.items()
            ]
            for thread in stoppers:
                thread.start()
            for thread in stoppers:
                thread.join()
            if self._moto is not None:
                self._moto.stop()
                self._moto = None

    def _openapi_builder(self) -> Callable[[], dict[str, Any]] | None:
        """`infra.openapi.build_openapi()`, when that module exists. It imports every function's
        router, so it runs in a child process with the functions' import path (the gateway
        itself imports no function code), once, on the first request for the document."""
        if importlib.util.find_spec("infra.openapi") is None:
            return None
        paths = {self.repo_root}
        for spec in self.topology.functions.values():
            paths.update((spec.code_dir, *spec.layer_dirs))
        environment = {**os.environ, "PYTHONPATH": os.pathsep.join(str(path) for path in sorted(paths))}
        script = "import json, sys, infra.openapi; json.dump(infra.openapi.build_openapi(), sys.stdout)"

        @functools.cache
        def build() -> dict[str, Any]:
            done = subprocess.run(
                [sys.executable, "-c", script],
                env=environment,
                cwd=self.repo_root,
                capture_output=True,
                check=True,
                timeout=120,
            )
            document: dict[str, Any] = json.loads(done.stdout)
            return document

        return build
