# What the function and layer Makefiles share. `sam build` (BuildMethod: makefile) runs
# `make build-<LogicalId>` in a scratch copy of the CodeUri/ContentUri folder, with ARTIFACTS_DIR set
# and the environment of the `sam build` call; it reads the Makefile from the repository, which is
# how ROOT (and so uv.lock) is found. No Docker and no local python3.13 on PATH are needed.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c

ROOT := $(abspath $(dir $(lastword $(MAKEFILE_LIST)))..)
# Compiles the bytecode we ship, so it must be CPython 3.13 like the runtime (`make build` passes the
# project's venv interpreter; any CPython 3.13 will do).
BUILD_PYTHON ?= $(ROOT)/.venv/bin/python
UV ?= uv

# Lambda python3.13 on arm64 is Amazon Linux 2023 (glibc 2.34) on aarch64; manylinux_2_28 also admits
# the older manylinux tags. Binary wheels only and exact pins from uv.lock: a package without a
# matching wheel fails the build instead of falling back to another version. `make bench-coldstart`
# builds the same layers for the machine it runs on (LAMBDA_PLATFORM=x86_64-manylinux_2_28).
LAMBDA_PLATFORM ?= aarch64-manylinux_2_28
UV_EXPORT := "$(UV)" export --project "$(ROOT)" --frozen --no-hashes --no-emit-project --no-default-groups \
	--no-annotate --no-header
# pyvips is published as source only: a pure-Python package (its compiled half is pyvips-binary's
# wheel), so building it here makes the same py3-none-any wheel on any machine.
UV_INSTALL := "$(UV)" pip install --quiet --no-deps --only-binary :all: --no-binary pyvips \
	--python-platform $(LAMBDA_PLATFORM) --python-version 3.13 --python "$(BUILD_PYTHON)" --target

# $(call finish,DIR,RUNTIME_DIR): strip what Lambda never imports, then compile DIR to CPython 3.13
# bytecode. unchecked-hash: /var/task and /opt are read-only, and zip keeps mtimes to 2 s only, so
# timestamp-checked .pyc files would be judged stale and every cold start would recompile in memory.
# -s/-p record the paths the code has in Lambda, so tracebacks show /var/task/... and /opt/python/...
define finish
find "$(1)" -depth \( -name __pycache__ -o -name tests -o -name '*.pyc' -o -name '*.pyi' \) -exec rm -rf {} +
"$(BUILD_PYTHON)" -c 'import sys; sys.exit(sys.implementation.name != "cpython" or sys.version_info[:2] != (3, 13))' \
	|| { echo "BUILD_PYTHON=$(BUILD_PYTHON) is not CPython 3.13" >&2; exit 1; }
"$(BUILD_PYTHON)" -m compileall -q -j 0 --invalidation-mode unchecked-hash -s "$(1)" -p "$(2)" "$(1)"
endef
