"""DevStack: the whole app on one machine, started and stopped as one thing.

    with DevStack(api_port=0, aws_port=0, state_dir=tmp) as stack:
        stack.api_url, stack.aws_url, stack.token("alice"), stack.names["UploadsBucket"]

Start order: the gateway's socket is bound first (its port is part of the local parameter
values: the issuer URL and the allowed origins), moto starts, the function processes start and
initialise while the emulator's resources are created, then the queue workers, and the gateway
serves once every function has initialised. `stop()` undoes all of it, children first, and is
safe to call more than once.

Each function runs in up to `max_environments` execution environments at once (fewer when its
event source mapping's MaximumConcurrency says so), each its own process: the first starts with
the stack, the others when load needs them. Every invocation goes through `invoke()`, every AWS
endpoint comes from `aws_url`/`client()`/`_aws_environment()`, and the gateway's routes are
listed in one place (`Gateway.app`).
"""

from __future__ import annotations

import functools
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

import uvicorn

from infra.local import data
from infra.local.bootstrap import create_resources
from infra.local.cdn import PATH_PREFIX, LocalCdn, read_distribution
from infra.local.emulator import DUMMY_CREDENTIALS, MotoServer, client
from infra.local.gateway import Gateway, listening_socket
from infra.local.keys import CdnKeyPair, secret_strings
from infra.local.localstack import LocalStack, ready, tool_python
from infra.local.processes import ConsoleSink, Sink
from infra.local.runtime import INIT_TIMEOUT_SECONDS, FunctionEnvironments
from infra.local.template import REGION, Template, load_template
from infra.local.tokens import LocalIssuer
from infra.local.topology import Topology
from infra.local.workers import QueueWorker

REPO_ROOT = Path(__file__).resolve().parents[2]
LOCAL_AUDIENCE = "shoebox-local"
# Powertools warns on every invocation that published no metric (the health check's, say); not
# locally. (POWERTOOLS_METRICS_DISABLED would not stop it: the warning comes before that check.)
LOCAL_FUNCTION_ENVIRONMENT = {"PYTHONWARNINGS": "ignore:No application metrics to publish:UserWarning"}
# Execution environments per function at most (SHOEBOX_MAX_ENVIRONMENTS): 2 cores and a few GB
# run four of each comfortably; AWS's limits are higher (MaximumConcurrency 10 in the template).
DEFAULT_MAX_ENVIRONMENTS = 4
# An execution environment left idle this long is stopped (Lambda recycles idle ones after some
# minutes), so the processes a burst of load started do not hold their memory for good.
IDLE_SECONDS = 300.0
# How often items whose TTL is past are deleted (DynamoDB does it within days; here within seconds).
TTL_INTERVAL_SECONDS = 5.0


BACKENDS = ("moto", "localstack")


class PortInUse(RuntimeError):
    """A port the stack was told to use is taken (by another `make dev`, most likely)."""


def _free_port(port: int, what: str) -> int:
    """`port` (0: any free one) once it is free on 127.0.0.1."""
    with socket.socket() as probe:
        # As the server will bind: connections of a stack just stopped (TIME_WAIT) do not count.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError as exc:
            raise PortInUse(f"port {port} ({what}) is in use: stop what uses it or choose another") from exc
        found: int = probe.getsockname()[1]
        return found


class DevStack:
    """moto server + bootstrap from template.yaml + function processes + gateway + workers."""

    def __init__(
        self,
        *,
        api_port: int = 3000,
        aws_port: int = 4566,
        backend: str = "moto",
        localstack_port: int = 4567,
        localstack_url: str | None = None,
        state_dir: Path | None = None,
        parameters: Mapping[str, str] | None = None,
        handler_overrides: Mapping[str, str] | None = None,
        env_overrides: Mapping[str, Mapping[str, str]] | None = None,
        retry_delay: int = 1,
        eager: bool = True,
        max_environments: int = DEFAULT_MAX_ENVIRONMENTS,
        idle_seconds: float = IDLE_SECONDS,
        ttl_interval: float = TTL_INTERVAL_SECONDS,
        sink: Sink | None = None,
    ) -> None:
        """
        api_port, aws_port: 0 picks free ports.
        backend: "moto" (everything on moto server) or "localstack" (S3 and SQS on LocalStack,
            the rest on moto), started on localstack_port (0: a free one) unless localstack_url
            names one that runs already.
        state_dir: where the local key material lives (default <repo>/.shoebox): the issuer's and
            the CDN's key pairs, the generated secrets' values.
        parameters: template parameter values, over the local ones and the defaults.
        handler_overrides: LogicalId -> handler ("tests.local.probe.handler"); the repo root is
            then on that function's PYTHONPATH.
        env_overrides: LogicalId -> extra environment variables for that function.
        retry_delay: seconds before a failed SQS message is visible again (see workers.py).
        eager: start each function's first environment at start-up (else on its first
            invocation); more environments start when invocations find every one busy.
        max_environments: execution environments per function at most (the template's
            MaximumConcurrency may allow fewer).
        idle_seconds: an environment idle this long is stopped (but the last of each function).
        ttl_interval: seconds between two deletions of the items whose TTL is past.

        The emulator's data (items, objects, pending messages) is saved under
        state_dir/state on a clean stop and restored on the next start (see data.py).
        """
        self.state_dir = state_dir or REPO_ROOT / ".shoebox"
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, not {backend!r}")
        self.backend = backend
        self._requested_ports = (api_port, aws_port, localstack_port)
        self._localstack_url = localstack_url.rstrip("/") if localstack_url else None
        self._localstack: LocalStack | None = None
        self._parameters = dict(parameters or {})
        self._handler_overrides = dict(handler_overrides or {})
        self._env_overrides = {name: dict(values) for name, values in (env_overrides or {}).items()}
        self._retry_delay = retry_delay
        self._eager = eager
        if max_environments < 1:
            raise ValueError(f"max_environments must be at least 1, not {max_environments}")
        self.max_environments = max_environments
        self._idle_seconds = idle_seconds
        self._ttl_interval = ttl_interval
        self._serving = False  # started whole: only then is there data worth saving on stop
        self._stopping = threading.Event()
        self._reapers: list[threading.Thread] = []
        self.sink: Sink = sink or ConsoleSink()
        self._lock = threading.Lock()
        self._moto: MotoServer | None = None
        self._socket: socket.socket | None = None
        self._aws_socket: socket.socket | None = None  # moto's, until moto has its own copy
        self._server: uvicorn.Server | None = None
        self._server_thread: threading.Thread | None = None
        self.functions: dict[str, FunctionEnvironments] = {}
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
    def cdn_url(self) -> str:
        """The local CDN's base URL: the functions' CDN_BASE_URL (CloudFront's domain in AWS)."""
        return f"{self.api_url}{PATH_PREFIX}"

    def endpoint(self, service: str) -> str:
        """Where the service is: LocalStack for S3 and SQS on that backend, else moto server."""
        if self.backend == "localstack" and service in ("s3", "sqs"):
            return self._localstack_url or f"http://127.0.0.1:{self.localstack_port}"
        return self.aws_url

    def token(self, sub: str, **claims: Any) -> str:
        """A token the gateway accepts for `sub`; `claims` add to or replace the standard ones
        (a claim given as None is left out)."""
        return self.issuer.mint(sub, **claims)

    def client(self, service: str) -> Any:
        """A boto3 client for the service's emulator."""
        return client(service, self.endpoint(service))

    def queue_url(self, logical_id: str) -> str:
        return self.template.queue_url(self.names[logical_id])

    def invoke(self, function: str, event: Any) -> Any:
        """Invoke a function by LogicalId in an execution environment of its own."""
        return self.functions[function].invoke(event)

    def pids(self) -> dict[str, int]:
        """Every live child process: "moto" and each execution environment, by the function's
        LogicalId ("ValidateFunction", then "ValidateFunction#2", ...)."""
        found = {
            child.name: child.pid
            for child in (self._moto, self._localstack)
            if child is not None and child.pid and child.alive()
        }
        for pool in self.functions.values():
            found.update(pool.pids())
        return found

    def concurrency(self, function: str) -> int:
        """How many execution environments the function may have at once, here."""
        allowed = self.topology.maximum_concurrency(function)
        return self.max_environments if allowed is None else min(allowed, self.max_environments)

    # -------------------------------------------------------------- starting

    def __enter__(self) -> DevStack:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.stop()

    def start(self) -> DevStack:
        started = time.monotonic()
        try:
            self._bind_ports()
            assert self._aws_socket is not None
            self._moto = MotoServer(self._aws_socket, self.sink)
            self._moto.start()
            self._close_aws_socket()  # moto serves its own copy
            if self.backend == "localstack" and not self._localstack_url:
                folder = self.state_dir / "localstack"
                self._localstack = LocalStack(tool_python(REPO_ROOT), self.localstack_port, folder, self.sink)
                self._localstack.start()
            self._read_template()
            if self._localstack is not None:
                # Up before the function environments bind free ports of their own: LocalStack
                # binds the port found for it only once it has started.
                self._localstack.wait_ready()
            elif self._localstack_url and not ready(self._localstack_url):
                raise RuntimeError(f"no LocalStack serving S3 and SQS at {self._localstack_url}")
            self._start_functions()
            self._moto.wait_ready()
            secrets = secret_strings(self.topology, self.state_dir, self.cdn_key)
            create_resources(self.template, self.client, secrets)
            data.restore(self.template, self.client, self.data_dir)
            self._start_workers()
            self._reapers = [
                threading.Thread(target=self._reap, name="reaper", daemon=True),
                threading.Thread(target=self._expire, name="ttl", daemon=True),
            ]
            for reaper in self._reapers:
                reaper.start()
            self._wait_functions()
            # Last: requests already wait in the bound socket's backlog, so the first answer of
            # /v1/health comes when everything is up.
            self._start_gateway()
        except BaseException:
            self.stop()
            raise
        self.startup_seconds = time.monotonic() - started
        self._serving = True
        return self

    @property
    def data_dir(self) -> Path:
        """Where the emulator's data is kept between runs (`make dev-reset` deletes it)."""
        return self.state_dir / "state"

    def _bind_ports(self) -> None:
        # The gateway's port is needed before anything else: it is in the issuer URL and origins.
        api_port, aws_port, localstack_port = self._requested_ports
        try:
            self._socket = listening_socket(api_port)
        except OSError as exc:
            raise PortInUse(f"port {api_port} (SHOEBOX_API_PORT) is in use") from exc
        self.api_port: int = self._socket.getsockname()[1]
        try:
            self._aws_socket = listening_socket(aws_port)
        except OSError as exc:
            raise PortInUse(f"port {aws_port} (SHOEBOX_AWS_PORT) is in use") from exc
        self.aws_port: int = self._aws_socket.getsockname()[1]
        if self.backend == "localstack" and not self._localstack_url:
            self.localstack_port = _free_port(localstack_port, "SHOEBOX_LOCALSTACK_PORT")

    def _close_aws_socket(self) -> None:
        if self._aws_socket is not None:
            self._aws_socket.close()
            self._aws_socket = None

    def _read_template(self) -> None:
        document = load_template(REPO_ROOT / "template.yaml")
        local = {
            "JwtIssuer": self.issuer_url,
            "JwtAudience": LOCAL_AUDIENCE,
            "AllowedOrigins": f"http://127.0.0.1:{self.api_port},http://localhost:{self.api_port}",
        }
        self.template = Template(document, {**local, **self._parameters}, aws_url=self.endpoint("sqs"))
        self.topology = Topology(self.template, REPO_ROOT)
        self.names: dict[str, str] = self.template.names()
        self.issuer = LocalIssuer(self.state_dir, self.issuer_url, LOCAL_AUDIENCE)
        self.cdn_key = CdnKeyPair.load(self.state_dir)

    def _aws_environment(self) -> dict[str, str]:
        # What every function sees of AWS: the emulators' endpoints (the SDK's per-service
        # variables where a service is elsewhere), dummy credentials, the region.
        elsewhere = {
            f"AWS_ENDPOINT_URL_{service.upper()}": self.endpoint(service)
            for service in ("s3", "sqs")
            if self.endpoint(service) != self.aws_url
        }
        return {
            **DUMMY_CREDENTIALS,
            "AWS_ENDPOINT_URL": self.aws_url,
            **elsewhere,
            "AWS_REGION": REGION,
            "AWS_DEFAULT_REGION": REGION,
        }

    def _start_functions(self) -> None:
        unknown = (set(self._handler_overrides) | set(self._env_overrides)) - set(self.topology.functions)
        if unknown:
            raise ValueError(f"overrides for functions the template does not have: {sorted(unknown)}")
        for logical_id, spec in self.topology.functions.items():
            self.functions[logical_id] = FunctionEnvironments(
                spec,
                self.concurrency(logical_id),
                environment=self.function_environment(logical_id),
                sink=self.sink,
                handler=self._handler_overrides.get(logical_id),
                extra_paths=(REPO_ROOT,) if logical_id in self._handler_overrides else (),
            )
            if self._eager:
                self.functions[logical_id].start()

    def function_environment(self, logical_id: str) -> dict[str, str]:
        """The function's own variables as the stack gives them (template, emulator, local CDN)."""
        spec = self.topology.functions[logical_id]
        return {
            **self._aws_environment(),
            **LOCAL_FUNCTION_ENVIRONMENT,
            **spec.environment,
            **self._local_cdn_environment(spec.environment),
            **self._env_overrides.get(logical_id, {}),
        }

    def _local_cdn_environment(self, environment: Mapping[str, str]) -> dict[str, str]:
        # Signed URLs point at the gateway's /cdn/, not at the template's CloudFront domain.
        return {"CDN_BASE_URL": self.cdn_url} if "CDN_BASE_URL" in environment else {}

    def _wait_functions(self) -> None:
        deadline = time.monotonic() + INIT_TIMEOUT_SECONDS
        for pool in self.functions.values():
            if not pool.environments:
                continue  # not eager: it starts on its first invocation
            environment = pool.environments[0]
            label = environment.label
            if not environment.wait_initialised(max(0.0, deadline - time.monotonic())):
                self.sink.write(label, f"did not initialise within {INIT_TIMEOUT_SECONDS:.0f} s")
            elif (error := environment.init_error) is not None:
                failure = f"{error.get('errorType')}: {error.get('errorMessage')}"
                self.sink.write(label, f"failed to initialise: {failure} (retried on its next invocation)")

    def _start_workers(self) -> None:
        sqs = self.client("sqs")
        for source in self.topology.queue_sources:
            worker = QueueWorker(
                source,
                sqs,
                self.invoke,
                retry_delay=self._retry_delay,
                sink=self.sink,
                concurrency=self.concurrency(source.function),
            )
            worker.start()
            self.workers.append(worker)

    def _reap(self) -> None:
        while not self._stopping.wait(min(30.0, self._idle_seconds / 2)):
            for pool in self.functions.values():
                pool.reap(self._idle_seconds)

    def _expire(self) -> None:
        while not self._stopping.wait(self._ttl_interval):
            try:
                data.expire(self.template, self.client)
            except Exception as exc:  # the emulator is busy or going away: next round
                self.sink.write("ttl", f"deleting expired items failed: {exc!r}")

    def _start_gateway(self) -> None:
        gateway = Gateway(
            self.topology,
            self.invoke,
            self.issuer,
            sink=self.sink,
            static_dir=REPO_ROOT / "clients" / "web",
            openapi=functools.cache(self._openapi_document),
            cdn=LocalCdn(read_distribution(self.template), self.client("s3"), self.cdn_key.public_keys()),
        )
        config = uvicorn.Config(
            gateway.app(),
            log_level="warning",
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=2,  # a request waiting on a slow function does not hold up Ctrl-C
        )
        self._server = uvicorn.Server(config)
        self._server_thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, name="gateway", daemon=True
        )
        self._server_thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._server_thread.is_alive():
                raise RuntimeError("the gateway did not start")
            time.sleep(0.01)

    def _openapi_document(self) -> dict[str, Any]:
        """`python -m infra.openapi`'s document. It imports every function's router, so it runs in
        a child process with the functions' import path: the gateway imports no function code."""
        paths = {REPO_ROOT}
        for spec in self.topology.functions.values():
            paths.update((spec.code_dir, *spec.layer_dirs))
        environment = {**os.environ, "PYTHONPATH": os.pathsep.join(str(path) for path in sorted(paths))}
        done = subprocess.run(
            [sys.executable, "-m", "infra.openapi"],
            env=environment,
            cwd=REPO_ROOT,
            capture_output=True,
            check=True,
            timeout=120,
        )
        document: dict[str, Any] = json.loads(done.stdout)
        return document

    # -------------------------------------------------------------- stopping

    def stop(self) -> None:
        with self._lock:
            self._stopping.set()
            for reaper in self._reapers:
                reaper.join()
            self._reapers = []
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
            self._close_aws_socket()
            stoppers = [
                threading.Thread(target=pool.stop, name=f"stop-{name}")
                for name, pool in self.functions.items()
            ]
            for thread in stoppers:
                thread.start()
            for thread in stoppers:
                thread.join()
            if self._serving:  # nothing runs any more that could change the data
                self._serving = False
                try:
                    data.save(self.template, self.client, self.data_dir)
                except Exception as exc:
                    self.sink.write("stack", f"saving the data failed (the last copy stays): {exc!r}")
            for child in (self._localstack, self._moto):
                if child is not None:
                    child.stop()
            self._moto = self._localstack = None
