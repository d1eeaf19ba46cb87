"""The whole local stack, once per session, on free ports: for the local and e2e tiers.

It lives here, not in tests/local/conftest.py, so that tests/e2e (a real browser against the
same stack) shares the one session stack instead of starting a second.

`stack` is an `infra.local.DevStack` running the real handlers of template.yaml:

    stack.api_url                  "http://127.0.0.1:<port>": the gateway (API, /_local/token)
    stack.aws_url                  "http://127.0.0.1:<port>": moto server
    stack.endpoint("s3")           where S3 is: moto, or LocalStack (tests/local/test_api.py and
                                   test_pipeline.py run on both backends: `-m localstack`)
    stack.token("alice")           a JWT the gateway accepts for sub "alice" (valid 12 h);
    stack.token("a", exp=0, ...)   keyword claims add to or replace the standard ones
                                   (None leaves a claim out: stack.token("a", exp=None))
    stack.names["UploadsBucket"]   LogicalId -> physical name (buckets, queues, table, functions)
    stack.client("s3")             a boto3 client pointed at the emulator (dummy credentials)
    stack.queue_url("ValidateQueue")
    stack.invoke("HealthFunction", event)   call a function's process directly
    stack.sink.path                the log of every child (moto, functions, gateway lines)

The stack is shared by every test of the session: use your own `sub` per test (e.g. with a
random suffix) and your own object keys, so tests do not see each other's images. Wait for the
pipeline by polling with a deadline (tests/local/support.py: `eventually`; `assert_upload_lands`
for an upload that must land), never with a fixed sleep. A module that needs different
handlers starts its own `DevStack(..., handler_overrides=..., env_overrides=...)` on free
ports (see test_stack.py's probe stack) and stops it when done.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from infra.local import DevStack
from infra.local.processes import FileSink

# These modules' tests run on both backends; `-m localstack` selects their LocalStack runs.
BOTH_BACKENDS = {"test_api", "test_pipeline"}  # tests/local's (modules are named by basename)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "stack" in metafunc.fixturenames and metafunc.module.__name__.rsplit(".", 1)[-1] in BOTH_BACKENDS:
        backends = ["moto", pytest.param("localstack", marks=pytest.mark.localstack)]
        metafunc.parametrize("stack", backends, indirect=True, scope="session")


@pytest.fixture(scope="session")
def stack(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevStack]:
    backend = getattr(request, "param", "moto")
    state = tmp_path_factory.mktemp(f"local-stack-{backend}")
    sink = FileSink(state / "stack.log")
    running = DevStack(api_port=0, aws_port=0, localstack_port=0, backend=backend, state_dir=state, sink=sink)
    with running:
        yield running
    sink.close()
