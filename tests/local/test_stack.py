"""The local stack itself: gateway (routes, JWT checks, CORS, payload 2.0), emulator resources
from template.yaml, function processes, and the S3 -> SQS -> function path with redrive."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import unquote_plus

import httpx
import pytest

from infra.local import DevStack
from infra.local.gateway import listening_socket
from tests.local.support import await_drained, eventually, stack_of_its_own

pytestmark = pytest.mark.local

POISON_KEY = "incoming/poison.jpg"


def _segments(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """A token's header and claims, unverified."""
    header, payload, _ = token.split(".")
    return _json_segment(header), _json_segment(payload)


def _json_segment(part: str) -> dict[str, Any]:
    decoded: dict[str, Any] = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    return decoded


# ------------------------------------------------------------------ the gateway, real handlers


def test_health_answers_with_json_and_a_request_id(stack: DevStack) -> None:
    response = httpx.get(f"{stack.api_url}/v1/health")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"
    # The function echoes API Gateway's request id as x-request-id.
    assert response.headers["x-request-id"] == response.headers["apigw-requestid"]


def test_unknown_routes_get_api_gateways_404(stack: DevStack) -> None:
    for method, path in [("GET", "/v1/nothing-here"), ("DELETE", "/v1/health"), ("GET", "/v1/images/a/b")]:
        response = httpx.request(method, f"{stack.api_url}{path}")
        assert (response.status_code, response.json()) == (404, {"message": "Not Found"}), path


def test_a_token_from_the_local_endpoint_reaches_the_function(stack: DevStack) -> None:
    issued = httpx.post(f"{stack.api_url}/_local/token", json={"sub": "alice"})
    assert issued.status_code == 200
    token = issued.json()["token"]
    _, claims = _segments(token)
    assert claims["sub"] == "alice"
    assert claims["exp"] - claims["iat"] == 12 * 3600

    response = httpx.get(f"{stack.api_url}/v1/images", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code != 401
    assert "x-request-id" in response.headers  # set by the function: the gateway let it through


def test_the_token_endpoint_checks_its_input(stack: DevStack) -> None:
    assert httpx.post(f"{stack.api_url}/_local/token", json={"sub": ""}).status_code == 400
    assert httpx.post(f"{stack.api_url}/_local/token", content=b"nope").status_code == 400
    short = httpx.post(f"{stack.api_url}/_local/token", json={"sub": "bob", "expires_in": 60}).json()
    _, claims = _segments(short["token"])
    assert claims["exp"] - claims["iat"] == 60


def test_the_jwks_is_served_under_the_issuer(stack: DevStack) -> None:
    kid = _segments(stack.token("carol"))[0]["kid"]
    for path in ("/_local/jwks.json", "/_local/.well-known/jwks.json"):
        keys = httpx.get(f"{stack.api_url}{path}").json()["keys"]
        assert [key["kid"] for key in keys] == [kid]
        assert "d" not in keys[0]  # the public half only
    discovery = httpx.get(f"{stack.api_url}/_local/.well-known/openid-configuration").json()
    assert discovery["issuer"] == stack.issuer_url


def test_bad_tokens_are_refused_by_the_gateway(stack: DevStack) -> None:
    # Every way a token can be wrong: tests/unit/test_local_tokens.py. Here: the gateway's answer.
    now = int(time.time())
    good = stack.token("mallory")
    refused = {
        "missing": None,
        "not a jwt": "Bearer not-a-jwt",
        "expired": f"Bearer {stack.token('mallory', iat=now - 7200, nbf=now - 7200, exp=now - 60)}",
        "wrong audience": f"Bearer {stack.token('mallory', aud='someone-else')}",
        "foreign client_id": f"Bearer {stack.token('mallory', aud=None, client_id='someone-else')}",
        "tampered": f"Bearer {good[:-8]}{'A' * 8}",
    }
    for problem, authorization in refused.items():
        headers = {} if authorization is None else {"Authorization": authorization}
        response = httpx.get(f"{stack.api_url}/v1/images", headers=headers)
        assert response.status_code == 401, problem
        assert response.json() == {"message": "Unauthorized"}, problem
        assert response.headers["www-authenticate"].startswith('Bearer error="invalid_token"'), problem
        assert "x-request-id" not in response.headers, f"{problem}: the function was called"


def test_client_id_stands_in_for_a_missing_aud(stack: DevStack) -> None:
    # Cognito access tokens carry client_id and no aud; the authorizer accepts them.
    token = stack.token("dave", aud=None, client_id="shoebox-local")
    assert "aud" not in _segments(token)[1]
    response = httpx.get(f"{stack.api_url}/v1/images", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    assert "x-request-id" in response.headers


def test_the_emulators_port_is_held_from_the_first_step(tmp_path: Path) -> None:
    """The stack binds moto's port itself and hands moto the socket: while moto starts, the
    function environments' Runtime APIs bind free ports, and one that took moto's port once
    answered the stack's CreateTable with a 404."""
    stack = DevStack(api_port=0, aws_port=0, state_dir=tmp_path)
    stack._bind_ports()
    try:
        with socket.socket() as other, pytest.raises(OSError, match="Address already in use"):
            other.bind(("127.0.0.1", stack.aws_port))  # a free port for anyone once it was probed
    finally:
        stack.stop()


def test_the_gateway_answers_without_waiting_on_nagle() -> None:
    """The gateway's listening socket says TCP, so asyncio (uvicorn's server) sets TCP_NODELAY on
    each connection it accepts; without it every keep-alive response waited ~40 ms."""

    async def accepted() -> int:
        nodelay: asyncio.Future[int] = asyncio.get_running_loop().create_future()

        async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            nodelay.set_result(
                writer.get_extra_info("socket").getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
            )
            writer.close()

        listening = listening_socket(0)
        async with await asyncio.start_server(on_connect, sock=listening):
            _, client = await asyncio.open_connection(*listening.getsockname())
            found = await asyncio.wait_for(nodelay, 5)
            client.close()
        return found

    assert asyncio.run(accepted()) != 0


def test_cors_preflight_is_answered_by_the_gateway(stack: DevStack) -> None:
    origin = f"http://localhost:{stack.api_port}"
    preflight = httpx.options(
        f"{stack.api_url}/v1/uploads",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type",
        },
    )
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-origin"] == origin
    assert "POST" in preflight.headers["access-control-allow-methods"]
    assert preflight.headers["access-control-max-age"] == "600"

    stranger = httpx.options(
        f"{stack.api_url}/v1/uploads",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
    )
    assert "access-control-allow-origin" not in stranger.headers

    simple = httpx.get(f"{stack.api_url}/v1/health", headers={"Origin": origin})
    assert simple.headers["access-control-allow-origin"] == origin
    assert "x-request-id" in simple.headers["access-control-expose-headers"]


# ------------------------------------------------------------------ the emulator, from the template


def test_buckets_queues_and_table_are_made_from_the_template(stack: DevStack) -> None:
    s3, sqs, dynamodb = stack.client("s3"), stack.client("sqs"), stack.client("dynamodb")
    uploads = stack.names["UploadsBucket"]
    assert uploads == "shoebox-local-uploads-123456789012"
    cors = s3.get_bucket_cors(Bucket=uploads)["CORSRules"][0]
    assert set(cors["AllowedOrigins"]) == {
        f"http://127.0.0.1:{stack.api_port}",
        f"http://localhost:{stack.api_port}",
    }
    assert cors["ExposeHeaders"] == ["ETag"]
    rule = s3.get_bucket_lifecycle_configuration(Bucket=uploads)["Rules"][0]
    assert rule["Expiration"]["Days"] == 1
    notifications = s3.get_bucket_notification_configuration(Bucket=uploads)["QueueConfigurations"]
    assert notifications[0]["QueueArn"].endswith(":" + stack.names["ValidateQueue"])
    assert notifications[0]["Filter"]["Key"]["FilterRules"] == [{"Name": "prefix", "Value": "incoming/"}]

    attributes = sqs.get_queue_attributes(QueueUrl=stack.queue_url("ValidateQueue"), AttributeNames=["All"])[
        "Attributes"
    ]
    assert attributes["VisibilityTimeout"] == "360"
    redrive = json.loads(attributes["RedrivePolicy"])
    assert redrive["deadLetterTargetArn"].endswith(":" + stack.names["ValidateDeadLetterQueue"])
    assert int(redrive["maxReceiveCount"]) == 3

    table = dynamodb.describe_table(TableName=stack.names["ImagesTable"])["Table"]
    assert [index["IndexName"] for index in table["GlobalSecondaryIndexes"]] == [
        "by-owner",
        "ready-by-sha256",
    ]
    ttl = dynamodb.describe_time_to_live(TableName=stack.names["ImagesTable"])["TimeToLiveDescription"]
    assert ttl["AttributeName"] == "expires_at"


# ------------------------------------------------------------------ a stack with probe handlers


class Probe:
    def __init__(self, stack: DevStack, output: Path) -> None:
        self.stack = stack
        self.output = output

    def batches(self) -> list[dict[str, Any]]:
        if not self.output.exists():
            return []
        return [json.loads(line) for line in self.output.read_text().splitlines() if line]

    def records_for(self, key: str) -> list[dict[str, Any]]:
        found = []
        for batch in self.batches():
            for record in batch["event"]["Records"]:
                s3_records = json.loads(record["body"]).get("Records", [])
                if any(unquote_plus(item["s3"]["object"]["key"]) == key for item in s3_records):
                    found.append(record)
        return found


@pytest.fixture(scope="module")
def probe(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Probe]:
    """A second stack whose ValidateFunction records its batches and GetImageFunction echoes its
    event; functions start on first use, failed messages come back at once, at most 3
    environments per function, stopped after 3 s idle."""
    state = tmp_path_factory.mktemp("probe-stack")
    output = state / "batches.jsonl"
    with stack_of_its_own(
        state,
        eager=False,
        retry_delay=0,
        max_environments=3,
        idle_seconds=3,
        handler_overrides={
            "ValidateFunction": "tests.local.probe.handler",
            "GetImageFunction": "tests.local.probe.echo",
        },
        env_overrides={
            "ValidateFunction": {"PROBE_OUTPUT": str(output), "PROBE_FAIL_KEYS": json.dumps([POISON_KEY])}
        },
    ) as probed:
        yield Probe(probed, output)


def _echo(probe: Probe, path: str = "/v1/images/abc", **kwargs: Any) -> httpx.Response:
    token = probe.stack.token("erin", scope="openid email", groups=["a", "b"])
    headers = {"Authorization": f"Bearer {token}", **kwargs.pop("headers", {})}
    return httpx.request(
        kwargs.pop("method", "GET"), f"{probe.stack.api_url}{path}", headers=headers, **kwargs
    )


def test_the_function_gets_an_api_gateway_payload_2_event(probe: Probe) -> None:
    response = _echo(
        probe,
        "/v1/images/a%20b?x=1&x=2&y=",
        headers={"Cookie": "c1=v1; c2=v2", "X-Custom": "yes", "Content-Type": "application/octet-stream"},
        method="GET",
        content=b"\x00\xff",
    )
    assert response.status_code == 200
    echoed = response.json()
    event = echoed["event"]
    assert event["version"] == "2.0"
    assert event["routeKey"] == "GET /v1/images/{id}"
    assert event["rawPath"] == "/v1/images/a%20b"
    assert event["rawQueryString"] == "x=1&x=2&y="
    assert event["queryStringParameters"] == {"x": "1,2", "y": ""}
    assert event["pathParameters"] == {"id": "a b"}
    assert event["cookies"] == ["c1=v1", "c2=v2"]
    assert event["headers"]["x-custom"] == "yes"
    assert "cookie" not in event["headers"]
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == b"\x00\xff"
    context = event["requestContext"]
    assert context["http"]["method"] == "GET"
    assert context["http"]["path"] == "/v1/images/a b"
    assert context["stage"] == "$default"
    assert context["accountId"] == "123456789012"
    assert context["requestId"] == response.headers["apigw-requestid"]
    claims = context["authorizer"]["jwt"]["claims"]
    assert claims["sub"] == "erin"
    assert claims["groups"] == "[a b]"  # the authorizer flattens claims to strings
    assert claims["exp"].isdigit()
    assert context["authorizer"]["jwt"]["scopes"] == ["openid", "email"]


def test_each_function_runs_with_its_own_environment_and_context(probe: Probe) -> None:
    echoed = _echo(probe).json()
    environment = echoed["environment"]
    names = probe.stack.names
    assert environment["AWS_ENDPOINT_URL"] == probe.stack.aws_url
    assert environment["TABLE_NAME"] == names["ImagesTable"]
    assert environment["UPLOADS_BUCKET"] == names["UploadsBucket"]
    # The function's own variable, pointed at the gateway's /cdn/ instead of CloudFront.
    assert environment["CDN_BASE_URL"] == probe.stack.cdn_url
    assert environment["MAX_PIXELS"] is None  # ValidateFunction's, not this one's
    assert environment["AWS_LAMBDA_FUNCTION_NAME"] == names["GetImageFunction"]
    assert environment["_HANDLER"] == "tests.local.probe.echo"
    assert echoed["invoked_function_arn"].endswith(":function:" + names["GetImageFunction"])
    assert 0 < echoed["remaining_ms"] <= 10_000  # the template's Timeout
    assert echoed["pid"] != os.getpid()


def test_the_response_maps_back_like_api_gateway(probe: Probe) -> None:
    origin = f"http://localhost:{probe.stack.api_port}"
    response = _echo(probe, headers={"Origin": origin})
    # Cookies become Set-Cookie headers; CORS headers are the gateway's, not the function's.
    assert response.headers.get_list("set-cookie") == ["a=1; Path=/", "b=2; Path=/"]
    assert response.headers["access-control-allow-origin"] == origin

    raw = _echo(probe, "/v1/images/x?reply=" + json.dumps({"hello": "world"}))
    assert (raw.status_code, raw.json()) == (200, {"hello": "world"})  # no statusCode: JSON body
    binary = {"statusCode": 201, "isBase64Encoded": True, "body": base64.b64encode(b"\x01\x02").decode()}
    sent = _echo(probe, "/v1/images/x?reply=" + json.dumps(binary))
    assert (sent.status_code, sent.content) == (201, b"\x01\x02")


def test_a_failing_or_dying_function_is_a_500_and_comes_back(probe: Probe) -> None:
    for how in ("raise", "exit"):
        failed = _echo(probe, f"/v1/images/x?fail={how}")
        assert (failed.status_code, failed.json()) == (500, {"message": "Internal Server Error"}), how
    first = _echo(probe).json()["pid"]
    _echo(probe, "/v1/images/x?fail=exit")
    assert _echo(probe).json()["pid"] != first  # a new execution environment replaced it
    assert _echo(probe).status_code == 200


def test_invocations_at_once_run_in_as_many_environments_as_allowed(probe: Probe) -> None:
    # GetImageFunction's limit is the stack's cap (3 here): no event source bounds it.
    assert probe.stack.concurrency("GetImageFunction") == 3
    with ThreadPoolExecutor(5) as pool:
        replies = list(pool.map(lambda _: _echo(probe, "/v1/images/x?sleep=2"), range(5)))
    assert [reply.status_code for reply in replies] == [200] * 5
    # Each busy environment is its own process; the fourth and fifth request waited for one.
    assert len({reply.json()["pid"] for reply in replies}) == 3
    assert _environments(probe, "GetImageFunction") == {
        "GetImageFunction",
        "GetImageFunction#2",
        "GetImageFunction#3",
    }

    # Left idle, all but the most recently used are stopped.
    (kept,) = eventually(
        lambda: _environments(probe, "GetImageFunction"),
        "the idle environments to stop",
        until=lambda left: len(left) == 1,
    )
    assert _echo(probe).json()["pid"] == probe.stack.pids()[kept]  # warm: the one kept answers


def _environments(probe: Probe, function: str) -> set[str]:
    return {name for name in probe.stack.pids() if name.split("#")[0] == function}


def test_uploads_to_one_key_at_once_all_succeed(probe: Probe) -> None:
    # moto closed the bytes of a version as soon as another write replaced it, failing about one
    # in twenty of these with a 500 while the request's own event notification read its ETag.
    s3 = probe.stack.client("s3")
    statuses = []
    for attempt in range(25):
        post = s3.generate_presigned_post(probe.stack.names["UploadsBucket"], f"incoming/same-{attempt}")
        together = threading.Barrier(4)

        def send(data: bytes, post: dict[str, Any] = post, together: threading.Barrier = together) -> int:
            together.wait()
            files = {"file": ("f", data, "application/octet-stream")}
            return httpx.post(post["url"], data=post["fields"], files=files, timeout=30).status_code

        with ThreadPoolExecutor(4) as pool:
            statuses += pool.map(send, [os.urandom(200_000) for _ in range(4)])
    assert set(statuses) == {204}


def test_an_upload_reaches_validate_as_an_s3_batch_with_the_key_decoded(probe: Probe) -> None:
    key = "incoming/a b+c.jpg"
    probe.stack.client("s3").put_object(Bucket=probe.stack.names["UploadsBucket"], Key=key, Body=b"bytes")
    record = eventually(lambda: probe.records_for(key), "the batch with the upload")[0]
    assert record["eventSource"] == "aws:sqs"
    assert record["eventSourceARN"].endswith(":" + probe.stack.names["ValidateQueue"])
    assert record["awsRegion"] == "us-east-1"
    assert record["attributes"]["ApproximateReceiveCount"] == "1"
    assert {"SentTimestamp", "SenderId", "ApproximateFirstReceiveTimestamp"} <= set(record["attributes"])
    assert record["md5OfBody"] == hashlib.md5(record["body"].encode()).hexdigest()  # noqa: S324
    s3_record = json.loads(record["body"])["Records"][0]
    assert s3_record["s3"]["object"]["key"] != key  # encoded in the event ...
    assert unquote_plus(s3_record["s3"]["object"]["key"]) == key  # ... and decodes to the key
    assert s3_record["s3"]["bucket"]["name"] == probe.stack.names["UploadsBucket"]
    # s3:TestEvent never reached the function.
    assert all("Records" in json.loads(r["body"]) for b in probe.batches() for r in b["event"]["Records"])


def test_a_reported_failure_is_redelivered_then_dead_lettered(probe: Probe) -> None:
    s3 = probe.stack.client("s3")
    bucket = probe.stack.names["UploadsBucket"]
    s3.put_object(Bucket=bucket, Key=POISON_KEY, Body=b"bad")
    s3.put_object(Bucket=bucket, Key="incoming/fine.jpg", Body=b"good")
    sqs = probe.stack.client("sqs")
    dead_letter_url = probe.stack.queue_url("ValidateDeadLetterQueue")

    def dead_lettered() -> list[dict[str, Any]]:
        response = sqs.receive_message(QueueUrl=dead_letter_url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        return [m for m in response.get("Messages", []) if POISON_KEY in unquote_plus(m["Body"])]

    eventually(dead_lettered, "the poison message in the DLQ")
    deliveries = probe.records_for(POISON_KEY)
    assert [record["attributes"]["ApproximateReceiveCount"] for record in deliveries] == ["1", "2", "3"]
    # Its batch-mate, or a batch of its own in another environment: handled once, deleted, not retried.
    await_drained(probe.stack, "ValidateQueue")
    assert len(probe.records_for("incoming/fine.jpg")) == 1


# ------------------------------------------------------------------ stopping (keep this last)


def test_stopping_leaves_no_process_behind(probe: Probe) -> None:
    assert _echo(probe).status_code == 200  # at least one function process is up
    started = {name: (pid, _start_time(pid)) for name, pid in probe.stack.pids().items()}
    assert "moto" in started
    assert _environments(probe, "GetImageFunction")
    probe.stack.stop()  # the fixture's own stop() afterwards is a no-op
    for name, (pid, start_time) in started.items():
        assert _start_time(pid) != start_time, f"{name} (pid {pid}) is still running"


def _start_time(pid: int) -> str | None:
    """The process's start time (field 22 of /proc/<pid>/stat): tells it from a reused pid."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    return None if fields[0] == "Z" else fields[19]
