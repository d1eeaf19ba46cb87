"""Benchmark: Shoebox's validate + thumbnails against a naive Pillow pipeline, on real photos.

    PYTHONPATH=functions:layers/core:. python -m bench.thumbnails [--corpus DIR] [--repeat N]

Builds the photo corpus (../shared/corpus/build_photos.sh) if DIR has none, then for each
image runs every pipeline N times, interleaved, each run in a fresh child process pinned to
one CPU (a 1769 MB Lambda has one vCPU): wall time of the work alone (imports and a warm-up
excluded, as in a warm Lambda) and peak memory, as the child's peak RSS growth during the work
(Pillow allocates pixels outside Python's allocator, so tracemalloc would miss them). The
warm-up runs the pipeline on a 16x16 image made like the measured one (format, mode, ICC
profile, EXIF), never on the measured image. Also reports, per image, how close Shoebox's
thumbnails are to Lanczos from the fully decoded original (PSNR), so that speed is not bought
with quality. Prints one JSON document.
"""

import argparse
import csv
import importlib.util
import io
import json
import math
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import PIL
from make_thumbnails import imaging
from PIL import Image, ImageChops, ImageCms, ImageOps, ImageStat
from validate_upload import rules

from shoebox.variants import THUMBNAIL_SIZES

ROOT = Path(__file__).resolve().parents[1]
BUILD_CORPUS = ROOT.parent / "shared" / "corpus" / "build_photos.sh"
TARGET_RATIO = 0.5
LIMITS = rules.Limits(max_bytes=25 * 1024 * 1024)
CONTENT_TYPES = {fmt: content_type for content_type, fmt in rules.ACCEPTED_TYPES.items()}

Timings = dict[str, float]


def shoebox(data: bytes) -> Timings:
    started = time.perf_counter()
    clean = rules.validate(data, CONTENT_TYPES[rules.sniff(data)], len(data), LIMITS)
    validated = time.perf_counter()
    imaging.make_thumbnails(clean.data)
    done = time.perf_counter()
    return {"validate_ms": (validated - started) * 1000, "thumbnails_ms": (done - validated) * 1000}


def baseline(data: bytes) -> Timings:
    """What a first attempt looks like: decode it all, thumbnail() a copy per size, default WebP."""
    with Image.open(io.BytesIO(data)) as im:
        im.load()
        for size in THUMBNAIL_SIZES:
            thumbnail = im.copy()
            thumbnail.thumbnail((size, size))
            thumbnail.save(io.BytesIO(), "WEBP")
    return {}


def vips(data: bytes) -> Timings:
    import pyvips  # optional: only when installed (see PIPELINES)

    for size in THUMBNAIL_SIZES:
        pyvips.Image.thumbnail_buffer(data, size, size="down").webpsave_buffer(Q=imaging.WEBP_QUALITY)
    return {}


PIPELINES: dict[str, Callable[[bytes], Timings]] = {"shoebox": shoebox, "baseline": baseline}
if importlib.util.find_spec("pyvips") is not None:
    PIPELINES["pyvips"] = vips


def child(pipeline: str, path: Path, cpu: int) -> None:
    """One measured run, in this fresh process; prints its numbers as JSON."""
    os.sched_setaffinity(0, {cpu})  # every pipeline on the same single CPU: no help from a second one
    run = PIPELINES[pipeline]
    data = path.read_bytes()
    # Codecs, plugins and per-profile caches initialised, as in a warm Lambda that has seen
    # images like this one before.
    run(look_alike(data))
    idle_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started, started_cpu = time.perf_counter(), time.process_time()
    parts = run(data)
    elapsed, cpu_time = time.perf_counter() - started, time.process_time() - started_cpu
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        json.dumps(
            {
                "ms": elapsed * 1000,
                "cpu_ms": cpu_time * 1000,
                "peak_mib": (peak_kib - idle_kib) / 1024,
                **parts,
            }
        )
    )


def look_alike(data: bytes) -> bytes:
    """A 16x16 image with the features of `data` (format, mode, progressive, ICC profile, EXIF
    and transparency) but none of its pixels."""
    with Image.open(io.BytesIO(data)) as im:
        fmt, mode = im.format or "PNG", im.mode
        kept = ("icc_profile", "exif", "progressive", "transparency")
        options = {key: im.info[key] for key in kept if im.info.get(key) is not None}
    out = io.BytesIO()
    try:
        Image.new(mode, (16, 16)).save(out, fmt, **options)
    except (OSError, KeyError, ValueError, TypeError):  # e.g. HEIF, which Pillow cannot write
        out = io.BytesIO()
        Image.new("RGB", (16, 16)).save(out, "PNG")
    return out.getvalue()


def psnr_db(data: bytes) -> float:
    """The lowest PSNR of Shoebox's thumbnails against Lanczos from the fully decoded, upright
    sRGB original. The reference is made here with plain Pillow, not with the pipeline's code."""
    clean = rules.validate(data, CONTENT_TYPES[rules.sniff(data)], len(data), LIMITS)
    with Image.open(io.BytesIO(clean.data)) as im:
        icc = im.info.get("icc_profile")
        full = ImageOps.exif_transpose(im.convert("RGBA" if im.has_transparency_data else "RGB"))
    if icc:
        try:
            srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))
            full = ImageCms.profileToProfile(full, ImageCms.ImageCmsProfile(io.BytesIO(icc)), srgb) or full
        except ImageCms.PyCMSError:
            pass  # as the pipeline does: a broken profile is ignored
    lowest = math.inf
    for thumbnail in imaging.make_thumbnails(clean.data):
        with Image.open(io.BytesIO(thumbnail.data)) as made:
            reference = full.resize(made.size, Image.Resampling.LANCZOS)
            difference = ImageChops.difference(made.convert(reference.mode), reference)
        mse = statistics.fmean(rms**2 for rms in ImageStat.Stat(difference).rms)
        lowest = min(lowest, 10 * math.log10(255**2 / mse) if mse else 99.0)
    return round(lowest, 2)


def measure(pipeline: str, path: Path, cpu: int) -> Timings:
    command = [sys.executable, "-m", "bench.thumbnails", "--child", pipeline, str(path), "--cpu", str(cpu)]
    result = subprocess.run(command, check=True, capture_output=True, text=True, cwd=ROOT)
    measured: Timings = json.loads(result.stdout)
    return measured


def ensure_corpus(corpus: Path) -> list[Path]:
    sources = corpus / "SOURCES.tsv"
    if not sources.exists():
        # The script's own output goes to stderr: stdout is the JSON document only.
        subprocess.run(["bash", str(BUILD_CORPUS), str(corpus)], check=True, stdout=sys.stderr)
    with sources.open() as rows:
        return [corpus / row["file"] for row in csv.DictReader(rows, delimiter="\t")]


def benchmark(files: list[Path], repeat: int, cpu: int) -> dict[str, object]:
    runs: dict[tuple[Path, str], list[Timings]] = {(f, p): [] for f in files for p in PIPELINES}
    for round_ in range(repeat):
        for index, path in enumerate(files):
            # Interleaved, and the order alternates, so drift on a noisy machine hits all alike.
            order = list(PIPELINES) if (round_ + index) % 2 == 0 else list(reversed(PIPELINES))
            for pipeline in order:
                runs[path, pipeline].append(measure(pipeline, path, cpu))
            print(f"round {round_ + 1}/{repeat}: {path.name}", file=sys.stderr)

    images = [_summary(path, {p: runs[path, p] for p in PIPELINES}) for path in files]
    for image, path in zip(images, files, strict=True):
        image["psnr_db"] = psnr_db(path.read_bytes())

    def median_of(key: str) -> float:
        return round(statistics.median(float(str(image[key])) for image in images), 3)

    median_ratio = median_of("ratio")
    return {
        "images": images,
        "median_ratio": median_ratio,
        # Wall time suffers from whatever else the machine runs; CPU time much less so.
        "median_cpu_ratio": median_of("cpu_ratio"),
        "median_thumbnails_only_ratio": median_of("thumbnails_ratio"),
        "median_peak_ratio": median_of("peak_ratio"),
        "min_psnr_db": min(float(str(image["psnr_db"])) for image in images),
        "target": {"median_ratio_at_most": TARGET_RATIO, "met": median_ratio <= TARGET_RATIO},
        "repeat": repeat,
        "pipelines": list(PIPELINES),
        "settings": {"webp_quality": imaging.WEBP_QUALITY, "webp_method": imaging.WEBP_METHOD},
        "machine": {
            "python": platform.python_version(),
            "pillow": PIL.__version__,
            "cpus": os.cpu_count(),
            "pinned_to_cpu": cpu,
        },
    }


def _summary(path: Path, runs: dict[str, list[Timings]]) -> dict[str, object]:
    def median(pipeline: str, key: str) -> float:
        return statistics.median(run[key] for run in runs[pipeline])

    with Image.open(path) as im:
        width, height = im.size
    shoebox_ms, baseline_ms = median("shoebox", "ms"), median("baseline", "ms")
    shoebox_peak, baseline_peak = median("shoebox", "peak_mib"), median("baseline", "peak_mib")
    summary: dict[str, object] = {
        "file": path.name,
        "bytes": path.stat().st_size,
        "width": width,
        "height": height,
        "shoebox_ms": round(shoebox_ms, 1),
        "validate_ms": round(median("shoebox", "validate_ms"), 1),
        "thumbnails_ms": round(median("shoebox", "thumbnails_ms"), 1),
        "baseline_ms": round(baseline_ms, 1),
        "ratio": round(shoebox_ms / baseline_ms, 3),
        "shoebox_cpu_ms": round(median("shoebox", "cpu_ms"), 1),
        "baseline_cpu_ms": round(median("baseline", "cpu_ms"), 1),
        "cpu_ratio": round(median("shoebox", "cpu_ms") / median("baseline", "cpu_ms"), 3),
        "thumbnails_ratio": round(median("shoebox", "thumbnails_ms") / baseline_ms, 3),
        "shoebox_peak_mib": round(shoebox_peak, 1),
        "baseline_peak_mib": round(baseline_peak, 1),
        "peak_ratio": round(shoebox_peak / max(baseline_peak, 0.1), 3),
    }
    if "pyvips" in runs:
        summary["pyvips_ms"] = round(median("pyvips", "ms"), 1)
        summary["pyvips_peak_mib"] = round(median("pyvips", "peak_mib"), 1)
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--corpus", type=Path, default=ROOT / ".cache" / "corpus")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument(
        "--cpu",
        type=int,
        default=max(os.sched_getaffinity(0)),
        help="the one CPU every measured run is pinned to (default: the last this process may use)",
    )
    parser.add_argument("--child", nargs=2, metavar=("PIPELINE", "FILE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], Path(args.child[1]), args.cpu)
        return
    files = ensure_corpus(args.corpus.resolve())
    print(json.dumps(benchmark(files, args.repeat, args.cpu), indent=2))


if __name__ == "__main__":
    main()
