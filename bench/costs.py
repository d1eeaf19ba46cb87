"""Benchmark: the work limit's estimates (validate_upload.rules, `_COSTS`) against what uploads cost.

    PYTHONPATH=functions:layers/core:. python -m bench.costs [--folder DIR] [--repeat N]

Makes bench.hostile.costliest() into DIR once (the HEICs take minutes), then runs both pipeline
steps on each with no work limit, N times in fresh processes pinned to one CPU
(bench.thumbnails.measure). Prints one JSON document: per upload its measured CPU (the worst of
the N runs), the estimate, and whether the default limit lets it through; and
`max_cpu_over_estimate` over them all. The estimates are meant as upper bounds: at most ~1.
"""

import argparse
import json
import os
import sys
from pathlib import Path

from bench import hostile
from bench.thumbnails import LIMITS, ROOT, measure


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--folder", type=Path, default=ROOT / ".cache" / "corpus" / "costliest")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--cpu", type=int, default=max(os.sched_getaffinity(0)))
    args = parser.parse_args()
    args.folder.mkdir(parents=True, exist_ok=True)
    uploads = []
    for name, make in hostile.costliest().items():
        path = args.folder / name
        if not path.exists():
            print(f"making {name}", file=sys.stderr)
            path.write_bytes(make())
        runs = [measure("unbounded", path, args.cpu) for _ in range(args.repeat)]
        if any("rejected" in run for run in runs):
            uploads.append({"file": name, "outcome": "rejected without a work limit"})
            continue
        cpu_ms, estimated_ms = max(run["cpu_ms"] for run in runs), runs[0]["estimated_cpu_ms"]
        uploads.append(
            {
                "file": name,
                "mib": round(path.stat().st_size / 2**20, 1),
                "cpu_ms": round(cpu_ms),
                "estimated_cpu_ms": round(estimated_ms),
                "cpu_over_estimate": round(cpu_ms / estimated_ms, 3),
                "within_default_limit": estimated_ms <= LIMITS.max_cpu_ms,
            }
        )
        print(json.dumps(uploads[-1]), file=sys.stderr)
    measured = [upload for upload in uploads if "cpu_ms" in upload]
    worst = max(measured, key=lambda upload: upload["cpu_over_estimate"])
    accepted = [upload for upload in measured if upload["within_default_limit"]]
    print(
        json.dumps(
            {
                "uploads": uploads,
                "max_cpu_over_estimate": worst["cpu_over_estimate"],
                "max_cpu_over_estimate_file": worst["file"],
                "worst_accepted_cpu_s": round(max(upload["cpu_ms"] for upload in accepted) / 1000, 2),
                "max_cpu_ms": LIMITS.max_cpu_ms,
                "repeat": args.repeat,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
