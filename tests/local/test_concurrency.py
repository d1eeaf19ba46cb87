"""Concurrency through the local stack (SPEC §5, DESIGN decisions 8 and 13): each function runs
in several execution environments at once, so the races AWS allows happen here too, and what
the pipeline promises must hold through them.

* Two different files sent to one slot at the same moment, validated by two environments at
  once, end as one consistent image: record, original and every variant from the same file,
  the other file's bytes gone.
* An environment that dies right after validation wrote the original, with the retry coming
  back late, ends READY, or FAILED keeping no object.
* A hundred uploads from ten clients all end READY (the time it takes is printed, not asserted).
"""

from __future__ import annotations

import io
import json
import statistics
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image, ImageStat

from infra.local import DevStack
from tests.local.support import (
    User,
    assert_upload_lands,
    await_drained,
    objects_of,
    stack_of_its_own,
    user_of,
)
from tests.photos import make_photo

pytestmark = pytest.mark.local

# The second file is sent this much after the first, one attempt each: the race needs it to land
# while the first is being validated (below), and that takes some tens of milliseconds here.
OFFSETS = [0.01 * step for step in range(13)]
# Late enough that the thumbnail step is done with the original first (before claim-first, it
# gave up after three receives of 3 s each waiting for the image to leave PENDING).
LATE_RETRY_SECONDS = 15


# ------------------------------------------------------------------ two files, told apart


@dataclass(frozen=True)
class Source:
    """A file sent to a slot, and what identifies any image made from it."""

    name: str
    data: bytes
    size: tuple[int, int]
    colour: tuple[float, ...]  # mean RGB


def tinted_photo(
    folder: Path, name: str, size: tuple[int, int], tint: tuple[int, int, int], seed: int
) -> Source:
    """A photo-like JPEG washed with `tint`, so that its mean colour tells it apart."""
    with Image.open(make_photo(folder / f"{name}.jpg", size, seed=seed)) as photo:
        image = Image.blend(photo.convert("RGB"), Image.new("RGB", size, tint), 0.6)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90)
    return Source(name, out.getvalue(), size, tuple(ImageStat.Stat(image).mean))


def made_from(data: bytes, sources: tuple[Source, ...]) -> Source:
    """The source whose mean colour the image (any size of it) has; its shape must be the
    source's too."""
    with Image.open(io.BytesIO(data)) as image:
        image.load()
        colour = ImageStat.Stat(image.convert("RGB")).mean
        width, height = image.size
    nearest = min(
        sources, key=lambda source: sum((a - b) ** 2 for a, b in zip(colour, source.colour, strict=True))
    )
    ratio = nearest.size[0] / nearest.size[1]
    assert abs(width / height - ratio) < 0.02 * ratio, f"{width}x{height} is not the shape of {nearest.name}"
    return nearest


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory) -> tuple[Source, Source]:
    folder = tmp_path_factory.mktemp("sources")
    # The first to be sent is the larger: validating it (reading, re-muxing and storing 1.5 MB)
    # takes longest, which leaves the second file the widest window to land in.
    red = tinted_photo(folder, "red", (6000, 4000), (230, 20, 20), seed=3)
    blue = tinted_photo(folder, "blue", (1200, 1800), (20, 20, 230), seed=4)
    return red, blue


# ------------------------------------------------------------------ a stack whose validation is observed


@dataclass(frozen=True)
class Invocation:
    stream: str  # the environment's log stream: one per execution environment
    started: float
    ended: float | None  # None: the environment died during it
    objects: list[dict[str, Any]]

    def overlaps(self, other: Invocation) -> bool:
        return self.started < (other.ended or float("inf")) and other.started < (self.ended or float("inf"))


class Observed:
    """The stack of tests/local/observed_validate.py: its record of every validate invocation."""

    def __init__(self, stack: DevStack, record: Path, crash_list: Path) -> None:
        self.stack = stack
        self.record = record
        self.crash_list = crash_list

    def invocations(self, key: str) -> list[Invocation]:
        """Every invocation whose batch held the object key, in the order they started."""
        lines = (
            [json.loads(line) for line in self.record.read_text().splitlines()]
            if self.record.exists()
            else []
        )
        ends = {line["request_id"]: line["time"] for line in lines if line["event"] == "end"}
        return [
            Invocation(line["stream"], line["time"], ends.get(line["request_id"]), line["objects"])
            for line in lines
            if line["event"] == "start" and any(seen["key"] == key for seen in line["objects"])
        ]

    def overlapped(self, key: str) -> bool:
        """Two environments worked on the key at the same time."""
        found = self.invocations(key)
        return any(a.stream != b.stream and a.overlaps(b) for a in found for b in found)

    def crash_after_original(self, image_id: str) -> None:
        with self.crash_list.open("a") as crash_list:
            crash_list.write(image_id + "\n")


@pytest.fixture(scope="module")
def observed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Observed]:
    """A stack of its own whose ValidateFunction is the real handler, observed (and crashing
    for the images the crash test names)."""
    state = tmp_path_factory.mktemp("observed-stack")
    record, crash_list = state / "invocations.jsonl", state / "crash-after-original.txt"
    with stack_of_its_own(
        state,
        handler_overrides={"ValidateFunction": "tests.local.observed_validate.handler"},
        env_overrides={
            "ValidateFunction": {
                "OBSERVED_INVOCATIONS": str(record),
                "CRASH_AFTER_ORIGINAL": str(crash_list),
                "LATE_RETRY_SECONDS": str(LATE_RETRY_SECONDS),
            }
        },
    ) as running:
        yield Observed(running, record, crash_list)


def assert_one_image_from(user: User, image_id: str, sources: tuple[Source, ...]) -> Source:
    """The upload landed (READY, exactly its original and variants stored, nothing left in the
    uploads bucket, the record's sha256 the original's) and all of it comes from one source: the
    record's dimensions, the original and every variant. Returns that source."""
    image = assert_upload_lands(user, image_id)
    (source,) = [source for source in sources if (image["width"], image["height"]) == source.size]
    for name, variant in image["variants"].items():
        _, data = user.download(image_id, name)
        assert made_from(data, sources) == source, f"{name} is not from the recorded file ({source.name})"
        with Image.open(io.BytesIO(data)) as decoded:
            assert decoded.size == (variant["width"], variant["height"]), name
    return source


def send_together(upload: dict[str, Any], first: Source, second: Source, offset: float) -> list[int]:
    """Both sources sent with the one presigned POST, each from its own thread, released
    together; the second `offset` seconds later."""
    both_ready = threading.Barrier(2)

    def send(source: Source, delay: float) -> int:
        files = {"file": ("a.jpg", source.data, "image/jpeg")}
        both_ready.wait()
        time.sleep(delay)
        return httpx.post(upload["url"], data=upload["fields"], files=files, timeout=30).status_code

    with ThreadPoolExecutor(2) as pool:
        return list(pool.map(send, (first, second), (0.0, offset)))


# ------------------------------------------------------------------ the tests


def test_two_files_sent_to_one_slot_at_once_end_as_one_consistent_image(
    observed: Observed, sources: tuple[Source, Source]
) -> None:
    """Released together, both S3 events come before either validation reads a byte, and the
    older object is skipped (it was replaced: its ETag no longer matches). The race needs the
    second to land while the first is being validated: validated by two environments at once,
    the code before claim-first left the record from one file and the original from the other."""
    red, blue = sources
    attempts = []
    with user_of(observed.stack) as user:
        for offset in OFFSETS:
            created = user.slot(max(len(red.data), len(blue.data)))
            image_id = created["image"]["id"]
            assert set(send_together(created["upload"], red, blue, offset)) <= {200, 201, 204}

            user.final(image_id)
            await_drained(observed.stack, "ValidateQueue", "ThumbnailQueue")  # the loser's event too
            overlapped = observed.overlapped(f"incoming/{image_id}")
            print(f"offset {offset:.2f} s: validations overlapped: {overlapped}")  # shown on failure
            winner = assert_one_image_from(user, image_id, sources)
            attempts.append({"offset": round(offset, 3), "winner": winner.name, "overlapped": overlapped})
    print(json.dumps(attempts))
    assert any(attempt["overlapped"] for attempt in attempts), "validations never overlapped"


def test_a_crash_right_after_the_original_is_written_ends_ready_or_keeps_nothing(
    observed: Observed, sources: tuple[Source, Source]
) -> None:
    red, _ = sources
    with user_of(observed.stack) as user:
        created = user.slot(len(red.data))
        image_id, upload = created["image"]["id"], created["upload"]
        observed.crash_after_original(image_id)
        files = {"file": ("a.jpg", red.data, "image/jpeg")}
        sent = httpx.post(upload["url"], data=upload["fields"], files=files, timeout=30)
        assert sent.status_code in (200, 201, 204), sent.text

        image = user.final(image_id, seconds=LATE_RETRY_SECONDS + 60)
        await_drained(observed.stack, "ValidateQueue", "ThumbnailQueue")

        attempts = observed.invocations(f"incoming/{image_id}")
        print(f"ended {image['status']} after {len(attempts)} validate invocations")
        assert attempts[0].ended is None, "the first attempt did not crash"
        assert any(seen["receive_count"] > 1 for attempt in attempts[1:] for seen in attempt.objects)
        if image["status"] == "READY":
            assert assert_one_image_from(user, image_id, sources) == red
        else:
            assert image["status"] == "FAILED", image
            assert objects_of(observed.stack, image_id) == []


def test_a_hundred_uploads_from_ten_clients_all_end_ready(stack: DevStack, tmp_path: Path) -> None:
    photos = [
        make_photo(tmp_path / f"{seed}.jpg", (1600, 1200), seed=seed).read_bytes() for seed in range(10)
    ]
    latencies: list[float] = []  # from asking for the slot to seeing the image final (±1 s)

    def client(user: User) -> list[str]:
        """Ten uploads one after the other, following them in the list as they go."""
        sent: dict[str, float] = {}
        done: set[str] = set()

        def all_final() -> bool | None:
            listed = user.http.get("/v1/images", params={"limit": 100})
            assert listed.status_code == 200, listed.text
            for image in listed.json()["items"]:
                if image["id"] not in done and image["status"] in ("READY", "REJECTED", "FAILED"):
                    done.add(image["id"])
                    latencies.append(time.monotonic() - sent[image["id"]])
            return True if len(done) == len(photos) else None

        for data in photos:
            started = time.monotonic()
            sent[user.upload(data)] = started
        deadline = time.monotonic() + 240
        while not all_final():
            assert time.monotonic() < deadline, f"{len(photos) - len(done)} uploads of a client never ended"
            time.sleep(1)  # about as often as the web page polls (its back-off ends at 3 s)
        return list(sent)

    started = time.monotonic()
    with ExitStack() as exits, ThreadPoolExecutor(10) as pool:
        clients = [exits.enter_context(user_of(stack)) for _ in range(10)]
        sent = list(pool.map(client, clients))
        elapsed = time.monotonic() - started
        for user, image_ids in zip(clients, sent, strict=True):
            for image_id in image_ids:  # nothing lost: each one READY with every object in place
                image = assert_upload_lands(user, image_id)
                assert sorted(image["variants"]) == ["1024", "256", "512", "original"]
    assert len({image_id for image_ids in sent for image_id in image_ids}) == 100
    print(
        json.dumps(
            {
                "uploads": 100,
                "clients": 10,
                "max_environments": stack.max_environments,
                "wall_seconds": round(elapsed, 1),
                "images_per_second": round(100 / elapsed, 2),
                "p50_seconds": round(statistics.median(latencies), 1),
                "p90_seconds": round(statistics.quantiles(latencies, n=10)[-1], 1),
            }
        )
    )
