"""`python -m infra.local`: run the local stack in the foreground until Ctrl-C or SIGTERM.

Ports come from SHOEBOX_API_PORT (default 3000) and SHOEBOX_AWS_PORT (default 4566); the local
key material (issuer and CDN key pairs, generated secrets) lives in SHOEBOX_STATE_DIR (default
.shoebox/ in the repo); each function runs in up to SHOEBOX_MAX_ENVIRONMENTS execution
environments (default 4). SHOEBOX_AWS_BACKEND=localstack puts S3 and SQS on LocalStack, on
SHOEBOX_LOCALSTACK_PORT (default 4567), or on the one at SHOEBOX_LOCALSTACK_URL.
SHOEBOX_PARAMETER_OVERRIDES="Key=Value Key2=Value2" sets template parameters, as
`sam deploy --parameter-overrides` does (e.g. MaxImagesPerOwner=3).
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from pathlib import Path
from types import FrameType

from infra.local.processes import ConsoleSink
from infra.local.stack import BACKENDS, DEFAULT_MAX_ENVIRONMENTS, DevStack, PortInUse
from infra.local.template import TemplateError, parameter_overrides


def _number(name: str, default: int, low: int, high: int, what: str) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise SystemExit(f"{name} must be {what}, got {raw!r}")
    return int(raw)


def _port(name: str, default: int) -> int:
    return _number(name, default, 1, 65535, "a port number")


def _banner(stack: DevStack) -> str:
    names = stack.names
    buckets = ", ".join(names[key] for key in ("UploadsBucket", "MediaBucket") if key in names)
    return "\n".join(
        [
            "",
            f"Shoebox is running (ready in {stack.startup_seconds:.1f} s)",
            f"  API + web page  {stack.api_url}/   (health: {stack.api_url}/v1/health)",
            f"  AWS emulator    {stack.aws_url}   (AWS_ENDPOINT_URL for the aws CLI / boto3)",
            *(
                [f"  S3 and SQS      {stack.endpoint('s3')}   (LocalStack: AWS_ENDPOINT_URL_S3, _SQS)"]
                if stack.backend == "localstack"
                else []
            ),
            f"  JWT issuer      {stack.issuer_url}   (JWKS: {stack.issuer_url}/.well-known/jwks.json)",
            f"  CDN             {stack.cdn_url}/   (signed URLs only, as CloudFront)",
            f"  buckets         {buckets}",
            f"  functions       up to {stack.max_environments} execution environments each"
            " (SHOEBOX_MAX_ENVIRONMENTS)",
            "",
            '  A token for user \'dev\', valid 12 h (another user: POST /_local/token {"sub": "alice"}):',
            f"  export TOKEN={stack.token('dev')}",
            f'  curl -H "Authorization: Bearer $TOKEN" {stack.api_url}/v1/images',
            "",
            "Ctrl-C stops everything.",
            "",
        ]
    )


def main() -> int:
    # stdout is the stack's own lines (sinks and banner); Python's logging, if any, goes to stderr.
    logging.basicConfig(level=logging.WARNING, format="%(name)s %(levelname)s %(message)s")
    state = os.environ.get("SHOEBOX_STATE_DIR", "").strip()
    try:
        parameters = parameter_overrides(os.environ.get("SHOEBOX_PARAMETER_OVERRIDES", ""))
    except TemplateError as exc:
        raise SystemExit(f"SHOEBOX_PARAMETER_OVERRIDES: {exc}") from None
    backend = os.environ.get("SHOEBOX_AWS_BACKEND", "").strip() or "moto"
    if backend not in BACKENDS:
        raise SystemExit(f"SHOEBOX_AWS_BACKEND must be one of {', '.join(BACKENDS)}, got {backend!r}")
    stack = DevStack(
        api_port=_port("SHOEBOX_API_PORT", 3000),
        aws_port=_port("SHOEBOX_AWS_PORT", 4566),
        backend=backend,
        localstack_port=_port("SHOEBOX_LOCALSTACK_PORT", 4567),
        localstack_url=os.environ.get("SHOEBOX_LOCALSTACK_URL", "").strip() or None,
        state_dir=Path(state) if state else None,
        parameters=parameters,
        max_environments=_number(
            "SHOEBOX_MAX_ENVIRONMENTS", DEFAULT_MAX_ENVIRONMENTS, 1, 64, "a number of environments, 1 to 64"
        ),
        sink=ConsoleSink(sys.stdout),
    )
    stopping = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        if stopping.is_set():
            raise KeyboardInterrupt  # a second Ctrl-C: stop waiting for start-up too
        stopping.set()

    # Installed before start-up, so Ctrl-C during start-up also stops what already runs.
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        stack.start()
        if not stopping.is_set():
            print(_banner(stack), flush=True)
            stopping.wait()
    except KeyboardInterrupt:
        pass  # a second Ctrl-C during start-up
    except (PortInUse, TemplateError) as exc:  # a taken port; an unknown parameter
        print(f"\n{exc}", file=sys.stderr, flush=True)
        return 1
    finally:
        # Stopping takes a few seconds; a further Ctrl-C must not leave it half done.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        print("\nStopping ...", flush=True)
        stack.stop()
        print("Stopped.", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
