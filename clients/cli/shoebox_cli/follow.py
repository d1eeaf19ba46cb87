"""Following uploads to a final status with one request per round for all of them
(GET /v1/images?ids=…, 100 ids a request), not one poll per image. Each image is first asked
about when its processing is expected to be done, then ever less often (the web page does the
same: clients/web/status.js)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from shoebox_cli.api import Image, ShoeboxClient

FINAL_STATUSES = frozenset({"READY", "REJECTED", "FAILED"})
IDS_PER_REQUEST = 100
MIB = 1024 * 1024
# Validation and thumbnails, from the upload's end to READY, measured on the local stack (a
# loaded 2-core machine, warm): a 0.3-1 MiB JPEG 0.5-0.9 s, an 8 MiB PNG 0.7-1.3 s. So about a
# second, and a bigger file is first asked about a little later.
EXPECTED_BASE_SECONDS = 1.0
EXPECTED_SECONDS_PER_MIB = 0.05
EXPECTED_MAX_SECONDS = 10.0
# After the expected time: 0.5 s, then 1.5 times longer each round, up to 5 s.
FIRST_RETRY_SECONDS = 0.5
BACK_OFF = 1.5
MAX_DELAY_SECONDS = 5.0


def expected_seconds(size: int) -> float:
    return min(EXPECTED_MAX_SECONDS, EXPECTED_BASE_SECONDS + EXPECTED_SECONDS_PER_MIB * size / MIB)


@dataclass
class _Followed:
    image: Image
    due: float
    delay: float | None = None

    def back_off(self, now: float) -> None:
        self.delay = (
            FIRST_RETRY_SECONDS if self.delay is None else min(self.delay * BACK_OFF, MAX_DELAY_SECONDS)
        )
        self.due = now + self.delay


def follow(
    api: ShoeboxClient,
    images: Iterable[Image],
    timeout: float,
    on_status: Callable[[Image], None],
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, Image | None]:
    """The images' last state by id once each is READY, REJECTED or FAILED, or at `timeout`
    seconds (then still PENDING or PROCESSING); None for one that is gone (deleted meanwhile).
    `on_status` sees every answer."""
    start = clock()
    followed = {
        image["id"]: _Followed(image, start + expected_seconds(int(image.get("size") or 0)))
        for image in images
    }
    result: dict[str, Image | None] = {}
    while followed:
        due = min(entry.due for entry in followed.values())
        if due > start + timeout:
            break
        sleep(max(0.0, due - clock()))
        ids = list(followed)  # everyone: the request costs the same, and an early answer helps
        for first in range(0, len(ids), IDS_PER_REQUEST):
            batch = ids[first : first + IDS_PER_REQUEST]
            found = {image["id"]: image for image in api.images_by_ids(batch)}
            now = clock()
            for image_id in batch:
                entry = followed[image_id]
                image = found.get(image_id)
                if image is None:
                    result[image_id] = None
                    del followed[image_id]
                    continue
                entry.image = image
                on_status(image)
                if image.get("status") in FINAL_STATUSES:
                    result[image_id] = image
                    del followed[image_id]
                elif entry.due <= now:
                    entry.back_off(now)
    for image_id, entry in followed.items():
        result[image_id] = entry.image
    return result
