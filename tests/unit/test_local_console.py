"""What `make dev` prints for a function's log line: one readable line, not Powertools' JSON."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

from infra.local.processes import ConsoleSink, readable
from infra.local.stack import LOCAL_FUNCTION_ENVIRONMENT

# A line as the create_upload function writes it (Powertools' JSON, as in AWS).
LOGGED = {
    "level": "INFO",
    "location": "create_upload:115",
    "message": "upload slot issued",
    "timestamp": "2026-12-01 22:28:06,668+0000",
    "service": "shoebox",
    "cold_start": True,
    "function_name": "shoebox-local-CreateUploadFunction",
    "function_memory_size": "512",
    "function_arn": "arn:aws:lambda:us-east-1:123456789012:function:shoebox-local-CreateUploadFunction",
    "function_request_id": "e176ffcf-df6c-4e77-b976-1d14f1f83b53",
    "request_id": "Tpw0R/t2SXqrUA==",
    "image_id": "bNOvc_Ww8lr9m5DyM13eig",
    "size": 1000,
    "xray_trace_id": "1-6b0f49f6-0b71cce8e7ee43f09595bd39",
}


def test_a_powertools_line_becomes_level_message_and_its_own_keys() -> None:
    assert (
        readable(json.dumps(LOGGED)) == "INFO  upload slot issued  image_id=bNOvc_Ww8lr9m5DyM13eig size=1000"
    )
    assert readable(json.dumps({"level": "WARNING", "message": "slow"})) == "WARNING slow"


def test_an_exception_keeps_its_traceback_on_the_lines_after() -> None:
    failed = {**LOGGED, "level": "ERROR", "message": "boom", "exception": "Traceback ...\nValueError: x"}
    lines = readable(json.dumps(failed)).splitlines()
    assert lines[0].startswith("ERROR boom  image_id=")
    assert lines[1:] == ["Traceback ...", "ValueError: x"]


def test_metrics_are_left_to_cloudwatch() -> None:
    emf = {"_aws": {"Timestamp": 1, "CloudWatchMetrics": []}, "service": "shoebox", "ImagesRejected": [1.0]}
    assert readable(json.dumps(emf)) is None
    stream = io.StringIO()
    ConsoleSink(stream).write("validate", json.dumps(emf))
    assert stream.getvalue() == ""


def test_other_lines_are_shown_as_they_are() -> None:
    for line in ("[ERROR] Runtime.ImportModuleError: no module", "{not json", '{"a": 1}', "[1, 2]"):
        assert readable(line) == line


def test_the_console_prefixes_each_line_with_its_source() -> None:
    stream = io.StringIO()
    ConsoleSink(stream).write("create_upload", json.dumps(LOGGED))
    ConsoleSink(stream).write("gateway", "GET /v1/health 200 3ms (health)")
    assert stream.getvalue().splitlines() == [
        "create_upload  INFO  upload slot issued  image_id=bNOvc_Ww8lr9m5DyM13eig size=1000",
        "gateway        GET /v1/health 200 3ms (health)",
    ]


def test_the_functions_environment_keeps_powertools_quiet_about_invocations_without_metrics() -> None:
    # A handler that publishes no metric, as the health check's; run as the stack runs functions.
    script = "from shoebox.observability import metrics; metrics.log_metrics(lambda e, c: None)({}, None)"
    plain = {name: value for name, value in os.environ.items() if name != "PYTHONWARNINGS"}
    plain["PYTHONPATH"] = str(Path(__file__).resolve().parents[2] / "layers" / "core")

    def stderr(environment: dict[str, str]) -> str:
        done = subprocess.run([sys.executable, "-c", script], env=environment, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        return done.stderr

    assert "No application metrics to publish" in stderr(plain)  # what AWS's logs show
    assert stderr({**plain, **LOCAL_FUNCTION_ENVIRONMENT}) == ""
