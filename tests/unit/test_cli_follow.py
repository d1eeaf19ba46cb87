"""The CLI follows many uploads with one request per round: first when processing is expected to
be done, then backing off; a final image leaves the round, a gone one is None, and at the timeout
the last state seen is answered."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from shoebox_cli.follow import expected_seconds, follow

MIB = 1024 * 1024


@dataclass
class Clock:
    now: float = 0.0
    slept: list[float] = field(default_factory=list)

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(round(seconds, 3))
        self.now += seconds


@dataclass
class Api:
    """Answers ?ids= from a script: at each round, each id's status (absent: gone)."""

    script: list[dict[str, str]]
    asked: list[list[str]] = field(default_factory=list)

    def images_by_ids(self, ids: list[str]) -> list[dict[str, Any]]:
        statuses = self.script[min(len(self.asked), len(self.script) - 1)]
        self.asked.append(ids)
        return [{"id": image_id, "status": statuses[image_id]} for image_id in ids if image_id in statuses]


def image(image_id: str, size: int = MIB) -> dict[str, Any]:
    return {"id": image_id, "status": "PENDING", "size": size}


def test_one_request_per_round_for_every_image_first_at_the_expected_time_then_backing_off() -> None:
    clock = Clock()
    api = Api(
        [
            {"a": "PROCESSING", "b": "PENDING"},
            {"a": "READY", "b": "PROCESSING"},
            {"b": "PROCESSING"},
            {"b": "REJECTED"},
        ]
    )
    seen: list[tuple[str, str]] = []
    result = follow(
        api,  # type: ignore[arg-type]
        [image("a"), image("b")],
        60,
        lambda each: seen.append((each["id"], each["status"])),
        clock=clock,
        sleep=clock.sleep,
    )
    assert api.asked == [["a", "b"], ["a", "b"], ["b"], ["b"]]
    assert clock.slept == [expected_seconds(MIB), 0.5, 0.75, 1.125]
    assert expected_seconds(MIB) == 1.05
    assert result == {"a": {"id": "a", "status": "READY"}, "b": {"id": "b", "status": "REJECTED"}}
    assert seen[:2] == [("a", "PROCESSING"), ("b", "PENDING")]


def test_a_bigger_file_is_first_asked_about_later_and_never_after_10_seconds() -> None:
    assert expected_seconds(0) == 1.0
    assert expected_seconds(20 * MIB) == 2.0
    assert expected_seconds(10_000 * MIB) == 10.0


def test_more_than_100_ids_go_in_requests_of_100() -> None:
    clock = Clock()
    ids = [f"i{n:03}" for n in range(250)]
    api = Api([dict.fromkeys(ids, "READY")])
    follow(api, [image(each) for each in ids], 60, lambda _: None, clock=clock, sleep=clock.sleep)  # type: ignore[arg-type]
    assert [len(batch) for batch in api.asked] == [100, 100, 50]
    assert clock.slept == [expected_seconds(MIB)]  # one round


def test_a_gone_image_is_none_and_a_slow_one_is_answered_as_last_seen_at_the_timeout() -> None:
    clock = Clock()
    api = Api([{"slow": "PROCESSING"}])
    result = follow(
        api,  # type: ignore[arg-type]
        [image("slow"), image("gone")],
        10,
        lambda _: None,
        clock=clock,
        sleep=clock.sleep,
    )
    assert result == {"gone": None, "slow": {"id": "slow", "status": "PROCESSING"}}
    assert clock.now <= 10
    assert len(api.asked) >= 4  # it kept asking until the deadline
