"""The local tier's checks that an upload lands or is rejected fail when the pipeline does not
run: the suite shows that its own tests can fail.

A stack of its own runs tests/local/mutants.py as ValidateFunction and ThumbnailFunction: the
real handlers, or steps that take their message and do nothing. With every step on,
assert_upload_lands and assert_upload_rejected (what test_api.py and test_pipeline.py check with)
pass; with validation off neither does, although S3 took the bytes; with thumbnails off an upload
no longer lands, while a rejection by validation still stands. Each mutant case first waits for
the switched-off step to have had the upload's message, so its short deadline is no race:
nothing else will ever happen to that image.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from infra.local import DevStack
from tests.local import mutants
from tests.local.support import (
    User,
    assert_upload_lands,
    assert_upload_rejected,
    eventually,
    stack_of_its_own,
    user_of,
)
from tests.unit.samples import HTML, jpeg

pytestmark = pytest.mark.local

# Once the step has taken the message, a landing that has not happened never will.
MUTANT_DEADLINE_SECONDS = 2.0


@dataclass(frozen=True)
class Mutant:
    stack: DevStack
    folder: Path  # MUTANT_DIR of both steps

    def switch_off(self, *steps: str) -> None:
        mutants.switch_off(self.folder, *steps)

    def await_skipped(self, key: str) -> None:
        what = f"the switched-off step to take {key}"
        eventually(lambda: mutants.skipped(self.folder), what, until=lambda keys: key in keys)


@pytest.fixture(scope="module")
def mutant(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mutant]:
    folder = tmp_path_factory.mktemp("mutant-stack")
    environment = {"MUTANT_DIR": str(folder)}
    with stack_of_its_own(
        folder,
        handler_overrides={
            "ValidateFunction": "tests.local.mutants.validate",
            "ThumbnailFunction": "tests.local.mutants.make_thumbnails",
        },
        env_overrides={"ValidateFunction": environment, "ThumbnailFunction": environment},
    ) as running:
        yield Mutant(running, folder)


@pytest.fixture
def user(mutant: Mutant) -> Iterator[User]:
    mutant.switch_off()  # every step real unless the test says otherwise
    with user_of(mutant.stack, "mutant") as new:
        yield new


def test_with_every_step_on_the_checks_pass(user: User) -> None:
    assert_upload_lands(user, user.upload(jpeg()))
    assert_upload_rejected(user, user.upload(HTML), "NOT_AN_IMAGE")


def test_with_validation_off_an_upload_neither_lands_nor_is_rejected(mutant: Mutant, user: User) -> None:
    mutant.switch_off(mutants.VALIDATE)
    good = user.upload(jpeg())
    bad = user.upload(HTML)
    mutant.await_skipped(f"incoming/{good}")
    mutant.await_skipped(f"incoming/{bad}")

    with pytest.raises(AssertionError, match=f"gave up .* waiting for image {good} .*'PENDING'"):
        assert_upload_lands(user, good, MUTANT_DEADLINE_SECONDS)
    with pytest.raises(AssertionError, match=f"gave up .* waiting for image {bad} .*'PENDING'"):
        assert_upload_rejected(user, bad, "NOT_AN_IMAGE", MUTANT_DEADLINE_SECONDS)
    # What S3 accepting the bytes looks like without the pipeline: all the old checks saw.
    uploads = mutant.stack.names["UploadsBucket"]
    assert user.objects_of(good) == [f"{uploads}/incoming/{good}"]


def test_with_thumbnails_off_an_upload_does_not_land(mutant: Mutant, user: User) -> None:
    mutant.switch_off(mutants.THUMBNAILS)
    good = user.upload(jpeg())
    mutant.await_skipped(f"originals/{good}")

    with pytest.raises(AssertionError, match=f"gave up .* waiting for image {good} .*'PROCESSING'"):
        assert_upload_lands(user, good, MUTANT_DEADLINE_SECONDS)
    # Validation's verdict does not need thumbnails.
    assert_upload_rejected(user, user.upload(HTML), "NOT_AN_IMAGE")
