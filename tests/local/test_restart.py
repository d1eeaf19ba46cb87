"""The local stack keeps its data across a restart on the same ports (SPEC §5), and expires
unused upload slots as DynamoDB's TTL does. Each test starts its own stacks on free ports."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from infra.local import DevStack
from infra.local.processes import FileSink
from tests.local.support import User, assert_upload_lands, eventually, user_of
from tests.unit.samples import jpeg

pytestmark = pytest.mark.local

BACKENDS = ["moto", pytest.param("localstack", marks=pytest.mark.localstack)]


def _stack(state: Path, backend: str, ports: tuple[int, int, int] = (0, 0, 0), **options: Any) -> DevStack:
    api_port, aws_port, localstack_port = ports
    return DevStack(
        api_port=api_port,
        aws_port=aws_port,
        localstack_port=localstack_port,
        backend=backend,
        state_dir=state,
        sink=FileSink(state / f"stack-{backend}.log"),
        **options,
    )


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    backend: str = request.param
    return backend


def test_an_image_survives_a_restart_on_the_same_ports_at_once(backend: str, tmp_path: Path) -> None:
    first = _stack(tmp_path, backend).start()
    try:
        with user_of(first, "restart") as user:
            ready = user.upload(jpeg())
            assert_upload_lands(user, ready)
            pending = user.slot(2048)["image"]["id"]  # a slot not used yet
            token = user.http.headers["Authorization"]
    finally:
        first.stop()
    ports = (first.api_port, first.aws_port, first.localstack_port if backend == "localstack" else 0)

    # At once, on the same ports: a stopped stack leaves neither port taken.
    second = _stack(tmp_path, backend, ports).start()
    try:
        assert (second.api_port, second.aws_port) == ports[:2]
        assert second.endpoint("s3") == first.endpoint("s3")
        with httpx.Client(base_url=second.api_url, headers={"Authorization": token}, timeout=30) as http:
            user = User(second, http, "restart")  # the token issued before is still good
            image = assert_upload_lands(user, ready, seconds=5)
            for variant in image["variants"]:
                content_type, body = user.download(ready, variant)
                assert body
                assert content_type.startswith("image/")
            assert user.image(pending)["status"] == "PENDING"
            assert ready in [item["id"] for item in http.get("/v1/images").json()["items"]]
    finally:
        second.stop()


@pytest.fixture
def short_slots(tmp_path: Path) -> Iterator[DevStack]:
    """A stack whose upload slots expire after 10 s, checked every second."""
    stack = _stack(
        tmp_path,
        "moto",
        ttl_interval=1.0,
        # Long enough for a slot to be made and read on a loaded machine, short enough to wait for.
        env_overrides={"CreateUploadFunction": {"PENDING_TTL_SECONDS": "10"}},
    )
    with stack:
        yield stack


def test_an_unused_slot_expires_and_its_upload_then_leads_nowhere(short_slots: DevStack) -> None:
    with user_of(short_slots, "ttl") as user:
        data = jpeg()
        created = user.slot(len(data))
        image_id = created["image"]["id"]
        assert user.image(image_id)["status"] == "PENDING"

        eventually(
            lambda: user.http.get(f"/v1/images/{image_id}").status_code,
            "the slot to expire",
            until=lambda s: s == 404,
        )

        upload = created["upload"]  # still within its own lifetime: S3 takes it
        sent = httpx.post(
            upload["url"], data=upload["fields"], files={"file": ("photo.jpg", data, "image/jpeg")}
        )
        assert sent.status_code in (200, 201, 204), sent.text
        uploads = short_slots.names["UploadsBucket"]
        s3 = short_slots.client("s3")
        key = f"incoming/{image_id}"
        # Validation finds no record for it: the object is deleted unprocessed, nothing else made.
        eventually(
            lambda: s3.list_objects_v2(Bucket=uploads, Prefix=key).get("KeyCount", 0),
            "the orphan upload to be deleted",
            until=lambda count: count == 0,
        )
        assert user.objects_of(image_id) == []
        assert user.http.get(f"/v1/images/{image_id}").status_code == 404
