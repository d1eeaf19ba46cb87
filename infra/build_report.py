"""Sizes and sanity checks of what `sam build` wrote: run by `make build`, exits 1 on a broken artifact.

For each function: its own code, its layers, and the unzipped total that Lambda limits to 250 MB.
Checks that would otherwise only show in AWS: every handler module is in its artifact, only the
image functions carry Pillow, every shared object is aarch64, and the bytecode is CPython 3.13's.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from infra.local.template import load_template

UNZIPPED_LIMIT = 250 * 1024 * 1024  # function code + all its layers, unzipped
IMAGING_MODULES = ("PIL", "pi_heif")
IMAGE_FUNCTIONS = {"ValidateFunction", "ThumbnailFunction"}
ELF_MAGIC = b"\x7fELF"
EM_AARCH64 = 183
BYTECODE_TAG = "cpython-313"
UNCHECKED_HASH = 0b01


@dataclass
class Artifact:
    name: str
    path: Path
    files: int = 0
    unzipped: int = 0
    zipped: int = 0
    problems: list[str] = field(default_factory=list)


def measure(name: str, path: Path) -> Artifact:
    """Sizes as Lambda sees them (unzipped) and as sam uploads them (deflated zip)."""
    artifact = Artifact(name, path)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for file in sorted(p for p in path.rglob("*") if p.is_file()):
            artifact.files += 1
            artifact.unzipped += file.stat().st_size
            archive.write(file, file.relative_to(path))
            artifact.problems += check_file(file)
    artifact.zipped = len(buffer.getvalue())
    return artifact


def check_file(file: Path) -> list[str]:
    if file.suffix == ".pyc":
        if BYTECODE_TAG not in file.name:
            return [f"{file}: bytecode for another interpreter"]
        # PEP 552 flags: 0b01 = hash-based, source not checked (see infra/lambda.mk).
        if int.from_bytes(file.read_bytes()[4:8], "little") != UNCHECKED_HASH:
            return [f"{file}: bytecode is not unchecked-hash"]
    compiled = file.parent / "__pycache__" / f"{file.stem}.{BYTECODE_TAG}.pyc"
    if file.suffix == ".py" and not compiled.exists():
        return [f"{file}: not compiled"]
    if "tests" in file.parts:
        return [f"{file}: tests shipped"]
    if ".so" in file.suffixes:
        header = file.read_bytes()[:20]
        if header[:4] == ELF_MAGIC and int.from_bytes(header[18:20], "little") != EM_AARCH64:
            return [f"{file}: shared object not for aarch64"]
    return []


def carries_imaging(artifact: Artifact) -> bool:
    roots = (artifact.path, artifact.path / "python")
    return any((root / module).exists() for root in roots for module in IMAGING_MODULES)


def report(build_dir: Path) -> dict[str, Any]:
    template = load_template(build_dir / "template.yaml")
    resources: dict[str, Any] = template["Resources"]
    global_layers = template.get("Globals", {}).get("Function", {}).get("Layers", [])

    layers = {
        name: measure(name, build_dir / spec["Properties"]["ContentUri"])
        for name, spec in resources.items()
        if spec["Type"] == "AWS::Serverless::LayerVersion"
    }
    functions: dict[str, Any] = {}
    problems = [problem for layer in layers.values() for problem in layer.problems]
    for name, spec in resources.items():
        if spec["Type"] != "AWS::Serverless::Function":
            continue
        properties = spec["Properties"]
        code = measure(name, build_dir / properties["CodeUri"])
        # SAM appends a function's own Layers to the global ones.
        used = [layers[ref["Ref"]] for ref in [*global_layers, *properties.get("Layers", [])]]
        total = code.unzipped + sum(layer.unzipped for layer in used)
        problems += code.problems
        module = properties["Handler"].rsplit(".", 1)[0].replace(".", "/")
        if not (code.path / f"{module}.py").is_file():
            problems.append(f"{name}: handler module {module}.py missing from its artifact")
        if total > UNZIPPED_LIMIT:
            problems.append(f"{name}: {total} bytes unzipped with its layers, over Lambda's {UNZIPPED_LIMIT}")
        imaging = any(carries_imaging(artifact) for artifact in (code, *used))
        if imaging != (name in IMAGE_FUNCTIONS):
            problems.append(f"{name}: carries imaging libraries = {imaging}, expected {not imaging}")
        functions[name] = {
            "unzipped": code.unzipped,
            "zipped": code.zipped,
            "files": code.files,
            "layers": [layer.name for layer in used],
            "with_layers_unzipped": total,
            "imaging": imaging,
        }
    return {
        "layers": {
            layer.name: {"unzipped": layer.unzipped, "zipped": layer.zipped, "files": layer.files}
            for layer in layers.values()
        },
        "functions": functions,
        "limit_unzipped": UNZIPPED_LIMIT,
        "problems": problems,
    }


def human(size: int) -> str:
    if size < 1024:
        return f"{size} B"
    if size < 1024 * 1024:
        return f"{size / 1024:.0f} KiB"
    return f"{size / (1024 * 1024):.1f} MiB"


ROW = "{:<22}{:>11}{:>11}{:>7}   {}"


def print_table(result: dict[str, Any]) -> None:
    print(ROW.format("artifact", "unzipped", "zipped", "files", "with its layers, unzipped (limit 250 MiB)"))
    for name, sizes in {**result["layers"], **result["functions"]}.items():
        layers = sizes.get("layers")
        total = f"{human(sizes['with_layers_unzipped'])} = code + {' + '.join(layers)}" if layers else ""
        print(
            ROW.format(name, human(sizes["unzipped"]), human(sizes["zipped"]), sizes["files"], total).rstrip()
        )
    for problem in result["problems"]:
        print(f"PROBLEM {problem}", file=sys.stderr)


def main() -> int:
    parser = argparse.ArgumentParser(description="Sizes and sanity checks of the sam build output.")
    parser.add_argument("build_dir", nargs="?", type=Path, default=Path(".aws-sam/build"))
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args()
    result = report(args.build_dir)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print_table(result)
    return 1 if result["problems"] else 0


if __name__ == "__main__":
    sys.exit(main())
