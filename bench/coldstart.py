"""Benchmark: each function's cold start against a bare boto3 handler, in a Lambda-like layout.

    PYTHONPATH=layers/core:. python -m bench.coldstart [--repeats N] [--only NAME,...] [--cpu N]

For every function of template.yaml it measures, in a fresh process pinned to one CPU (a 512 MB
Lambda has a fraction of one vCPU), the **init** (the import of the handler module, as Lambda's
runtime does before the first event) and **init + first invocation** (the handler called once
with a real event from events/, against the local stack's emulator), each as a ratio to a bare
handler measured just before it on the same CPU: a module that imports boto3 and creates an S3
and a DynamoDB client, whose handler does nothing. Each function runs `--repeats` times,
interleaved with the bare handler; the median and the worst of the ratios are reported, with the
milliseconds beside them. A first round is run and discarded (the page cache warms up).

The code imported is what a deployment ships: each function and layer built by its own Makefile
(`sam build`'s recipe) into .cache/coldstart, for this machine's CPU instead of arm64 (so the
compiled wheels load here), then only the function's folder and its layers' python/ folders on
sys.path (no site-packages, as in Lambda: /var/task and /opt/python), with the bytecode the build
compiled and none written. The environment is the one the local stack gives the function (its
template variables, the emulator's endpoint), from a local stack started for the run
(infra.local.DevStack, its functions not started).

The ratios are of CPU time (the process's own, so neither the emulator's time nor whatever else
runs on the CPU counts); wall-clock milliseconds are reported beside them. Prints one JSON
document; what it is doing goes to stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from infra.local.processes import FileSink
from infra.local.stack import DevStack
from infra.local.topology import FunctionSpec

ROOT = Path(__file__).resolve().parents[1]
EVENTS = ROOT / "events"
LAYOUT = ROOT / ".cache" / "coldstart"
# The wheels of the machine running the bench (the deployment's are arm64: they would not load).
PLATFORM = f"{platform.machine()}-manylinux_2_28"
# API functions: apigw_<folder>.json; the pipeline steps: their SQS event; health has no file of
# its own (its route takes no input), so it gets usage's event with its own route.
PIPELINE_EVENTS = {
    "ValidateFunction": "sqs_s3_object_created",
    "ThumbnailFunction": "sqs_s3_originals_created",
}
TARGET_API_RATIO = 1.5  # issue 14: API functions at most this much slower to start than bare

BARE_HANDLER = '''\
"""The baseline: the least a Python function talking to S3 and DynamoDB does at init."""
import boto3

s3 = boto3.client("s3")
dynamodb = boto3.client("dynamodb")


def handler(event, context):
    return {}
'''

# Runs in the measured process: it pins itself, then imports the handler module and calls the
# handler once, timing both. Before the clock starts it imports only what Lambda's runtime
# (awslambdaric) has imported by then too (json, os, sys, time).
CHILD = """
import json, os, sys, time
cpu, handler_name, event_path = int(sys.argv[1]), sys.argv[2], sys.argv[3]
os.sched_setaffinity(0, {cpu})
with open(event_path) as file:
    event = json.load(file)

class Context:
    function_name = os.environ["AWS_LAMBDA_FUNCTION_NAME"]
    function_version = "$LATEST"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:" + function_name
    aws_request_id = "c6af9ac6-7b61-11e6-9a41-93e812345678"
    log_group_name = "/aws/lambda/" + function_name
    log_stream_name = "2026/12/02/[$LATEST]bench"
    def get_remaining_time_in_millis(self):
        return 10_000

module_name, _, attribute = handler_name.rpartition(".")
wall, cpu_time = time.perf_counter(), time.process_time()
handler = getattr(__import__(module_name, fromlist=[attribute]), attribute)
init = (time.perf_counter() - wall, time.process_time() - cpu_time)
result = handler(event, Context())
first = (time.perf_counter() - wall, time.process_time() - cpu_time)
outcome = result.get("statusCode") if isinstance(result, dict) else None
if isinstance(result, dict) and "batchItemFailures" in result:
    outcome = f"{len(result['batchItemFailures'])} failed"
print(json.dumps({"init_ms": init[1] * 1000, "first_ms": first[1] * 1000,
                  "init_wall_ms": init[0] * 1000, "first_wall_ms": first[0] * 1000,
                  "outcome": outcome}))
"""


def _make(target: str, folder: Path, artifacts: Path) -> None:
    """One artifact built by its own Makefile, as `sam build` runs it (BuildMethod: makefile)."""
    shutil.rmtree(artifacts, ignore_errors=True)  # nothing left from an earlier build
    subprocess.run(
        [
            "make",
            "-s",
            "-C",
            str(folder),
            target,
            f"ARTIFACTS_DIR={artifacts}",
            f"LAMBDA_PLATFORM={PLATFORM}",
        ],
        check=True,
        stdout=sys.stderr,
        env={**os.environ, "BUILD_PYTHON": sys.executable},
    )


def build_layout(stack: DevStack, functions: Iterable[str]) -> dict[str, list[Path]]:
    """Builds the functions and their layers into LAYOUT; each function's sys.path, Lambda's order:
    its own folder (/var/task), then the layers (/opt/python)."""
    template = stack.template
    built: set[str] = set()
    paths: dict[str, list[Path]] = {}
    for logical_id in functions:
        properties = stack.topology.function_properties(logical_id)
        code = LAYOUT / logical_id
        print(f"building {logical_id}", file=sys.stderr)
        _make(f"build-{logical_id}", ROOT / str(properties["CodeUri"]), code)
        layers = [layer["Ref"] for layer in properties.get("Layers") or []]
        for layer in layers:
            if layer not in built:
                print(f"building {layer} for {PLATFORM}", file=sys.stderr)
                content = (template.resource(layer).get("Properties") or {})["ContentUri"]
                _make(f"build-{layer}", ROOT / str(content), LAYOUT / layer)
                built.add(layer)
        paths[logical_id] = [code, *(LAYOUT / layer / "python" for layer in layers)]
    return paths


def event_for(spec: FunctionSpec, stack: DevStack, folder: Path) -> Path:
    """The function's real event, in a file; S3 events name the local stack's buckets."""
    module = spec.handler.split(".", 1)[0]
    name = PIPELINE_EVENTS.get(spec.logical_id, f"apigw_{module}")
    path = EVENTS / f"{name}.json"
    if spec.logical_id == "HealthFunction":
        event = json.loads((EVENTS / "apigw_get_usage.json").read_text())
        event["rawPath"] = event["requestContext"]["http"]["path"] = "/v1/health"
        event["routeKey"] = event["requestContext"]["routeKey"] = "GET /v1/health"
        text = json.dumps(event)
    else:
        text = path.read_text()
    for bucket in ("UploadsBucket", "MediaBucket"):
        # The events' bucket names are a deployed stack's ("shoebox-dev-uploads-123456789012").
        text = text.replace(f"shoebox-dev-{bucket[:-6].lower()}-123456789012", stack.names[bucket])
    written = folder / f"{spec.logical_id}.json"
    written.write_text(text)
    return written


def run_child(
    handler: str, paths: list[Path], environment: Mapping[str, str], event: Path, cpu: int
) -> dict[str, Any]:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": "en_US.UTF-8",
        "TZ": ":UTC",
        "PYTHONPATH": os.pathsep.join(str(path) for path in paths),
        "PYTHONDONTWRITEBYTECODE": "1",  # /var/task and /opt are read-only: the build's bytecode only
        "LAMBDA_TASK_ROOT": str(paths[0]),
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
        **environment,
    }
    # -S: no site-packages (Lambda has none but the layers); -c: the function folder is the cwd.
    done = subprocess.run(
        [sys.executable, "-S", "-c", CHILD, str(cpu), handler, str(event)],
        env=env,
        cwd=paths[0],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{handler} failed:\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _summary(values: list[float], bare: list[float]) -> dict[str, float]:
    ratios = [value / base for value, base in zip(values, bare, strict=True)]
    return {
        "ratio_median": round(statistics.median(ratios), 2),
        "ratio_worst": round(max(ratios), 2),
        "ms_median": round(statistics.median(values), 1),
        "ms_worst": round(max(values), 1),
    }


def benchmark(repeats: int, cpu: int, only: set[str] | None) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="coldstart-") as scratch:
        folder = Path(scratch)
        sink = FileSink(folder / "stack.log")
        # The first invocations of create_upload make upload slots: room for every round.
        parameters = {"MaxPendingPerOwner": "1000"}
        stack = DevStack(
            api_port=0, aws_port=0, state_dir=folder / "state", parameters=parameters, eager=False, sink=sink
        )
        print("starting the local stack (emulator and resources)", file=sys.stderr)
        with stack:
            functions = [name for name in stack.topology.functions if only is None or name in only]
            paths = build_layout(stack, functions)
            bare_dir = LAYOUT / "BareFunction"
            bare_dir.mkdir(parents=True, exist_ok=True)
            (bare_dir / "bare.py").write_text(BARE_HANDLER)
            core = next(path for path in paths[functions[0]] if path.parent.name == "CoreLayer")
            bare_paths = [bare_dir, core]  # boto3 from the core layer: the functions' own copy
            events = {name: event_for(stack.topology.functions[name], stack, folder) for name in functions}
            bare_event = folder / "bare.json"
            bare_event.write_text("{}")
            bare_env = {**stack.function_environment("HealthFunction"), "AWS_LAMBDA_FUNCTION_NAME": "bare"}

            runs: dict[str, list[tuple[dict[str, Any], dict[str, Any]]]] = {name: [] for name in functions}
            for round_ in range(repeats + 1):  # round 0 warms the page cache and is discarded
                for name in functions:
                    print(f"round {round_}/{repeats}: {name}", file=sys.stderr)
                    spec = stack.topology.functions[name]
                    environment = {**stack.function_environment(name), "AWS_LAMBDA_FUNCTION_NAME": spec.name}
                    bare = run_child("bare.handler", bare_paths, bare_env, bare_event, cpu)
                    measured = run_child(spec.handler, paths[name], environment, events[name], cpu)
                    if round_:
                        runs[name].append((measured, bare))

    report: dict[str, Any] = {}
    all_bare = [bare for pairs in runs.values() for _, bare in pairs]
    for name, pairs in runs.items():
        measured_runs = [measured for measured, _ in pairs]
        bare_runs = [bare for _, bare in pairs]
        report[name] = {
            "init": _summary([m["init_ms"] for m in measured_runs], [b["init_ms"] for b in bare_runs]),
            "init_first": _summary(
                [m["first_ms"] for m in measured_runs], [b["first_ms"] for b in bare_runs]
            ),
            "wall_ms_median": {
                "init": round(statistics.median(m["init_wall_ms"] for m in measured_runs), 1),
                "init_first": round(statistics.median(m["first_wall_ms"] for m in measured_runs), 1),
            },
            "first_outcome": measured_runs[-1]["outcome"],
        }
    api = {name: item for name, item in report.items() if name not in PIPELINE_EVENTS}
    return {
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "python": platform.python_version(),
        "machine": platform.machine(),
        "layout": f"functions and layers built by their Makefiles for {PLATFORM}",
        "clock": "process CPU time, pinned to one CPU",
        "repeats": repeats,
        "cpu": cpu,
        "bare_ms_median": {
            "init": round(statistics.median(b["init_ms"] for b in all_bare), 1),
            "init_first": round(statistics.median(b["first_ms"] for b in all_bare), 1),
        },
        "api_ratio_median": {
            "init_max": max((item["init"]["ratio_median"] for item in api.values()), default=None),
            "init_first_max": max(
                (item["init_first"]["ratio_median"] for item in api.values()), default=None
            ),
            "target": TARGET_API_RATIO,
        },
        "functions": report,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--only", help="comma-separated LogicalIds (default: every function)")
    parser.add_argument(
        "--cpu",
        type=int,
        default=max(os.sched_getaffinity(0)),
        help="the one CPU every measured run is pinned to (default: the last this process may use)",
    )
    args = parser.parse_args()
    only = set(args.only.split(",")) if args.only else None
    print(json.dumps(benchmark(args.repeats, args.cpu, only), indent=2))


if __name__ == "__main__":
    main()
