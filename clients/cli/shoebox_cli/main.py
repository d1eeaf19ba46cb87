"""The `shoebox` command line: argument parsing, the commands, and their rich or JSON output."""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table
from rich.text import Text

from shoebox_cli.api import (
    DEFAULT_API_URL,
    ApiError,
    AuthError,
    Image,
    NotFoundError,
    ShoeboxClient,
    ShoeboxError,
    Unreachable,
)
from shoebox_cli.batch import Outcome, UploadJob, follow_outcomes, status_text
from shoebox_cli.upload import UploadRefused

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_AUTH = 0, 1, 2, 3
STATUSES = ("PENDING", "PROCESSING", "READY", "REJECTED", "FAILED")
VARIANTS = ("original", "256", "512", "1024")
AUTH_HINT = "token missing/expired/invalid: get one with `shoebox token --sub NAME` locally"
EXTENSIONS = {
    "image/jpeg": ".jpg",
    "image/png": ".png",
    "image/webp": ".webp",
    "image/gif": ".gif",
    "image/heic": ".heic",
    "image/heif": ".heif",
    "image/avif": ".avif",
}

out = Console(highlight=False)
err = Console(stderr=True, highlight=False)


# ------------------------------------------------------------------ helpers


def _emit_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, indent=2) + "\n")


def _human_size(size: int | None) -> str:
    if size is None:
        return "-"
    value = float(size)
    for unit in ("B", "KiB", "MiB"):
        if value < 1024 or unit == "MiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GiB"  # pragma: no cover - loop always returns


def _dimensions(image: Image) -> str:
    width, height = image.get("width"), image.get("height")
    return f"{width}×{height}" if width and height else "-"


def _reason(image: Image) -> str:
    error = image.get("error") or {}
    return f"{error.get('code')}: {error.get('message')}" if error else ""


def _client(args: argparse.Namespace, needs_token: bool = True) -> ShoeboxClient:
    if needs_token and not args.token:
        raise AuthError(401, "NO_TOKEN", "none given: pass --token or set SHOEBOX_TOKEN")
    return ShoeboxClient(args.api_url, args.token)


def _s3_client() -> httpx.Client:
    # A client of its own, without the API's Authorization header: presigned URLs carry their
    # own signature, and a second credential makes S3 refuse the request.
    return httpx.Client(timeout=httpx.Timeout(30.0, read=120.0), follow_redirects=False)


# ------------------------------------------------------------------ upload


def _upload_progress(enabled: bool) -> Progress:
    return Progress(
        TextColumn("{task.description}", style="bold"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        TextColumn("{task.fields[status]}"),
        console=err,
        disable=not enabled,
    )


def _render_outcomes(outcomes: list[Outcome], waited: bool) -> None:
    table = Table(box=None, pad_edge=False)
    table.add_column("file", overflow="ellipsis", max_width=40)
    table.add_column("id", no_wrap=True, min_width=22)
    table.add_column("status", no_wrap=True)
    table.add_column("details", ratio=1)
    for outcome in outcomes:
        image = outcome.image or {}
        if isinstance(outcome.error, AuthError):
            details = Text(f"401 {AUTH_HINT}", style="red")
        elif isinstance(outcome.error, ApiError | UploadRefused):
            details = Text(f"{outcome.error.code}: {outcome.error.message}", style="red")
        elif outcome.error is not None:
            details = Text(str(outcome.error), style="red")
        elif image.get("status") in ("REJECTED", "FAILED"):
            details = Text(_reason(image), style="red")
        elif outcome.duplicate:
            details = Text("duplicate: you have these bytes already, nothing was sent")
        elif image.get("status") == "READY":
            details = Text(f"{_dimensions(image)} {image.get('format') or ''}".strip())
        else:
            details = Text("" if waited else "processing: `shoebox show ID` for its status")
        status = status_text(image["status"]) if image else Text("ERROR", style="red")
        table.add_row(Text(outcome.path.name), image.get("id", "-"), status, details)
    out.print(table)


def cmd_upload(args: argparse.Namespace) -> int:
    paths: list[Path] = args.files
    missing = [str(path) for path in paths if not path.is_file()]
    if missing:
        _fail(f"not a file: {', '.join(missing)}")
        return EXIT_USAGE
    with _client(args) as api, _s3_client() as s3, _upload_progress(not args.json) as progress:
        job = UploadJob(api, s3, progress, "PUT" if args.put else "POST", args.content_type, args.timeout)
        tasks = [progress.add_task(path.name, total=path.stat().st_size, status="") for path in paths]
        with ThreadPoolExecutor(max_workers=max(1, args.parallel)) as pool:
            outcomes = list(pool.map(job.run, paths, tasks))
        if args.wait:
            follow_outcomes(api, progress, outcomes, tasks, args.timeout)
    if args.json:
        _emit_json([outcome.as_json() for outcome in outcomes])
    else:
        _render_outcomes(outcomes, args.wait)
    if any(isinstance(outcome.error, AuthError) for outcome in outcomes):
        return EXIT_AUTH
    return EXIT_OK if all(outcome.ok for outcome in outcomes) else EXIT_FAILED


# ------------------------------------------------------------------ ls / show


def cmd_ls(args: argparse.Namespace) -> int:
    with _client(args) as api:
        images = list(api.iter_images(None if args.all else args.limit, args.status))
    if args.json:
        _emit_json(images)
        return EXIT_OK
    if not images:
        err.print("no images" + (f" with status {args.status}" if args.status else ""))
        return EXIT_OK
    table = Table(box=None, pad_edge=False, padding=(0, 1, 0, 0))  # fits 80 columns
    table.add_column("id", no_wrap=True, min_width=22)  # whole: it is what the other commands take
    table.add_column("status", no_wrap=True)
    table.add_column("name", overflow="ellipsis", no_wrap=True)  # what gives way on a narrow terminal
    table.add_column("size", justify="right", no_wrap=True, min_width=9)
    table.add_column("pixels", no_wrap=True, min_width=9)
    table.add_column("created", no_wrap=True, min_width=16)
    for image in images:
        table.add_row(
            image["id"],
            status_text(image["status"]),
            Text(image.get("filename") or ""),
            _human_size(image.get("size")),
            _dimensions(image),
            (image.get("created_at") or "")[:16].replace("T", " "),
        )
    out.print(table)
    return EXIT_OK


def cmd_show(args: argparse.Namespace) -> int:
    with _client(args) as api:
        image = api.get_image(args.id)
    if args.json:
        _emit_json(image)
        return EXIT_OK
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold")
    table.add_column()
    shown = ("id", "filename", "content_type", "format", "sha256", "taken_at", "created_at", "updated_at")
    for name in shown:
        table.add_row(name, Text(str(image.get(name) or "-")))
    table.add_row("status", status_text(image["status"]))
    table.add_row("size", _human_size(image.get("size")))
    table.add_row("pixels", _dimensions(image))
    if image.get("error"):
        table.add_row("error", Text(_reason(image), style="red"))
    out.print(table)
    variants = image.get("variants") or {}
    if variants:
        listing = Table("variant", "pixels", "type", box=None, pad_edge=False)
        for name, variant in variants.items():
            listing.add_row(name, _dimensions(variant), variant.get("content_type"))
        out.print(listing)
        # Each URL whole on one line (never wrapped by us), so that it can be copied.
        out.print("urls (signed CDN URLs, the same all day):")
        for name, variant in variants.items():
            _print_line(f"{name:>8}  {variant.get('url') or '-'}")
    return EXIT_OK


def _print_line(text: str) -> None:
    """One line on stdout as it is: no markup, no highlighting, no wrapping at the terminal's width."""
    out.print(Text(text), soft_wrap=True)


# ------------------------------------------------------------------ get / rm / token


def _default_output(image: Image, variant: str) -> Path:
    name = Path(image.get("filename") or image["id"]).name
    stem = Path(name).stem or image["id"]
    content_type = ((image.get("variants") or {}).get(variant) or {}).get("content_type")
    extension = EXTENSIONS.get(content_type or "", Path(name).suffix)
    return Path(f"{stem}{extension}" if variant == "original" else f"{stem}-{variant}{extension}")


@contextmanager
def _opened(output: Path | None) -> Iterator[Callable[[bytes], object]]:
    """A writer to `output`, stdout for "-"; a partial file is removed when the download fails."""
    if output is None:
        yield sys.stdout.buffer.write
        sys.stdout.buffer.flush()
        return
    partial = output.with_name(output.name + ".part")
    try:
        with partial.open("wb") as file:
            yield file.write
        partial.replace(output)
    finally:
        partial.unlink(missing_ok=True)


def _output_of(args: argparse.Namespace, image: Image) -> tuple[Path | None, bool]:
    """Where `get` saves (None: stdout), and whether we chose the file's name (then we never
    overwrite). `-o DIR/` or an existing folder: our name, in that folder."""
    if args.output == "-":
        return None, False
    if not args.output:
        return _default_output(image, args.variant), True
    path = Path(args.output)
    if args.output.endswith(("/", os.sep)) or path.is_dir():
        return path / _default_output(image, args.variant), True
    return path, False


def cmd_get(args: argparse.Namespace) -> int:
    with _client(args) as api:
        image = api.get_image(args.id)
        url = api.content_url(args.id, args.variant)
    to_stdout = args.output == "-"
    output, named_by_us = _output_of(args, image)
    if output is not None and named_by_us and output.exists():
        _fail(f"{output} exists: choose another name with -o PATH")
        return EXIT_FAILED
    if output is not None:
        try:
            output.parent.mkdir(parents=True, exist_ok=True)  # `-o new/folder/x.webp` makes them
        except OSError as exc:
            _fail(f"cannot make the folder {output.parent}: {exc.strerror} ({exc.filename})")
            return EXIT_FAILED
    show_progress = not (args.json or to_stdout)
    with _s3_client() as s3, s3.stream("GET", url) as response, _upload_progress(show_progress) as progress:
        if response.is_error:
            response.read()
            raise UploadRefused(response.status_code, f"HTTP_{response.status_code}", response.text[:300])
        total = int(response.headers.get("content-length", 0)) or None
        task = progress.add_task(str(output or "stdout"), total=total, status="")
        written = 0
        with _opened(output) as write:
            for chunk in response.iter_bytes():
                write(chunk)
                written += len(chunk)
                progress.advance(task, len(chunk))
    if args.json:
        _emit_json({"id": args.id, "variant": args.variant, "path": str(output or "-"), "bytes": written})
    elif not to_stdout:
        err.print(f"saved {output} ({_human_size(written)})")
    return EXIT_OK


def _delete_each(ids: list[str], delete: Callable[[str], object]) -> tuple[list[str], list[str]]:
    """(deleted, not found): each id given to `delete`, the rest carried on when one is gone."""
    deleted, missing = [], []
    for one in ids:
        try:
            delete(one)
            deleted.append(one)
        except NotFoundError:
            missing.append(one)
    return deleted, missing


def cmd_rm(args: argparse.Namespace) -> int:
    with _client(args) as api:
        deleted, missing = _delete_each(args.ids, api.delete_image)
    if args.json:
        _emit_json({"deleted": deleted, "not_found": missing})
    else:
        for image_id in deleted:
            out.print(f"deleted {image_id}")
        for image_id in missing:
            err.print(f"[red]not found:[/] {escape(image_id)}")
    return EXIT_FAILED if missing else EXIT_OK


def cmd_usage(args: argparse.Namespace) -> int:
    with _client(args) as api:
        usage = api.usage()
    if args.json:
        _emit_json(usage)
        return EXIT_OK
    limits = usage.get("limits") or {}
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold")
    table.add_column(justify="right")
    table.add_column()
    table.add_row("images", str(usage["images"]), f"of {limits.get('images', '-')}")
    table.add_row("stored", _human_size(usage["bytes"]), f"of {_human_size(limits.get('bytes'))}")
    table.add_row(
        "pending", str(usage["pending"]), f"of {limits.get('pending', '-')} uploads waiting for their bytes"
    )
    out.print(table)
    return EXIT_OK


# ------------------------------------------------------------------ share / shares / unshare

_DURATION = re.compile(r"(\d+)\s*([smhdw]?)")
_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def duration(text: str) -> int | None:
    """--expires: 90s, 30m, 12h, 7d, 2w or plain seconds; `never` for a link that lasts until
    revoked (None)."""
    text = text.strip().lower()
    if text == "never":
        return None
    found = _DURATION.fullmatch(text)
    if found is None or int(found[1]) == 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration: say e.g. 7d, 12h, 30m or never")
    return int(found[1]) * _SECONDS[found[2]]


def _lasts(share: dict[str, Any]) -> str:
    expires = share.get("expires_at")
    return f"expires {expires[:16].replace('T', ' ')} UTC" if expires else "until revoked"


def cmd_share(args: argparse.Namespace) -> int:
    with _client(args) as api:
        share = api.create_share(args.id, args.expires)
    if args.json:
        _emit_json(share)
        return EXIT_OK
    sys.stdout.write(share["url"] + "\n")  # alone on stdout: `shoebox share ID | pbcopy`
    err.print(Text(f"link {share['id']}, {_lasts(share)}; revoke it with `shoebox unshare {share['id']}`"))
    return EXIT_OK


def cmd_shares(args: argparse.Namespace) -> int:
    with _client(args) as api:
        shares = api.list_shares(args.id)
    if args.json:
        _emit_json(shares)
        return EXIT_OK
    if not shares:
        err.print(Text(f"no links to {args.id}: make one with `shoebox share {args.id}`"))
        return EXIT_OK
    for share in shares:  # newest first; each URL whole on a line of its own
        _print_line(f"{share['id']}  {_lasts(share)}")
        _print_line(f"  {share['url']}")
    return EXIT_OK


def cmd_unshare(args: argparse.Namespace) -> int:
    with _client(args) as api:
        revoked, missing = _delete_each(args.share_ids, api.delete_share)
    if args.json:
        _emit_json({"revoked": revoked, "not_found": missing})
    else:
        for share_id in revoked:
            _print_line(f"revoked {share_id}")
        for share_id in missing:
            err.print(f"[red]not found:[/] no share link {escape(share_id)} among yours")
    return EXIT_FAILED if missing else EXIT_OK


def cmd_token(args: argparse.Namespace) -> int:
    with _client(args, needs_token=False) as api:
        try:
            token = api.local_token(args.sub)
        except ApiError as exc:
            if exc.status in (403, 404, 405):
                _fail(f"{api.api_url} issues no dev tokens: only the local stack does")
                return EXIT_FAILED
            raise
    if args.json:
        _emit_json({"token": token, "sub": args.sub})
    else:
        sys.stdout.write(token + "\n")
    return EXIT_OK


# ------------------------------------------------------------------ parser


def _common_options(defaults: bool) -> argparse.ArgumentParser:
    """--api-url/--token/--json, accepted before and after the command name.

    The copy on each command has no defaults, so it never overwrites a value given earlier.
    """
    parser = argparse.ArgumentParser(add_help=False)
    unset = argparse.SUPPRESS
    parser.add_argument(
        "--api-url",
        default=(os.environ.get("SHOEBOX_API_URL") or DEFAULT_API_URL) if defaults else unset,
        help=f"API base URL (env SHOEBOX_API_URL, default {DEFAULT_API_URL})",
    )
    parser.add_argument(
        "--token",
        default=os.environ.get("SHOEBOX_TOKEN") if defaults else unset,
        help="bearer token, a JWT (env SHOEBOX_TOKEN)",
    )
    parser.add_argument(
        "--json",
        action="store_true",
        default=False if defaults else unset,
        help="machine-readable output on stdout, no progress bars",
    )
    return parser


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="shoebox",
        description="Upload, list, fetch, share and delete images in a Shoebox.",
        parents=[_common_options(defaults=True)],
        epilog="exit codes: 0 ok, 1 failed or rejected, 2 usage, 3 authentication",
    )
    parser.add_argument("--version", action="version", version=f"shoebox {_version()}")
    common = _common_options(defaults=False)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    upload = commands.add_parser("upload", parents=[common], help="upload files straight to S3")
    upload.add_argument("files", nargs="+", type=Path, metavar="FILE")
    upload.add_argument("--wait", action="store_true", help="wait until each image is READY or REJECTED")
    upload.add_argument("--put", action="store_true", help="use a presigned PUT instead of a POST")
    upload.add_argument("--content-type", help="declare this type instead of guessing it from the bytes")
    upload.add_argument("--parallel", type=int, default=4, metavar="N", help="files at once (default 4)")
    upload.add_argument(
        "--timeout", type=float, default=120.0, help="seconds to --wait, or to wait out a 429 (default 120)"
    )
    upload.set_defaults(run=cmd_upload)

    usage = commands.add_parser("usage", parents=[common], help="your images and bytes, and your limits")
    usage.set_defaults(run=cmd_usage)

    ls = commands.add_parser("ls", parents=[common], help="list your images, newest first")
    ls.add_argument("--status", choices=STATUSES, type=str.upper)
    ls.add_argument("--limit", type=int, default=20, metavar="N", help="at most N images (default 20)")
    ls.add_argument("--all", action="store_true", help="every image, page after page")
    ls.set_defaults(run=cmd_ls)

    show = commands.add_parser("show", parents=[common], help="one image's details and variants")
    show.add_argument("id")
    show.set_defaults(run=cmd_show)

    get = commands.add_parser("get", parents=[common], help="download an image or a thumbnail")
    get.add_argument("id")
    get.add_argument("--variant", choices=VARIANTS, default="original")
    get.add_argument("-o", "--output", metavar="PATH", help="where to save it; - for stdout")
    get.set_defaults(run=cmd_get)

    rm = commands.add_parser("rm", parents=[common], help="delete images and all their files")
    rm.add_argument("ids", nargs="+", metavar="ID")
    rm.set_defaults(run=cmd_rm)

    share = commands.add_parser("share", parents=[common], help="make a link anyone can open (no sign-in)")
    share.add_argument("id")
    share.add_argument(
        "--expires",
        type=duration,
        default=None,
        metavar="WHEN",
        help="how long the link works: 30m, 12h, 7d, 2w ... (default: until revoked)",
    )
    share.set_defaults(run=cmd_share)

    shares = commands.add_parser("shares", parents=[common], help="an image's live share links")
    shares.add_argument("id")
    shares.set_defaults(run=cmd_shares)

    unshare = commands.add_parser("unshare", parents=[common], help="revoke share links")
    unshare.add_argument("share_ids", nargs="+", metavar="SHARE_ID")
    unshare.set_defaults(run=cmd_unshare)

    token = commands.add_parser("token", parents=[common], help="a dev token (local stack only)")
    token.add_argument("--sub", required=True, metavar="NAME", help="the user the token is for")
    token.set_defaults(run=cmd_token)
    return parser


def _version() -> str:
    try:
        return version("shoebox")
    except PackageNotFoundError:  # run from a checkout that was never installed
        return "unknown"


def _fail(message: str) -> None:
    err.print(f"[red]error:[/] {escape(message)}")


def _report(exc: Exception) -> int:
    """One clear line on stderr for each kind of failure, and its exit code."""
    if isinstance(exc, AuthError):
        _fail(f"{AUTH_HINT} ({exc.message})")
        return EXIT_AUTH
    if isinstance(exc, NotFoundError):
        image_id = exc.details.get("id")
        _fail(f"not found: no image {image_id} among yours" if image_id else f"not found: {exc.message}")
        return EXIT_FAILED
    if isinstance(exc, ApiError):
        _fail(f"{exc.status} {exc.code}: {exc.message}")
        return EXIT_FAILED
    if isinstance(exc, Unreachable):
        _fail(f"{exc} (is the stack running? `make dev` starts it locally)")
        return EXIT_FAILED
    if isinstance(exc, OSError):  # a file we were asked to read or write
        _fail(f"{exc.strerror or exc}: {exc.filename}" if exc.filename else str(exc))
        return EXIT_FAILED
    _fail(str(exc))
    return EXIT_FAILED


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "ls" and args.limit < 1:
        _fail("--limit must be at least 1")
        return EXIT_USAGE
    try:
        return int(args.run(args))
    except (ShoeboxError, UploadRefused, OSError) as exc:
        return _report(exc)
    except KeyboardInterrupt:
        err.print("interrupted")
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
