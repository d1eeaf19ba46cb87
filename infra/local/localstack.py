"""LocalStack as the local stack's S3 and SQS (SHOEBOX_AWS_BACKEND=localstack; DynamoDB and
Secrets Manager stay on moto: LocalStack's DynamoDB needs Java and a download).

It enforces what moto does not (DESIGN, known gaps): a presigned POST's policy conditions and
expiry, presigned PUT/GET signatures and expiry; and it delivers S3 notifications as S3 does.
It runs on the host, no Docker, from its own tool environment under .cache/tools (its pins
cannot share uv.lock), installed on first use with the pins measured here; or an existing
LocalStack is used (SHOEBOX_LOCALSTACK_URL, e.g. a developer's own in Docker).
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from infra.local.processes import ChildProcess, Sink

VERSION = "2026.3.0"  # the last localstack-core on PyPI (Apache-2.0)
# Without these pins it does not start on Python 3.13 (measured; DESIGN "LocalStack").
REQUIREMENTS = (
    f"localstack-core[runtime]=={VERSION}",
    "cbor2<6",
    "pyopenssl<26",
    "cryptography>=45.0.7,<47",
    "service_identity",
)
SERVICES = ("s3", "sqs")
# As moto's launcher (emulator.py): dies with the stack, even one killed outright. S3's object
# store is a fixed /tmp folder in LocalStack; here it is this stack's own.
_LAUNCH = """
import os, signal, sys
if sys.platform == "linux":
    import ctypes
    ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    if os.getppid() != int(sys.argv[1]):
        sys.exit("the local stack is already gone")
import localstack.services.s3.provider as s3
s3.DEFAULT_S3_TMP_DIR = os.path.join(sys.argv[2], "s3")
from localstack.runtime.main import main
main()
"""


def tool_python(repo_root: Path) -> Path:
    """LocalStack's interpreter in its tool environment, installed there first if missing
    (PyPI only: ~15 s, once)."""
    home = repo_root / ".cache" / "tools" / f"localstack-{VERSION}"
    python = home / "localstack-core" / "bin" / "python"
    if python.exists():
        return python
    uv = shutil.which("uv") or str(repo_root / ".cache" / "uv" / "bin" / "uv")
    base = getattr(sys, "_base_executable", sys.executable)  # Python 3.13, as the venv's
    extras = [argument for requirement in REQUIREMENTS[1:] for argument in ("--with", requirement)]
    subprocess.run(
        [uv, "tool", "install", "--quiet", "--python", base, REQUIREMENTS[0], *extras],
        env={**os.environ, "UV_TOOL_DIR": str(home), "UV_TOOL_BIN_DIR": str(home / "bin")},
        check=True,
        timeout=600,
    )
    return python


class LocalStack(ChildProcess):
    """LocalStack's runtime on 127.0.0.1:port, S3 and SQS only, its files under `folder`."""

    def __init__(self, python: Path, port: int, folder: Path, sink: Sink) -> None:
        self.port = port
        shutil.rmtree(folder, ignore_errors=True)  # its data comes back through data.restore
        folder.mkdir(parents=True)
        environment = {
            **os.environ,
            "GATEWAY_SERVER": "hypercorn",  # the default server listens on 0.0.0.0
            "GATEWAY_LISTEN": f"127.0.0.1:{port}",
            "SERVICES": ",".join(SERVICES),
            "EAGER_SERVICE_LOADING": "1",  # ready means S3 and SQS answer
            "S3_SKIP_SIGNATURE_VALIDATION": "0",  # check presigned URLs as S3 does
            "OVERRIDE_IN_DOCKER": "0",  # its folders under FILESYSTEM_ROOT, not /var/lib/localstack
            "FILESYSTEM_ROOT": str(folder),
            "TMPDIR": str(folder),
            "DNS_ADDRESS": "0",  # no DNS server on port 53
            "SKIP_SSL_CERT_DOWNLOAD": "1",
            "DISABLE_EVENTS": "1",  # no analytics
            "LOCALSTACK_VOLUME_DIR": str(folder),
        }
        argv = [str(python), "-c", _LAUNCH, str(os.getpid()), str(folder)]
        super().__init__("localstack", argv, sink=sink, env=environment, cwd=folder)

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive():
                raise RuntimeError(f"LocalStack exited (code {self.exit_code()}); is port {self.port} free?")
            if ready(f"http://127.0.0.1:{self.port}"):
                return
            time.sleep(0.1)
        raise RuntimeError(f"LocalStack did not get ready on port {self.port} within {timeout:.0f} s")


def ready(url: str) -> bool:
    """Whether the LocalStack at `url` serves S3 and SQS."""
    host, _, port = url.split("://", 1)[-1].rstrip("/").partition(":")
    connection = http.client.HTTPConnection(host, int(port or 80), timeout=2)
    try:
        connection.request("GET", "/_localstack/health")
        answer = connection.getresponse()
        states = json.loads(answer.read()).get("services", {}) if answer.status == 200 else {}
    except (OSError, ValueError):
        return False
    finally:
        connection.close()
    return all(states.get(service) in ("running", "available") for service in SERVICES)
