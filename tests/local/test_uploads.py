"""Uploads at scale through the local stack, over HTTP like any client: a 60 MB image sent in
parts, interrupted and resumed; the same bytes again (a duplicate, no new object); wrong bytes
for a declared SHA-256 (moto enforces no checksum, so validation refuses them here; the
enforcing tier shows S3 refusing them); cancel; batch status; and the quotas, reached exactly
under 20 concurrent creators, with a stack started as `make dev` is, with
SHOEBOX_PARAMETER_OVERRIDES."""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from infra.local import DevStack
from infra.local.emulator import client
from infra.local.processes import ChildProcess, FileSink
from infra.local.stack import REPO_ROOT
from infra.local.template import Template, load_template
from shoebox import records, usage
from shoebox.errors import NotPending, QuotaExceeded, TooManyPending, TransitionRefused
from shoebox.records import ImageRecord
from shoebox.settings import get_settings
from shoebox.usage import Limits, UsageRecord
from tests.local.support import objects_of
from tests.photos import big_png, make_photo
from tests.quota import assert_usage_exact

pytestmark = pytest.mark.local

DEADLINE_SECONDS = 120.0
FINAL = {"READY", "REJECTED", "FAILED"}


def eventually[T](check: Callable[[], T | None], what: str, seconds: float = DEADLINE_SECONDS) -> T:
    deadline = time.monotonic() + seconds
    while (result := check()) is None:
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.25)
    return result


@dataclass
class User:
    """One user of an API, over HTTP."""

    api_url: str
    http: httpx.Client
    sub: str

    def create(self, data: bytes | None = None, **fields: Any) -> httpx.Response:
        body = {"filename": "photo.jpg", "content_type": "image/jpeg", **fields}
        if data is not None:
            body.setdefault("size", len(data))
        return self.http.post("/v1/uploads", json=body)

    def slot(self, data: bytes | None = None, **fields: Any) -> dict[str, Any]:
        reply = self.create(data, **fields)
        assert reply.status_code == 201, reply.text
        created: dict[str, Any] = reply.json()
        return created

    def post_file(self, upload: dict[str, Any], data: bytes) -> None:
        """What a browser sends: every field, then the file last."""
        sent = httpx.post(
            upload["url"], data=upload["fields"], files={"file": ("f", data, "image/jpeg")}, timeout=60
        )
        assert sent.status_code == 204, sent.text

    def image(self, image_id: str) -> dict[str, Any]:
        reply = self.http.get(f"/v1/images/{image_id}")
        assert reply.status_code == 200, reply.text
        found: dict[str, Any] = reply.json()
        return found

    def final(self, image_id: str) -> dict[str, Any]:
        def done() -> dict[str, Any] | None:
            image = self.image(image_id)
            return image if image["status"] in FINAL else None

        return eventually(done, f"image {image_id} to end READY, REJECTED or FAILED")

    def usage(self) -> dict[str, Any]:
        reply = self.http.get("/v1/usage")
        assert reply.status_code == 200, reply.text
        found: dict[str, Any] = reply.json()
        return found


@contextlib.contextmanager
def session(api_url: str, token: Callable[[str], str], name: str) -> Iterator[User]:
    """A new user (its own `sub`: tests share the stack) with its token, for the block."""
    sub = f"{name}-{secrets.token_hex(4)}"
    headers = {"Authorization": f"Bearer {token(sub)}"}
    with httpx.Client(base_url=api_url, headers=headers, timeout=60) as http:
        yield User(api_url, http, sub)


@pytest.fixture
def alice(stack: DevStack) -> Iterator[User]:
    with session(stack.api_url, stack.token, "alice") as user:
        yield user


@pytest.fixture
def mallory(stack: DevStack) -> Iterator[User]:
    with session(stack.api_url, stack.token, "mallory") as user:
        yield user


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def every_object(stack: DevStack) -> set[str]:
    s3 = stack.client("s3")
    found = set()
    for logical_id in ("UploadsBucket", "MediaBucket"):
        bucket = stack.names[logical_id]
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            found |= {f"{bucket}/{item['Key']}" for item in page.get("Contents", [])}
    return found


def multipart_uploads(stack: DevStack, image_id: str) -> list[str]:
    listing = stack.client("s3").list_multipart_uploads(Bucket=stack.names["UploadsBucket"])
    return [upload["UploadId"] for upload in listing.get("Uploads", []) if upload["Key"].endswith(image_id)]


# ------------------------------------------------------------------ multipart, dedup


def test_a_60_mb_image_sent_in_parts_interrupted_and_resumed_ends_ready_and_again_is_a_duplicate(
    stack: DevStack, alice: User, mallory: User
) -> None:
    data = big_png(60_000_000)
    digest = sha(data)
    created = alice.slot(
        data, filename="big.png", content_type="image/png", method="MULTIPART", sha256=digest
    )
    image_id, upload = created["image"]["id"], created["upload"]
    size = upload["part_size"]
    assert size == 8 * 1024 * 1024
    assert [part["number"] for part in upload["parts"]] == list(range(1, 9))

    def piece(number: int) -> bytes:
        return data[(number - 1) * size : number * size]

    def send(part: dict[str, Any]) -> str:
        sent = httpx.put(part["url"], content=piece(part["number"]), timeout=60)
        assert sent.status_code == 200, sent.text
        return sent.headers["etag"]

    # Three parts go, then the connection drops.
    etags = {part["number"]: send(part) for part in upload["parts"][:3]}

    # Resuming: the API says what S3 holds, and gives fresh URLs for the rest only.
    resumed = alice.http.get(f"/v1/uploads/{image_id}")
    assert resumed.status_code == 200, resumed.text
    status = resumed.json()
    assert [(p["number"], p["size"], p["etag"]) for p in status["received"]] == [
        (n, size, etags[n].strip('"')) for n in (1, 2, 3)
    ]
    assert [part["number"] for part in status["upload"]["parts"]] == [4, 5, 6, 7, 8]
    assert status["image"]["status"] == "PENDING"
    etags |= {part["number"]: send(part) for part in status["upload"]["parts"]}

    # Bad completions get a clear 4xx and lose nothing.
    parts = [{"number": n, "etag": etags[n]} for n in sorted(etags)]
    swapped = alice.http.post(
        f"/v1/uploads/{image_id}/complete", json={"parts": [parts[1], parts[0], *parts[2:]]}
    )
    assert (swapped.status_code, swapped.json()["error"]["details"]["reason"]) == (400, "out_of_order")
    foreign = mallory.http.post(f"/v1/uploads/{image_id}/complete", json={"parts": parts})
    assert foreign.status_code == 404
    assert len(alice.http.get(f"/v1/uploads/{image_id}").json()["received"]) == 8

    done = alice.http.post(f"/v1/uploads/{image_id}/complete", json={"parts": parts})
    assert done.status_code == 200, done.text
    assert done.json()["id"] == image_id
    again = alice.http.post(f"/v1/uploads/{image_id}/complete", json={"parts": parts})
    # The same answer while validation has not taken the bytes yet; NOT_PENDING once it has.
    assert again.status_code in (200, 409), again.text
    assert again.status_code == 200 or again.json()["error"]["code"] == "NOT_PENDING"

    image = alice.final(image_id)
    assert image["status"] == "READY", image
    assert image["sha256"] == digest
    assert image["size"] == len(data)
    assert (image["width"], image["height"]) == (4473, 4473)
    assert set(image["variants"]) == {"original", "256", "512", "1024"}
    assert multipart_uploads(stack, image_id) == []

    # The same bytes again: the image it is, and nothing made.
    before, listed = every_object(stack), len(alice.http.get("/v1/images").json()["items"])
    duplicate = alice.create(
        data, filename="again.png", content_type="image/png", method="MULTIPART", sha256=digest
    )
    assert duplicate.status_code == 200, duplicate.text
    assert (duplicate.json()["duplicate"], duplicate.json()["image"]["id"]) == (True, image_id)
    assert every_object(stack) == before
    assert len(alice.http.get("/v1/images").json()["items"]) == listed
    assert alice.usage()["images"] == 1


def test_wrong_bytes_for_a_declared_sha256_are_rejected_by_validation(
    stack: DevStack, alice: User, tmp_path: Path
) -> None:
    declared = make_photo(tmp_path / "a.jpg", (640, 480), seed=1).read_bytes()
    sent = bytearray(declared)
    sent[len(sent) // 2] ^= 0x01  # one bit: the same size, still a JPEG, not the declared bytes
    created = alice.slot(declared, sha256=sha(declared))
    # moto takes the POST whatever its checksum field says (S3 answers 400 BadDigest).
    alice.post_file(created["upload"], bytes(sent))
    image = alice.final(created["image"]["id"])
    assert (image["status"], image["error"]["code"]) == ("REJECTED", "CHECKSUM_MISMATCH"), image
    assert eventually(lambda: objects_of(stack, image["id"]) == [] or None, "the bytes to be deleted")
    assert alice.usage()["images"] == 0


def test_a_cancelled_multipart_upload_leaves_nothing_and_frees_its_slot(stack: DevStack, alice: User) -> None:
    data = big_png(9 * 1024 * 1024, seed=5)
    created = alice.slot(data, content_type="image/png", method="MULTIPART")
    image_id = created["image"]["id"]
    first = created["upload"]["parts"][0]
    assert httpx.put(first["url"], content=data[: 8 * 1024 * 1024], timeout=60).status_code == 200
    assert alice.usage()["pending"] == 1
    assert multipart_uploads(stack, image_id)

    assert alice.http.delete(f"/v1/uploads/{image_id}").status_code == 204

    assert alice.http.get(f"/v1/images/{image_id}").status_code == 404
    assert multipart_uploads(stack, image_id) == []
    assert objects_of(stack, image_id) == []
    assert alice.usage()["pending"] == 0


def test_batch_status_follows_many_uploads_in_one_request(alice: User, mallory: User, tmp_path: Path) -> None:
    mine = []
    for seed in range(3):
        data = make_photo(tmp_path / f"{seed}.jpg", (400, 300), seed=seed).read_bytes()
        created = alice.slot(data)
        alice.post_file(created["upload"], data)
        mine.append(created["image"]["id"])
    theirs = mallory.slot(b"x" * 10)["image"]["id"]
    ids = ",".join([*mine, theirs, "unknown"])

    def all_ready() -> list[dict[str, Any]] | None:
        reply = alice.http.get("/v1/images", params={"ids": ids})
        assert reply.status_code == 200, reply.text
        items: list[dict[str, Any]] = reply.json()["items"]
        return items if all(item["status"] == "READY" for item in items) else None

    items = eventually(all_ready, "the three uploads to be READY")
    assert [item["id"] for item in items] == list(reversed(mine))  # newest first; no foreign id


# ------------------------------------------------------------------ quotas


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


MAX_IMAGES, MAX_PENDING, MAX_BYTES = 6, 4, 3_500_000
OVERRIDES = f"MaxImagesPerOwner={MAX_IMAGES} MaxPendingPerOwner={MAX_PENDING} MaxBytesPerOwner={MAX_BYTES}"


@dataclass
class RunningDev:
    api_url: str
    aws_url: str
    names: dict[str, str]

    def token(self, sub: str) -> str:
        reply = httpx.post(f"{self.api_url}/_local/token", json={"sub": sub}, timeout=10)
        assert reply.status_code == 200, reply.text
        token: str = reply.json()["token"]
        return token


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningDev]:
    """`python -m infra.local` (what `make dev` runs) with SHOEBOX_PARAMETER_OVERRIDES setting
    small quotas, on free ports, stopped (SIGTERM, as Ctrl-C) when the module is done."""
    home = tmp_path_factory.mktemp("limited-stack")
    api_port, aws_port = _free_port(), _free_port()
    env = {
        **os.environ,
        "SHOEBOX_API_PORT": str(api_port),
        "SHOEBOX_AWS_PORT": str(aws_port),
        "SHOEBOX_STATE_DIR": str(home),
        "SHOEBOX_PARAMETER_OVERRIDES": OVERRIDES,
        "PYTHONPATH": "layers/core",  # as `make dev` runs it: the gateway checks CDN signatures
    }
    sink = FileSink(home / "stack.log")
    process = ChildProcess(
        "make-dev", [sys.executable, "-m", "infra.local"], sink=sink, env=env, cwd=REPO_ROOT
    )
    process.start()
    api_url = f"http://127.0.0.1:{api_port}"

    def healthy() -> bool | None:
        if not process.alive():
            pytest.fail(f"the stack exited: see {home / 'stack.log'}")
        try:
            return httpx.get(f"{api_url}/v1/health", timeout=2).status_code == 200 or None
        except httpx.HTTPError:
            return None

    try:
        eventually(healthy, "the stack to answer /v1/health", seconds=120)
        names = Template(load_template(REPO_ROOT / "template.yaml")).names()
        yield RunningDev(api_url, f"http://127.0.0.1:{aws_port}", names)
    finally:
        process.stop(timeout=30)
        sink.close()


def at_once(count: int, request: Callable[[int], httpx.Response]) -> list[httpx.Response]:
    """`count` requests started together (a barrier), each on its own connection."""
    barrier = threading.Barrier(count)
    replies: list[httpx.Response | None] = [None] * count

    def run(index: int) -> None:
        barrier.wait()
        replies[index] = request(index)

    threads = [threading.Thread(target=run, args=(index,)) for index in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(reply is not None for reply in replies)
    return [reply for reply in replies if reply is not None]


def creators(user: User, **fields: Any) -> Callable[[int], httpx.Response]:
    headers = dict(user.http.headers)

    def create(index: int) -> httpx.Response:
        body = {"filename": f"{index}.png", "content_type": "image/png", **fields}
        return httpx.post(f"{user.api_url}/v1/uploads", json=body, headers=headers, timeout=60)

    return create


def statuses(replies: list[httpx.Response]) -> dict[int, int]:
    found: dict[int, int] = {}
    for reply in replies:
        found[reply.status_code] = found.get(reply.status_code, 0) + 1
    return found


def tiny_png(seed: int) -> bytes:
    return big_png(48, seed=seed)  # a 5 x 5 image of noise: ~100 bytes


def test_the_stack_takes_its_parameters_from_shoebox_parameter_overrides(limited: RunningDev) -> None:
    with session(limited.api_url, limited.token, "params") as user:
        assert user.usage()["limits"] == {"images": MAX_IMAGES, "bytes": MAX_BYTES, "pending": MAX_PENDING}


def test_pending_then_images_limits_are_reached_exactly_by_20_concurrent_creators(
    limited: RunningDev, tmp_path: Path
) -> None:
    with session(limited.api_url, limited.token, "quota") as user:
        pictures = [tiny_png(seed) for seed in range(20)]

        # 20 at once, nothing stored yet: exactly MaxPendingPerOwner slots, the rest 429.
        replies = at_once(20, lambda index: creators(user, size=len(pictures[index]))(index))
        assert statuses(replies) == {201: MAX_PENDING, 429: 20 - MAX_PENDING}, [r.text for r in replies]
        for reply in replies:
            if reply.status_code == 429:
                assert reply.json()["error"]["code"] == "TOO_MANY_PENDING"
                assert 1 <= int(reply.headers["retry-after"]) <= 5
        granted = [reply.json() for reply in replies if reply.status_code == 201]
        assert user.usage()["pending"] == MAX_PENDING

        def upload_all(slots: list[dict[str, Any]]) -> None:
            for created in slots:
                name = created["image"]["filename"]
                data = pictures[int(name.split(".")[0])]
                sent = httpx.post(
                    created["upload"]["url"],
                    data=created["upload"]["fields"],
                    files={"file": ("f", data, "image/png")},
                )
                assert sent.status_code == 204, sent.text
            for created in slots:
                assert user.final(created["image"]["id"])["status"] == "READY"

        upload_all(granted)

        # 20 at once again, MAX_PENDING images stored: exactly the images left, the rest 403.
        replies = at_once(20, lambda index: creators(user, size=len(pictures[index]))(index))
        left = MAX_IMAGES - MAX_PENDING
        assert statuses(replies) == {201: left, 403: 20 - left}, [r.text for r in replies]
        refused = next(reply for reply in replies if reply.status_code == 403).json()["error"]
        assert (refused["code"], refused["details"]["quota"], refused["details"]["limit"]) == (
            "QUOTA_EXCEEDED",
            "images",
            MAX_IMAGES,
        )
        upload_all([reply.json() for reply in replies if reply.status_code == 201])

        # The counters are what exists: every READY image, and its stored original's bytes.
        items = user.http.get("/v1/images", params={"limit": 100}).json()["items"]
        assert [item["status"] for item in items] == ["READY"] * MAX_IMAGES
        s3 = client("s3", limited.aws_url)
        stored = sum(
            s3.head_object(Bucket=limited.names["MediaBucket"], Key=f"originals/{item['id']}")[
                "ContentLength"
            ]
            for item in items
        )
        assert user.usage() | {"limits": None} == {
            "images": MAX_IMAGES,
            "bytes": stored,
            "pending": 0,
            "limits": None,
        }

        # A delete frees its share at once.
        assert user.http.delete(f"/v1/images/{items[0]['id']}").status_code == 204
        assert user.usage()["images"] == MAX_IMAGES - 1
        assert user.create(tiny_png(99), content_type="image/png").status_code == 201
        assert user.create(tiny_png(98), content_type="image/png").status_code == 403


def test_the_bytes_limit_is_reached_exactly_by_20_concurrent_creators(limited: RunningDev) -> None:
    with session(limited.api_url, limited.token, "bytes") as user:
        replies = at_once(20, creators(user, size=1_000_000))
        # 3 x 1 MB fit in 3.5 MB; open slots count their declared size.
        assert statuses(replies) == {201: 3, 403: 17}, [r.text for r in replies]
        refused = next(reply for reply in replies if reply.status_code == 403).json()["error"]["details"]
        assert (refused["quota"], refused["pending"], refused["limit"]) == ("bytes", 3_000_000, MAX_BYTES)
        assert user.usage()["pending"] == 3
        cancelled = next(reply for reply in replies if reply.status_code == 201).json()["image"]["id"]
        assert user.http.delete(f"/v1/uploads/{cancelled}").status_code == 204
        assert user.create(size=1_500_000, content_type="image/png").status_code == 201  # 3.5 MB: the limit
        assert user.create(size=1, content_type="image/png").status_code == 403


# ------------------------------------------------------------------ the usage item under real concurrency


@pytest.fixture
def shoebox_on_the_stack(stack: DevStack, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """`shoebox` in this process, pointed at the stack's emulator and table as a function is."""
    environment = {
        "AWS_ENDPOINT_URL": stack.aws_url,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "TABLE_NAME": stack.names["ImagesTable"],
        "UPLOADS_BUCKET": stack.names["UploadsBucket"],
        "MEDIA_BUCKET": stack.names["MediaBucket"],
    }
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    for model in (ImageRecord, UsageRecord):
        monkeypatch.setattr(model, "_connection", None)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_the_usage_item_stays_exact_under_truly_concurrent_creates_claims_and_cancels(
    shoebox_on_the_stack: None,
) -> None:
    """The API's creators run one at a time locally (one environment per function); here 20
    threads write to the emulator at once, as 20 Lambda environments would in AWS."""
    owner = f"race-{secrets.token_hex(4)}"
    limits = Limits(images=12, bytes=10**9, pending=8)

    def create(index: int) -> str | None:
        try:
            return records.create_pending(
                owner, f"{index}.png", "image/png", 100 + index, 3600, limits=limits
            ).id
        except (TooManyPending, QuotaExceeded):
            return None

    def together(work: list[Callable[[], Any]]) -> list[Any]:
        barrier = threading.Barrier(len(work))
        results: list[Any] = [None] * len(work)

        def run(index: int) -> None:
            barrier.wait()
            results[index] = work[index]()

        threads = [threading.Thread(target=run, args=(index,)) for index in range(len(work))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return results

    opened = [image_id for image_id in together([lambda i=i: create(i) for i in range(20)]) if image_id]
    assert len(opened) == limits.pending
    assert_usage_exact(owner)

    # At once: each slot claimed (twice: a duplicate event), one cancelled, and 20 more creators.
    def claim(image_id: str) -> None:
        accepted = records.Accepted(1000, "image/png", "PNG", 5, 5, "0" * 64, f"etag-{image_id}")
        with contextlib.suppress(TransitionRefused):
            records.claim_accepted(image_id, accepted)

    def cancel(image_id: str) -> None:
        with contextlib.suppress(TransitionRefused, NotPending):
            records.abort_pending(image_id, owner)

    work: list[Callable[[], Any]] = [lambda i=i: claim(i) for i in opened[1:] * 2]
    work += [lambda: cancel(opened[0])]
    work += [lambda i=i: create(100 + i) for i in range(20)]
    outcome = together(work)
    created = [result for result in outcome[len(opened) * 2 - 1 :] if isinstance(result, str)]

    assert_usage_exact(owner)
    found = usage.read(owner)
    assert found is not None
    # Never over a limit: the claimed images plus the open slots, at most 12; open slots at most 8.
    assert (found.images or 0) + len(usage.slots_of(found)) <= limits.images
    assert len(usage.slots_of(found)) <= limits.pending
    assert len(created) <= limits.images - (limits.pending - 1)
