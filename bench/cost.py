"""What one image costs in AWS: `make cost` (python -m bench.cost) prints one JSON document.

Runs the whole app on the local stack (infra.local.DevStack: moto server, the gateway, each
function in execution environments of its own, the queue workers) with every function's real
handler wrapped by bench/cost_probe.py, which records each invocation (wall and CPU time) and
every AWS request the handler makes (botocore's request path: service, operation, DynamoDB item
sizes). A client then does what the web page does for one photo, with the CLI's own code:
POST /v1/uploads (with the file's SHA-256), the presigned POST straight to S3, following the
upload with GET /v1/images?ids= rounds (clients/cli/shoebox_cli/follow.py, the web page's
schedule, on the real clock) until READY, GET /v1/usage (the page shows it after a final
status), then one view of the 512 px variant through the CDN (the local stack's /cdn/). The
rounds priced are those the same schedule makes against AWS's modelled time to READY
(follow_rounds): the local stack is faster or slower than AWS for reasons of its own.

The first image warms the stack up (cold starts: the secrets are read then) and is reported
apart; the measured images follow one at a time. What no handler does itself is counted where it
happens: the client's requests (API Gateway, the S3 POST, CDN GETs) and, per SQS message, S3's
notification (SendMessage) and the event source mapping's ReceiveMessage and DeleteMessageBatch
for the batch. Every price is in PRICES, once.

Lambda duration: the handler's own CPU time, stretched to the vCPU share of its memory size
(1769 MB = 1 vCPU), plus AWS's latency per request (AWS_LATENCY_MS); the emulator's latency on
this machine is not AWS's, so the wall time measured here is reported beside it, not billed.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import math
import random
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import httpx
from PIL import Image

from infra.local import DevStack
from infra.local.template import load_template
from infra.local.topology import label
from shoebox_cli import follow as following
from shoebox_cli.api import ShoeboxClient
from shoebox_cli.upload import send_file

REPO_ROOT = Path(__file__).resolve().parents[1]
PROBE = "bench.cost_probe.handler"

# us-east-1 list prices (AWS's pricing pages, 2026-12-01), the only place a price is written.
PRICES: dict[str, float] = {
    "s3_put_copy_post_list_per_1k": 0.005,  # PUT, COPY, POST, LIST
    "s3_get_head_per_1k": 0.0004,  # GET, HEAD and every other request; DELETE is free
    "s3_storage_gb_month": 0.023,  # S3 Standard, first 50 TB: stated apart, not in the totals
    "http_api_per_million": 1.00,
    "lambda_gb_second_arm64": 0.0000133334,
    "lambda_requests_per_million": 0.20,
    "sqs_requests_per_million": 0.40,  # standard queue, each 64 KB chunk of a payload
    "dynamodb_write_units_per_million": 0.625,  # on demand: 1 KB a unit, transactions twice
    "dynamodb_read_units_per_million": 0.125,  # 4 KB a unit, eventually consistent half
    "cloudfront_https_requests_per_10k": 0.0100,
    "cloudfront_data_out_per_gb": 0.085,  # first 10 TB a month, United States
    "cloudwatch_logs_ingestion_per_gb": 0.50,
    "secrets_manager_calls_per_10k": 0.05,
    "xray_traces_recorded_per_million": 5.00,
}
LAMBDA_MB_PER_VCPU = 1769
# AWS's own latency per request, inside a region (typical, not measured here): Lambda bills it.
AWS_LATENCY_MS = {"dynamodb": 6.0, "s3": 25.0, "secretsmanager": 20.0, "sqs": 10.0}
# Lambda's own lines per invocation in the (text) log format: START, END and REPORT.
PLATFORM_LOG_LINES = 3
PLATFORM_LOG_BYTES = 300
# CloudWatch Logs bills each event's bytes plus 26 bytes of metadata.
LOG_EVENT_OVERHEAD_BYTES = 26
# X-Ray's default sampling rule: the first request each second, then 5% of the rest.
XRAY_RESERVOIR_PER_SECOND = 1
XRAY_RATE = 0.05
XRAY_ASSUMED_IMAGES_PER_SECOND = 10
# A secret read at a cold start (and hourly after): invocations an environment serves per read.
INVOCATIONS_PER_SECRET_READ = 1000
# From an object written to its step's invocation in AWS, besides the mapping's batching window:
# S3's notification into SQS and the event source mapping's long poll picking it up (typical).
S3_TO_SQS_SECONDS = 0.3
SQS_TO_LAMBDA_SECONDS = 0.05
# A gallery page lists 20 images: a view's share of GET /v1/images.
IMAGES_PER_PAGE = 20
VIEW_VARIANT = "512"
S3_PUT_CLASS = {
    "PutObject",
    "CopyObject",
    "PostObject",
    "ListObjects",
    "ListObjectsV2",
    "ListParts",
    "CreateMultipartUpload",
    "UploadPart",
    "CompleteMultipartUpload",
}
# DELETE requests are free; S3's own request metrics count DeleteObjects among them, not as a POST.
S3_FREE = {"DeleteObject", "DeleteObjects", "AbortMultipartUpload"}
PIPELINE = ("ValidateFunction", "ThumbnailFunction")


# ------------------------------------------------------------------ the photo


def phone_photo(width: int = 4032, height: int = 3024, seed: int = 14) -> bytes:
    """A 12 MP JPEG like a phone's (quality 90, 4:2:0): smooth light with fine grain, so it
    compresses like a photo (a few MB), not like a flat test card."""
    rng = random.Random(seed)
    small = Image.new("RGB", (64, 48))
    small.putdata([(rng.randrange(256), rng.randrange(256), rng.randrange(256)) for _ in range(64 * 48)])
    base = small.resize((width, height), Image.Resampling.BICUBIC)
    grain = Image.effect_noise((width, height), 24).convert("RGB")
    photo = Image.blend(base, grain, 0.18)
    out = io.BytesIO()
    photo.save(out, "JPEG", quality=90, subsampling=2)
    return out.getvalue()


# ------------------------------------------------------------------ what is recorded


class LogBytes:
    """The stack's sink: counts the bytes and lines each function writes (what CloudWatch Logs
    would ingest: Powertools' JSON logs and the EMF metric blobs alike)."""

    def __init__(self, labels: Iterable[str], echo: IO[str] | None = None) -> None:
        self._labels = set(labels)
        self._echo = echo
        self._lock = threading.Lock()
        self.bytes: Counter[str] = Counter()
        self.lines: Counter[str] = Counter()

    def write(self, source: str, line: str) -> None:
        name = source.split("#", 1)[0]
        if self._echo is not None:
            self._echo.write(f"{source:<13}  {line}\n")
        if name in self._labels:
            with self._lock:
                self.bytes[name] += len(line.encode()) + 1
                self.lines[name] += 1

    def snapshot(self) -> tuple[Counter[str], Counter[str]]:
        with self._lock:
            return Counter(self.bytes), Counter(self.lines)


@dataclass
class Lifecycle:
    """One image's way, as the client saw it."""

    size: int
    started: float = 0.0
    ended: float = 0.0
    api: Counter[str] = field(default_factory=Counter)  # route -> requests
    rounds: int = 0
    s3_post: int = 0
    cdn_gets: int = 0
    cdn_bytes: int = 0
    ready_seconds: float = 0.0
    log_bytes: Counter[str] = field(default_factory=Counter)
    log_lines: Counter[str] = field(default_factory=Counter)
    invocations: list[dict[str, Any]] = field(default_factory=list)


def run_lifecycle(stack: DevStack, token: str, photo: Path, logs: LogBytes) -> Lifecycle:
    data = photo.read_bytes()
    life = Lifecycle(size=len(data))
    bytes_before, lines_before = logs.snapshot()
    life.started = time.time()
    with ShoeboxClient(stack.api_url, token) as api, httpx.Client(timeout=60) as http:
        created = api.create_upload(
            photo.name, "image/jpeg", len(data), sha256=hashlib.sha256(data).hexdigest()
        )
        life.api["POST /v1/uploads"] += 1
        image = created["image"]
        send_file(http, created["upload"], photo, "image/jpeg")
        life.s3_post += 1
        uploaded = time.monotonic()
        asked = api.images_by_ids

        def images_by_ids(ids: list[str]) -> list[dict[str, Any]]:
            life.api["GET /v1/images?ids="] += 1
            life.rounds += 1
            found: list[dict[str, Any]] = asked(ids)
            return found

        api.images_by_ids = images_by_ids
        final = following.follow(api, [image], timeout=120, on_status=lambda _: None)[image["id"]]
        life.ready_seconds = time.monotonic() - uploaded
        if final is None or final.get("status") != "READY":
            raise RuntimeError(f"the image did not become READY: {final}")
        api.usage()  # the web page shows usage once an upload is final
        life.api["GET /v1/usage"] += 1
        view = http.get(final["variants"][VIEW_VARIANT]["url"])
        view.raise_for_status()
        life.cdn_gets += 1
        life.cdn_bytes += len(view.content)
    time.sleep(1.5)  # the workers' deletes and the last log lines
    life.ended = time.time()
    bytes_after, lines_after = logs.snapshot()
    life.log_bytes = bytes_after - bytes_before
    life.log_lines = lines_after - lines_before
    return life


def list_page(stack: DevStack, token: str) -> float:
    """Time of one GET /v1/images page (a gallery visit), for the views' share of it."""
    with ShoeboxClient(stack.api_url, token) as api:
        started = time.time()
        api.list_images(limit=IMAGES_PER_PAGE)
    return started


def invocations(folder: Path) -> list[dict[str, Any]]:
    found = []
    for path in sorted(folder.glob("*.jsonl")):
        found += [json.loads(line) for line in path.read_text().splitlines() if line]
    return sorted(found, key=lambda line: float(line["at"]))


# ------------------------------------------------------------------ pricing


@dataclass
class Bill:
    """Counts and dollars of one image (or one view), by service and by step."""

    requests: defaultdict[str, float] = field(default_factory=lambda: defaultdict(float))
    by_service: defaultdict[str, float] = field(default_factory=lambda: defaultdict(float))
    by_step: defaultdict[str, float] = field(default_factory=lambda: defaultdict(float))

    def add(self, step: str, service: str, dollars: float, counted: str | None = None, n: float = 1) -> None:
        self.by_service[service] += dollars
        self.by_step[step] += dollars
        if counted:
            self.requests[counted] += n

    def total(self) -> float:
        return sum(self.by_service.values())


def price_call(bill: Bill, step: str, call: dict[str, Any], weight: float = 1.0) -> None:
    service, operation = call["service"], call["operation"]
    name = f"{service}:{operation}"
    if service == "s3":
        if operation in S3_FREE:
            bill.add(step, "s3_requests", 0.0, name, weight)
        elif operation in S3_PUT_CLASS:
            bill.add(
                step, "s3_requests", weight * PRICES["s3_put_copy_post_list_per_1k"] / 1000, name, weight
            )
        else:
            bill.add(step, "s3_requests", weight * PRICES["s3_get_head_per_1k"] / 1000, name, weight)
    elif service == "dynamodb":
        transaction = operation.startswith("Transact")
        if "write_sizes" in call:
            kind, sizes, per_unit = "write", call["write_sizes"], 1024
            factor = 2.0 if transaction else 1.0
        else:
            kind, sizes, per_unit = "read", call.get("read_sizes", [0]), 4096
            factor = 2.0 if transaction else (1.0 if call.get("consistent") else 0.5)
        units = sum(max(1, math.ceil(size / per_unit)) for size in sizes) * factor
        price = PRICES[f"dynamodb_{kind}_units_per_million"]
        bill.add(step, "dynamodb", weight * units * price / 1e6, name, weight)
        bill.requests[f"dynamodb:{kind}_units"] += weight * units
    elif service == "secretsmanager":
        calls = weight / INVOCATIONS_PER_SECRET_READ
        bill.add(step, "secrets_manager", calls * PRICES["secrets_manager_calls_per_10k"] / 1e4, name, calls)
    elif service == "sqs":
        bill.add(step, "sqs", weight * PRICES["sqs_requests_per_million"] / 1e6, name, weight)
    else:
        bill.add(step, service, 0.0, name, weight)


def lambda_ms(line: dict[str, Any], memory_mb: int) -> float:
    """Billed duration in AWS: CPU time at the vCPU share of `memory_mb`, plus AWS's latency."""
    cpu = float(line["cpu_ms"]) * max(1.0, LAMBDA_MB_PER_VCPU / memory_mb)
    waits = sum(AWS_LATENCY_MS.get(call["service"], 10.0) for call in line["calls"])
    return math.ceil(cpu + waits)


def price_invocation(
    bill: Bill, step: str, line: dict[str, Any], memory_mb: int, weight: float = 1.0
) -> None:
    bill.add(
        step, "lambda_requests", weight * PRICES["lambda_requests_per_million"] / 1e6, "lambda:Invoke", weight
    )
    gb_s = lambda_ms(line, memory_mb) / 1000 * memory_mb / 1024
    bill.add(step, "lambda_duration", weight * gb_s * PRICES["lambda_gb_second_arm64"])
    bill.requests["lambda:gb_seconds"] += weight * gb_s
    bill.add(step, "cloudwatch_logs", weight * log_dollars(PLATFORM_LOG_BYTES, PLATFORM_LOG_LINES))
    for call in line["calls"]:
        price_call(bill, step, call, weight)


def log_dollars(size: float, lines: float) -> float:
    return (size + lines * LOG_EVENT_OVERHEAD_BYTES) / 1e9 * PRICES["cloudwatch_logs_ingestion_per_gb"]


def xray_dollars(traced_requests_per_image: float) -> float:
    """Traces recorded per image at XRAY_ASSUMED_IMAGES_PER_SECOND under the default rule."""
    per_second = XRAY_ASSUMED_IMAGES_PER_SECOND * traced_requests_per_image
    sampled = min(per_second, XRAY_RESERVOIR_PER_SECOND) + XRAY_RATE * max(
        0.0, per_second - XRAY_RESERVOIR_PER_SECOND
    )
    per_image = sampled / XRAY_ASSUMED_IMAGES_PER_SECOND
    return per_image * PRICES["xray_traces_recorded_per_million"] / 1e6


STEPS = {
    "CreateUploadFunction": "create_upload",
    "ValidateFunction": "validate",
    "ThumbnailFunction": "thumbnails",
    "ListImagesFunction": "follow",
    "GetUsageFunction": "usage",
}


def price_image(
    lives: list[Lifecycle], memory: dict[str, int], labels: dict[str, str], rounds: int | None = None
) -> Bill:
    """The average image of `lives`: its invocations, the client's requests, SQS and logs. With
    `rounds`, the follow rounds are priced as that many (AWS's timing) instead of the local ones."""
    bill = Bill()
    share = 1 / len(lives)
    for life in lives:
        scale = 1.0 if rounds is None or not life.rounds else rounds / life.rounds
        for line in life.invocations:
            step = STEPS.get(line["function"], label(line["function"]))
            weight = share * (scale if step == "follow" else 1.0)
            price_invocation(bill, step, line, memory[line["function"]], weight)
        for route, made in life.api.items():
            step = "follow" if "ids=" in route else ("usage" if "usage" in route else "create_upload")
            count = made * (scale if step == "follow" else 1.0)
            bill.add(
                step,
                "api_gateway",
                share * count * PRICES["http_api_per_million"] / 1e6,
                f"apigw:{route}",
                share * count,
            )
        bill.add(
            "upload",
            "s3_requests",
            share * life.s3_post * PRICES["s3_put_copy_post_list_per_1k"] / 1000,
            "s3:PostObject (client)",
            share * life.s3_post,
        )
        # S3 sends one notification per object created (upload, original), each one message the
        # event source mapping receives (a batch of one, one image at a time) and deletes.
        for step in ("validate", "thumbnails"):
            for operation in (
                "SendMessage (S3 notification)",
                "ReceiveMessage (event source mapping)",
                "DeleteMessageBatch (event source mapping)",
            ):
                bill.add(
                    step, "sqs", share * PRICES["sqs_requests_per_million"] / 1e6, f"sqs:{operation}", share
                )
        # The first view: CloudFront asks S3 (a miss), then serves.
        bill.add(
            "view",
            "cloudfront",
            share * life.cdn_gets * PRICES["cloudfront_https_requests_per_10k"] / 1e4,
            "cloudfront:GET",
            share * life.cdn_gets,
        )
        bill.add("view", "cloudfront", share * life.cdn_bytes / 1e9 * PRICES["cloudfront_data_out_per_gb"])
        bill.add(
            "view",
            "s3_requests",
            share * life.cdn_gets * PRICES["s3_get_head_per_1k"] / 1000,
            "s3:GetObject (CDN miss)",
            share * life.cdn_gets,
        )
        for function, size in life.log_bytes.items():
            step = STEPS.get(labels[function], function)
            bill.add(step, "cloudwatch_logs", share * log_dollars(size, life.log_lines[function]))
            bill.requests["cloudwatch_logs:bytes"] += share * (
                size + life.log_lines[function] * LOG_EVENT_OVERHEAD_BYTES
            )
    api_requests = sum(count for name, count in bill.requests.items() if name.startswith("apigw:"))
    traced = api_requests + 2  # each API request and each pipeline batch
    bill.add("tracing", "xray", xray_dollars(traced))
    return bill


def price_view(
    page: list[dict[str, Any]], memory: dict[str, int], view_bytes: float, log_bytes: float, log_lines: float
) -> Bill:
    """A later view: the variant from CloudFront's cache, and a 20th of a gallery page."""
    bill = Bill()
    share = 1 / IMAGES_PER_PAGE
    bill.add("view", "cloudfront", PRICES["cloudfront_https_requests_per_10k"] / 1e4, "cloudfront:GET", 1)
    bill.add("view", "cloudfront", view_bytes / 1e9 * PRICES["cloudfront_data_out_per_gb"])
    bill.add(
        "gallery_page",
        "api_gateway",
        share * PRICES["http_api_per_million"] / 1e6,
        "apigw:GET /v1/images",
        share,
    )
    for line in page:
        price_invocation(bill, "gallery_page", line, memory[line["function"]], share)
    bill.add("gallery_page", "cloudwatch_logs", share * log_dollars(log_bytes, log_lines))
    return bill


def aws_seconds_to_ready(lives: list[Lifecycle], memory: dict[str, int], windows: dict[str, int]) -> float:
    """From the upload's end to READY in AWS: per step, S3's notification, the mapping's batching
    window (at low traffic a batch waits it out) and pick-up, then the step's billed duration."""
    total = 0.0
    for function in PIPELINE:
        lines = [line for life in lives for line in life.invocations if line["function"] == function]
        duration = statistics.mean(lambda_ms(line, memory[function]) for line in lines) / 1000
        total += S3_TO_SQS_SECONDS + windows.get(function, 0) + SQS_TO_LAMBDA_SECONDS + duration
    return total


def follow_rounds(size: int, ready_after: float) -> int:
    """The GET /v1/images?ids= rounds the clients' own schedule (shoebox_cli.follow, which the web
    page's status.js mirrors) makes for an image READY `ready_after` seconds after its upload, on
    a simulated clock."""
    now = [0.0]
    asked = [0]

    class Api:
        def images_by_ids(self, ids: list[str]) -> list[dict[str, Any]]:
            asked[0] += 1
            status = "READY" if now[0] >= ready_after else "PROCESSING"
            return [{"id": image_id, "status": status, "size": size} for image_id in ids]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    image = {"id": "x", "status": "PENDING", "size": size}
    following.follow(Api(), [image], 600, lambda _: None, clock=lambda: now[0], sleep=sleep)
    return asked[0]


def per_million(value: float) -> float:
    return round(value * 1e6, 2)


def rounded(counter: Iterable[tuple[str, float]]) -> dict[str, float]:
    return {name: round(value, 3) for name, value in sorted(counter)}


# ------------------------------------------------------------------ the run


def function_specs() -> tuple[dict[str, str], dict[str, int], dict[str, int]]:
    """Each function's handler, memory size (MB) and its SQS mapping's batching window (s), from
    template.yaml."""
    template = load_template(REPO_ROOT / "template.yaml")
    default_memory = int(template.get("Globals", {}).get("Function", {}).get("MemorySize", 128))
    handlers, memory, windows = {}, {}, {}
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] == "AWS::Serverless::Function":
            properties = resource["Properties"]
            handlers[logical_id] = str(properties["Handler"])
            memory[logical_id] = int(properties.get("MemorySize", default_memory))
            for event in (properties.get("Events") or {}).values():
                if event["Type"] == "SQS":
                    windows[logical_id] = int(event["Properties"].get("MaximumBatchingWindowInSeconds", 0))
    return handlers, memory, windows


def measure(images: int, echo: IO[str] | None = None, dump: Path | None = None) -> dict[str, Any]:
    handlers, memory, windows = function_specs()
    labels = {label(logical_id): logical_id for logical_id in handlers}
    logs = LogBytes(labels, echo)
    with tempfile.TemporaryDirectory(prefix="shoebox-cost-") as folder:
        root = Path(folder)
        records = root / "invocations"
        records.mkdir()
        photos = []
        for number in range(images + 1):  # each its own bytes: the same twice is a duplicate
            photos.append(root / f"photo-{number}.jpg")
            photos[-1].write_bytes(phone_photo(seed=number))
        environments = {
            logical_id: {"COST_REAL_HANDLER": handler, "COST_FUNCTION": logical_id, "COST_DIR": str(records)}
            for logical_id, handler in handlers.items()
        }
        with DevStack(
            api_port=0,
            aws_port=0,
            state_dir=root / "state",
            sink=logs,
            handler_overrides=dict.fromkeys(handlers, PROBE),
            env_overrides=environments,
            max_environments=1,
        ) as stack:
            token = stack.token("cost")
            lives = [run_lifecycle(stack, token, photo, logs) for photo in photos]
            bytes_before, lines_before = logs.snapshot()
            page_at = list_page(stack, token)
            time.sleep(0.5)
            page_bytes, page_lines = logs.snapshot()
            stored = media_bytes(stack) / len(lives)
        seen = invocations(records)
    if dump is not None:
        dump.write_text("".join(json.dumps(line) + "\n" for line in seen))
    for life in lives:
        life.invocations = [line for line in seen if life.started <= float(line["at"]) <= life.ended]
    page = [
        line for line in seen if float(line["at"]) >= page_at and line["function"] == "ListImagesFunction"
    ][:1]
    page_logs = (
        page_bytes["list_images"] - bytes_before["list_images"],
        page_lines["list_images"] - lines_before["list_images"],
    )
    cold, warm = lives[0], lives[1:]
    aws_ready = aws_seconds_to_ready(warm, memory, windows)
    aws_rounds = follow_rounds(warm[0].size, aws_ready)
    image = price_image(warm, memory, labels, aws_rounds)
    cold_bill = price_image([cold], memory, labels)
    view_bytes = statistics.mean(life.cdn_bytes for life in warm)
    view = price_view(page, memory, view_bytes, *page_logs)
    view_total = view.total()
    return {
        "usd_per_million_images": per_million(image.total()),
        "usd_per_million_views": per_million(view_total),
        "breakdown": {
            "image_by_service": {
                name: per_million(value) for name, value in sorted(image.by_service.items())
            },
            "image_by_step": {name: per_million(value) for name, value in sorted(image.by_step.items())},
            "view_by_service": {name: per_million(value) for name, value in sorted(view.by_service.items())},
            "first_image_cold_usd_per_million": per_million(cold_bill.total()),
            "s3_storage_usd_per_million_images_month": per_million(
                stored / 2**30 * PRICES["s3_storage_gb_month"]
            ),
        },
        "prices": PRICES,
        "requests": {
            "per_image": rounded(image.requests.items()),
            "per_view": rounded(view.requests.items()),
            "follow_rounds_priced": aws_rounds,
            "aws_seconds_to_ready_modelled": round(aws_ready, 2),
            "batching_window_seconds": windows,
            "follow_rounds_local": [life.rounds for life in warm],
            "seconds_to_ready_local": [round(life.ready_seconds, 2) for life in warm],
            "invocations": {
                function: {
                    "memory_mb": memory[function],
                    "measured_wall_ms": [
                        round(float(line["ms"]))
                        for life in warm
                        for line in life.invocations
                        if line["function"] == function
                    ],
                    "cpu_ms": [
                        round(float(line["cpu_ms"]))
                        for life in warm
                        for line in life.invocations
                        if line["function"] == function
                    ],
                    "billed_ms": [
                        lambda_ms(line, memory[function])
                        for life in warm
                        for line in life.invocations
                        if line["function"] == function
                    ],
                }
                for function in sorted({line["function"] for life in warm for line in life.invocations})
            },
            "log_bytes_per_image": {
                name: round(size / len(warm))
                for name, size in sum((life.log_bytes for life in warm), Counter()).items()
            },
            "stored_bytes_per_image": round(stored),
            "photo_bytes": warm[0].size,
            "view_bytes": round(view_bytes),
        },
        "assumptions": ASSUMPTIONS,
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
    }


def media_bytes(stack: DevStack) -> int:
    """Every byte in the media bucket: the originals and thumbnails the run stored."""
    s3 = stack.client("s3")
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=stack.names["MediaBucket"])
    return sum(item["Size"] for page in pages for item in page.get("Contents", []))


ASSUMPTIONS = [
    "us-east-1 list prices (PRICES), free tiers left out; S3 storage is stated apart "
    "(breakdown.s3_storage_usd_per_million_images_month), not in the totals",
    "an image: the web page's way with a 12 MP phone JPEG — POST /v1/uploads with its SHA-256, the "
    "presigned POST, GET /v1/images?ids= rounds on the clients' schedule until READY, GET "
    "/v1/usage, then one view of the 512 px variant: a CloudFront miss (one S3 GET) and its bytes "
    "out",
    "follow rounds priced: the clients' own schedule (shoebox_cli.follow) run on a simulated "
    "clock against AWS's modelled time to READY — per step S3's notification "
    f"({S3_TO_SQS_SECONDS} s), the mapping's batching window (waited out at low traffic), its "
    f"pick-up ({SQS_TO_LAMBDA_SECONDS} s) and the step's billed duration; the local stack's own "
    "rounds and times are reported beside them (requests.*_local)",
    "a later view: the variant from CloudFront's cache (one request, its bytes) and a 20th of a "
    "gallery page (GET /v1/images?limit=20); a view the browser answers from its cache costs nothing",
    "Lambda duration: the handler's measured CPU time x 1769 / memory MB (the vCPU share), plus "
    f"AWS's latency per request {AWS_LATENCY_MS} ms; the wall time against the emulator is "
    "reported (requests.invocations), not billed",
    "SQS: per image two messages (the upload's and the original's S3 notification), each "
    "received in a batch of one and deleted by the event source mapping (more images at once "
    "share batches of up to 5: fewer requests); the mapping's empty long polls are a fixed "
    "monthly cost (~1.3 M requests, ~$0.52 per queue pair), not per image",
    "DynamoDB: size-aware units from the items each request read or wrote (1 KB writes, 4 KB "
    "reads, eventually consistent halves, transactions twice)",
    "S3: DELETE requests are free, DeleteObjects among them (S3's request metrics count it as a "
    "DELETE, not a POST)",
    f"Secrets Manager: read at a cold start; amortised over {INVOCATIONS_PER_SECRET_READ} "
    "invocations per read",
    f"CloudWatch Logs: every line the functions print (logs and EMF metrics) plus "
    f"{PLATFORM_LOG_LINES} Lambda platform lines (~{PLATFORM_LOG_BYTES} B) per invocation, "
    f"each event +{LOG_EVENT_OVERHEAD_BYTES} B",
    f"X-Ray: the default sampling rule ({XRAY_RESERVOIR_PER_SECOND} request/s + "
    f"{XRAY_RATE:.0%}) at {XRAY_ASSUMED_IMAGES_PER_SECOND} images/s, each API request and "
    "pipeline batch a trace",
]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=3, help="images measured after the warm-up one")
    parser.add_argument("--verbose", action="store_true", help="the stack's lines on stderr")
    parser.add_argument(
        "--dump", type=Path, help="write every invocation the probe recorded here (JSON lines)"
    )
    args = parser.parse_args(argv)
    json.dump(measure(args.images, sys.stderr if args.verbose else None, args.dump), sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
