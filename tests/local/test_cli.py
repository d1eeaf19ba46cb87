"""The `shoebox` command against the local stack: the real console script, in a subprocess."""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import subprocess
import sys
from dataclasses import dataclass
from datetime import datetime, timedelta
from importlib.metadata import version
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from tests.local.proxy import forward_proxy
from tests.photos import big_png, make_photo

pytestmark = pytest.mark.local

SCRIPT = Path(sys.executable).with_name("shoebox")


@dataclass(frozen=True)
class Run:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


@dataclass(frozen=True)
class Cli:
    api_url: str
    token: str | None
    cwd: Path  # also the cache folder's parent (XDG_CACHE_HOME): where interrupted uploads are kept

    @property
    def cache(self) -> Path:
        return self.cwd / "cache"

    def __call__(
        self,
        *args: str | Path,
        token: str | None = "",
        timeout: float = 180,
        columns: int = 200,
        proxy: str | None = None,
    ) -> Run:
        env = {**os.environ, "SHOEBOX_API_URL": self.api_url, "NO_COLOR": "1", "COLUMNS": str(columns)}
        env["XDG_CACHE_HOME"] = str(self.cache)
        for name in (
            "SHOEBOX_TOKEN",
            "HTTP_PROXY",
            "http_proxy",
            "ALL_PROXY",
            "all_proxy",
            "NO_PROXY",
            "no_proxy",
        ):
            env.pop(name, None)
        if proxy:
            env["HTTP_PROXY"] = proxy  # every request of the CLI goes through it, to the API and to S3
        chosen = self.token if token == "" else token
        if chosen is not None:
            env["SHOEBOX_TOKEN"] = chosen
        command = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "shoebox_cli"]
        done = subprocess.run(
            [*command, *map(str, args)],
            env=env,
            cwd=self.cwd,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        return Run(done.returncode, done.stdout, done.stderr)


def _new_user(stack: Any, folder: Path) -> Cli:
    anonymous = Cli(stack.api_url, None, folder)
    issued = anonymous("token", "--sub", f"cli-{secrets.token_hex(4)}")
    assert issued.code == 0, issued.err
    return Cli(stack.api_url, issued.out.strip(), folder)


@pytest.fixture(scope="module")
def cli(stack: Any, tmp_path_factory: pytest.TempPathFactory) -> Cli:
    return _new_user(stack, tmp_path_factory.mktemp("cli"))


@pytest.fixture
def newcomer(stack: Any, tmp_path: Path) -> Cli:
    """A user with no image yet."""
    return _new_user(stack, tmp_path)


@pytest.fixture(scope="module")
def photos(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    folder = tmp_path_factory.mktemp("photos")
    return [
        make_photo(folder / "harbour.jpg", (1600, 1200), seed=1),
        make_photo(folder / "meadow.png", (640, 480), seed=2),
    ]


@pytest.fixture(scope="module")
def uploaded(cli: Cli, photos: list[Path]) -> list[dict[str, Any]]:
    """The photos, uploaded with --wait --json: one result per file."""
    run = cli("upload", "--wait", "--json", *photos)
    assert run.code == 0, run.err + run.out
    results = run.json()
    assert isinstance(results, list)
    return results


def test_token_is_a_jwt_and_json_works(cli: Cli) -> None:
    plain = cli("token", "--sub", "someone", token=None)
    assert plain.code == 0
    assert plain.out.strip().count(".") == 2
    as_json = cli("token", "--sub", "someone", "--json", token=None)
    assert as_json.json()["sub"] == "someone"


def test_upload_wait_reaches_ready(uploaded: list[dict[str, Any]], photos: list[Path]) -> None:
    assert [Path(result["file"]).name for result in uploaded] == [path.name for path in photos]
    for result in uploaded:
        assert result["ok"] is True
        assert result["error"] is None
        image = result["image"]
        assert image["status"] == "READY"
        assert set(image["variants"]) >= {"original", "256"}
    assert uploaded[0]["image"]["width"] == 1600
    assert set(uploaded[0]["image"]["variants"]) == {"original", "256", "512", "1024"}
    assert "1024" not in uploaded[1]["image"]["variants"]  # 640 px wide: never enlarged


def test_upload_shows_progress_and_a_table(cli: Cli, tmp_path: Path) -> None:
    photo = make_photo(tmp_path / "pier.jpg", (1200, 900), seed=3)
    run = cli("upload", "--wait", photo)
    assert run.code == 0, run.err
    assert "pier.jpg" in run.err  # the progress bar's line, on stderr
    assert "READY" in run.out
    assert "1200×900" in run.out


def test_upload_with_put(cli: Cli, tmp_path: Path) -> None:
    photo = make_photo(tmp_path / "put.jpg", (800, 600), seed=4)
    run = cli("upload", "--put", "--wait", "--json", photo)
    assert run.code == 0, run.err + run.out
    assert run.json()[0]["image"]["status"] == "READY"


def test_ls_lists_newest_first(cli: Cli, uploaded: list[dict[str, Any]]) -> None:
    ids = {result["image"]["id"] for result in uploaded}
    listed = cli("ls", "--json", "--all")
    assert listed.code == 0, listed.err
    images = listed.json()
    assert ids <= {image["id"] for image in images}
    created = [image["created_at"] for image in images]
    assert created == sorted(created, reverse=True)

    one = cli("ls", "--json", "--limit", "1", "--status", "ready")
    assert len(one.json()) == 1
    assert one.json()[0]["status"] == "READY"

    table = cli("ls")
    assert table.code == 0
    assert all(image_id in table.out for image_id in ids)


def test_show(cli: Cli, uploaded: list[dict[str, Any]]) -> None:
    image = uploaded[0]["image"]
    shown = cli("show", image["id"], "--json")
    assert shown.code == 0
    assert shown.json()["id"] == image["id"]
    text = cli("show", image["id"])
    assert "harbour.jpg" in text.out
    assert "READY" in text.out
    assert "1024" in text.out


def test_get_original_and_a_thumbnail(cli: Cli, uploaded: list[dict[str, Any]], tmp_path: Path) -> None:
    image_id = uploaded[0]["image"]["id"]
    original = cli("get", image_id, "-o", tmp_path / "original.jpg")
    assert original.code == 0, original.err
    with Image.open(tmp_path / "original.jpg") as decoded:
        assert decoded.format == "JPEG"
        assert decoded.size == (1600, 1200)

    thumbnail = cli("get", image_id, "--variant", "256", "--json")
    assert thumbnail.code == 0, thumbnail.err
    saved = cli.cwd / thumbnail.json()["path"]
    assert saved.name == "harbour-256.webp"
    with Image.open(saved) as decoded:
        assert decoded.format == "WEBP"
        assert max(decoded.size) == 256

    again = cli("get", image_id, "--variant", "256")
    assert again.code == 1
    assert "exists" in again.err  # never overwrites a file it named itself


def test_show_prints_each_url_whole_on_a_narrow_terminal(cli: Cli, uploaded: list[dict[str, Any]]) -> None:
    image = uploaded[0]["image"]
    text = cli("show", image["id"], columns=60)
    assert text.code == 0, text.err
    lines = text.out.splitlines()
    for name, variant in image["variants"].items():
        url = variant["url"]
        assert len(url) > 60
        assert [line.split() for line in lines if url in line] == [[name, url]], text.out


def test_get_into_folders_that_do_not_exist_yet(
    cli: Cli, uploaded: list[dict[str, Any]], tmp_path: Path
) -> None:
    image_id = uploaded[0]["image"]["id"]
    target = tmp_path / "new" / "deeper" / "x.webp"
    saved = cli("get", image_id, "--variant", "256", "-o", target)
    assert saved.code == 0, saved.err
    assert "Traceback" not in saved.err
    with Image.open(target) as decoded:
        assert decoded.format == "WEBP"
    assert not list(target.parent.glob("*.part"))

    into = cli("get", image_id, "--variant", "512", "-o", f"{tmp_path / 'folder'}/")
    assert into.code == 0, into.err
    assert (tmp_path / "folder" / "harbour-512.webp").is_file()


def test_get_to_a_place_that_cannot_be_written_is_one_clear_line(
    cli: Cli, uploaded: list[dict[str, Any]], tmp_path: Path
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    run = cli("get", uploaded[0]["image"]["id"], "-o", blocker / "x.jpg")
    assert run.code == 1
    assert "Traceback" not in run.err
    assert run.err.splitlines() == [f"error: cannot make the folder {blocker}: File exists ({blocker})"]


def test_version(cli: Cli) -> None:
    run = cli("--version", token=None)
    assert run.code == 0
    assert run.out.strip() == f"shoebox {version('shoebox')}"


def test_share_then_shares_then_unshare(cli: Cli, uploaded: list[dict[str, Any]]) -> None:
    image_id = uploaded[1]["image"]["id"]
    made = cli("share", image_id, "--expires", "7d")
    assert made.code == 0, made.err
    url = made.out.strip()  # the link alone on stdout
    assert url.startswith(f"{cli.api_url}/s/")
    assert "unshare" in made.err
    assert httpx.get(url).status_code == 200

    lasting = cli("share", image_id, "--json").json()
    assert lasting["expires_at"] is None
    week = cli("shares", image_id, "--json").json()[1]
    assert week["url"] == url
    expires = datetime.fromisoformat(week["expires_at"]) - datetime.fromisoformat(week["created_at"])
    assert expires == timedelta(days=7)

    listed = cli("shares", image_id, columns=40)
    assert listed.code == 0, listed.err
    lines = listed.out.splitlines()
    assert f"  {lasting['url']}" in lines  # whole, newest first
    assert lines.index(f"  {lasting['url']}") < lines.index(f"  {url}")
    assert f"{week['id']}  expires " in listed.out
    assert f"{lasting['id']}  until revoked" in listed.out

    revoked = cli("unshare", week["id"])
    assert revoked.code == 0, revoked.err
    assert revoked.out.strip() == f"revoked {week['id']}"
    assert httpx.get(url).status_code == 404
    assert [share["id"] for share in cli("shares", image_id, "--json").json()] == [lasting["id"]]
    again = cli("unshare", week["id"], lasting["id"], "--json")
    assert again.code == 1
    assert again.json() == {"revoked": [lasting["id"]], "not_found": [week["id"]]}
    assert cli("shares", image_id, "--json").json() == []


@pytest.mark.parametrize("expires", ["soon", "0d", "7 days"])
def test_a_bad_expiry_is_a_usage_error(cli: Cli, uploaded: list[dict[str, Any]], expires: str) -> None:
    run = cli("share", uploaded[1]["image"]["id"], "--expires", expires)
    assert run.code == 2
    assert "is not a duration" in run.err


def test_rm_then_it_is_gone(cli: Cli, tmp_path: Path) -> None:
    photo = make_photo(tmp_path / "doomed.jpg", (400, 300), seed=5)
    image_id = cli("upload", "--json", photo).json()[0]["image"]["id"]
    removed = cli("rm", image_id)
    assert removed.code == 0
    assert f"deleted {image_id}" in removed.out
    gone = cli("show", image_id)
    assert gone.code == 1
    assert "not found" in gone.err
    again = cli("rm", image_id, "--json")
    assert again.code == 1
    assert again.json() == {"deleted": [], "not_found": [image_id]}


def test_a_rejected_file_fails_with_its_reason(cli: Cli, tmp_path: Path) -> None:
    fake = tmp_path / "notes.jpg"
    fake.write_text("these are my notes, not a photo\n" * 50)
    good = make_photo(tmp_path / "fine.jpg", (640, 480), seed=6)

    run = cli("upload", "--wait", fake, good)
    assert run.code == 1
    assert "REJECTED" in run.out
    assert "NOT_AN_IMAGE" in run.out

    as_json = cli("upload", "--wait", "--json", fake)
    assert as_json.code == 1
    (result,) = as_json.json()
    assert result["ok"] is False
    assert result["image"]["status"] == "REJECTED"
    assert result["error"]["code"] == "NOT_AN_IMAGE"


def test_an_unsupported_type_is_refused_before_upload(cli: Cli, tmp_path: Path) -> None:
    text = tmp_path / "readme.txt"
    text.write_text("hello")
    run = cli("upload", "--json", text)
    assert run.code == 1
    (result,) = run.json()
    assert result["error"]["code"] == "UNSUPPORTED_MEDIA_TYPE"
    assert result["image"] is None


@pytest.mark.parametrize("token", ["not-a-jwt", None])
def test_a_bad_or_missing_token_is_explained(cli: Cli, token: str | None) -> None:
    run = cli("ls", token=token)
    assert run.code == 3
    assert "token missing/expired/invalid" in run.err
    assert "shoebox token --sub NAME" in run.err
    assert run.out == ""


def test_an_unreachable_api_is_explained(cli: Cli) -> None:
    run = cli("--api-url", "http://127.0.0.1:9", "ls")
    assert run.code == 1
    assert "cannot reach the API" in run.err


def _api_requests(cli: Cli, seen: list[tuple[str, str]]) -> list[tuple[str, str]]:
    return [(method, url.removeprefix(cli.api_url)) for method, url in seen if url.startswith(cli.api_url)]


def test_the_same_file_again_is_a_duplicate_and_nothing_is_sent(
    cli: Cli, uploaded: list[dict[str, Any]], photos: list[Path]
) -> None:
    with forward_proxy() as proxy:
        run = cli("upload", "--json", photos[0], proxy=proxy.url)
    assert run.code == 0, run.err + run.out
    (result,) = run.json()
    assert (result["ok"], result["duplicate"], result["error"]) == (True, True, None)
    assert result["image"]["id"] == uploaded[0]["image"]["id"]
    assert result["image"]["status"] == "READY"
    assert _api_requests(cli, proxy.seen) == [("POST", "/v1/uploads")]
    assert len(proxy.seen) == 1  # nothing went to S3

    table = cli("upload", photos[0])
    assert table.code == 0
    assert "duplicate" in table.out


def test_usage_counts_what_the_user_has(newcomer: Cli, tmp_path: Path) -> None:
    assert newcomer("usage", "--json").json()["images"] == 0
    photo = make_photo(tmp_path / "one.jpg", (800, 600), seed=7)
    assert newcomer("upload", "--wait", photo).code == 0
    usage = newcomer("usage", "--json")
    assert usage.code == 0, usage.err
    counted = usage.json()
    assert (counted["images"], counted["pending"]) == (1, 0)
    assert 0 < counted["bytes"] <= photo.stat().st_size
    assert set(counted["limits"]) == {"images", "bytes", "pending"}
    text = newcomer("usage")
    assert re.search(rf"images\s+1\s+of {counted['limits']['images']}", text.out), text.out


def test_wait_follows_every_upload_with_one_request_per_round(newcomer: Cli, tmp_path: Path) -> None:
    photos = [make_photo(tmp_path / f"bay-{n}.jpg", (900, 600), seed=90 + n) for n in range(3)]
    with forward_proxy() as proxy:
        run = newcomer("upload", "--wait", "--json", *photos, proxy=proxy.url)
    assert run.code == 0, run.err + run.out
    assert [result["image"]["status"] for result in run.json()] == ["READY"] * 3
    ids = {result["image"]["id"] for result in run.json()}
    requests = _api_requests(newcomer, proxy.seen)
    assert not [path for _, path in requests if re.fullmatch(r"/v1/images/[^/?]+", path)], requests
    rounds = [
        set(httpx.URL(path).params["ids"].split(","))
        for _, path in requests
        if path.startswith("/v1/images?")
    ]
    assert rounds[0] == ids, rounds  # the first round asks about all three at once
    assert all(asked <= ids for asked in rounds)


def test_an_interrupted_big_upload_is_resumed_by_the_same_command(
    stack: Any, newcomer: Cli, tmp_path: Path
) -> None:
    big = tmp_path / "panorama.png"
    big.write_bytes(big_png(20 * 1024 * 1024, seed=91))
    sha256 = hashlib.sha256(big.read_bytes()).hexdigest()

    def part(url: str) -> int:
        return int(httpx.URL(url).params["partNumber"])

    # The network drops at the second part: the first is with S3, the rest never left.
    with forward_proxy() as proxy:
        proxy.fail = lambda method, url: method == "PUT" and "partNumber=" in url and part(url) >= 2
        first = newcomer("upload", "--json", big, proxy=proxy.url)
    assert first.code == 1, first.err + first.out
    (result,) = first.json()
    assert result["error"]["code"] == "INTERRUPTED"
    assert "run the same command again" in result["error"]["message"]
    assert [part(url) for method, url in proxy.seen if method == "PUT"] == [1]
    (state,) = (newcomer.cache / "shoebox" / "uploads").glob("*.json")
    saved = json.loads(state.read_text())
    assert saved["sha256"] == sha256
    assert "token" not in json.dumps(saved).lower()
    headers = {"Authorization": f"Bearer {newcomer.token}"}
    with httpx.Client(base_url=stack.api_url, headers=headers) as api:
        assert [
            each["number"] for each in api.get(f"/v1/uploads/{saved['image_id']}").json()["received"]
        ] == [1]

        with forward_proxy() as proxy:
            second = newcomer("upload", "--wait", "--json", big, proxy=proxy.url)
        assert second.code == 0, second.err + second.out
        (result,) = second.json()
        assert result["image"]["id"] == saved["image_id"]
        assert result["image"]["status"] == "READY"
        assert result["image"]["sha256"] == sha256
        assert sorted(part(url) for method, url in proxy.seen if method == "PUT") == [2, 3]  # not 1 again
        assert ("POST", "/v1/uploads") not in _api_requests(newcomer, proxy.seen)  # the same slot
        assert not state.exists()
        assert [image["id"] for image in api.get("/v1/images").json()["items"]] == [saved["image_id"]]
