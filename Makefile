# Shoebox's verbs. `make help` lists them. Every verb sets up what it needs on a fresh clone.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
MAKEFLAGS += --no-print-directory

UV_VERSION := 0.13.9
VENV := .venv
PYTHON := $(VENV)/bin/python
# uv from PATH, else a pinned copy bootstrapped into .cache/uv.
UV := $(or $(shell command -v uv 2>/dev/null),$(CURDIR)/.cache/uv/bin/uv)
# Python 3.13 from pyenv when present, else any python3.13 on PATH.
PYTHON313 := $(or $(shell pyenv versions --bare 2>/dev/null | grep -E '^3\.13(\.[0-9]+)?$$' | tail -1 | xargs -r -I{} sh -c 'echo $$(pyenv root)/versions/{}/bin/python3.13'),$(shell command -v python3.13 2>/dev/null))
export UV_PYTHON_DOWNLOADS := never
export AWS_DEFAULT_REGION ?= us-east-1
export SAM_CLI_TELEMETRY := 0
PYTEST_ARGS ?=

.PHONY: help
help: ## list the verbs
	@grep -hE '^[a-z][a-z-]*:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

# Set-up talks on stderr, so that a verb's stdout is its own (`make bench` prints JSON only).
$(UV):
	@echo "bootstrapping uv $(UV_VERSION) into .cache/uv" >&2
	@python3 -m venv $(CURDIR)/.cache/uv >&2
	@$(CURDIR)/.cache/uv/bin/python -m pip install --quiet uv==$(UV_VERSION) >&2

$(VENV)/.synced: pyproject.toml uv.lock | $(UV)
	@test -n "$(PYTHON313)" || { echo "Python 3.13 not found (pyenv or python3.13 on PATH)"; exit 1; }
	@$(UV) sync --locked --all-extras --python "$(PYTHON313)" >&2
	@touch $@

.PHONY: setup
setup: $(VENV)/.synced ## create .venv from uv.lock (Python 3.13)

.PHONY: dev
dev: setup ## run the whole app locally: emulator, gateway, workers, web page (Ctrl-C stops)
	@PYTHONPATH=layers/core $(PYTHON) -m infra.local  # stdout is the stack's own: set-up talks on stderr

# The local data (images, pending messages) lives in $(SHOEBOX_STATE_DIR)/state between runs; the
# key pairs and generated secrets beside it stay, so tokens issued before stay valid.
.PHONY: dev-reset
dev-reset: ## delete the local stack's data (images, uploads, messages), then run it empty
	@rm -rf "$(or $(SHOEBOX_STATE_DIR),.shoebox)/state"
	@$(MAKE) dev

.PHONY: test
test: setup browser ## run every test (unit, functional, contract, local stack, browser)
	$(PYTHON) -m pytest $(PYTEST_ARGS)

# The browser tests drive Debian's Chromium: Playwright's own browser download is not possible here.
# Firefox is Debian's firefox-esr, driven over WebDriver BiDi by puppeteer-core (package-lock.json;
# no browser download) from tests/e2e/firefox_smoke.mjs.
.PHONY: browser
browser:
	@command -v chromium >/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -q && apt-get install -y -q chromium; \
	  else echo "install Debian's chromium (sudo apt-get install chromium) for the browser tests"; exit 1; fi; }
	@command -v firefox-esr >/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -q && apt-get install -y -q firefox-esr; \
	  else echo "install Debian's firefox-esr (sudo apt-get install firefox-esr) for the browser tests"; exit 1; fi; }
	@command -v npm >/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -q && apt-get install -y -q nodejs npm; \
	  else echo "install Node.js 18+ and npm (sudo apt-get install nodejs npm) for the Firefox test"; exit 1; fi; }
	@test -d node_modules/puppeteer-core || PUPPETEER_SKIP_DOWNLOAD=1 npm ci --ignore-scripts --no-audit --no-fund >&2

.PHONY: lint
lint: setup ## ruff (lint + format check) and mypy
	$(PYTHON) -m ruff check .
	$(PYTHON) -m ruff format --check .
	$(PYTHON) -m mypy layers/core/shoebox functions infra clients/cli

.PHONY: format
format: setup ## apply ruff's fixes and formatting
	$(PYTHON) -m ruff check --fix .
	$(PYTHON) -m ruff format .

# checkov pins a boto3 that uv.lock cannot share, so it gets its own uv tool environment under
# .cache: installed once, then it runs offline (--skip-download: no calls to Prisma Cloud).
CHECKOV_VERSION := 3.3.30
CHECKOV_HOME := $(CURDIR)/.cache/tools/checkov-$(CHECKOV_VERSION)
CHECKOV := $(CHECKOV_HOME)/bin/checkov

$(CHECKOV): | $(UV)
	@test -n "$(PYTHON313)" || { echo "Python 3.13 not found (pyenv or python3.13 on PATH)"; exit 1; }
	UV_TOOL_DIR="$(CHECKOV_HOME)" UV_TOOL_BIN_DIR="$(CHECKOV_HOME)/bin" \
		$(UV) tool install --quiet --python "$(PYTHON313)" checkov==$(CHECKOV_VERSION)

.PHONY: validate
validate: setup $(CHECKOV) ## sam validate (plain and --lint), cfn-lint and checkov on template.yaml
	$(VENV)/bin/sam validate --template template.yaml
	$(VENV)/bin/sam validate --lint --template template.yaml
	$(VENV)/bin/cfn-lint template.yaml  # cfn-lint has no `python -m` entry point
	$(CHECKOV) --file template.yaml --framework cloudformation --skip-download --quiet --compact

# Every function and layer has BuildMethod: makefile (functions/Makefile, layers/*/Makefile), so
# neither Docker nor a python3.13 on PATH is needed: the venv's 3.13 compiles the bytecode.
.PHONY: build
build: setup ## sam build for Lambda (python3.13, arm64) without Docker; prints sizes, checks artifacts
	BUILD_PYTHON="$(CURDIR)/$(PYTHON)" UV="$(UV)" $(VENV)/bin/sam build --template template.yaml --parallel
	PYTHONPATH=layers/core:. $(PYTHON) -m infra.build_report

ENV ?= dev
.PHONY: deploy
deploy: build ## build, then deploy with samconfig.toml's settings: make deploy ENV=dev|prod
	@grep -q '^\[$(ENV)\.deploy\.parameters\]' samconfig.toml \
		|| { echo "ENV=$(ENV): no [$(ENV).deploy.parameters] in samconfig.toml" >&2; exit 1; }
	$(VENV)/bin/sam deploy --config-env $(ENV)  # the built template: .aws-sam/build/template.yaml

.PHONY: bench
bench: setup ## thumbnail benchmark on real photos; prints JSON
	@PYTHONPATH=functions:layers/core:. $(PYTHON) -m bench.thumbnails

# The stack's own lines stay off stdout (the probe's sink counts them): stdout is the JSON alone.
.PHONY: cost
cost: setup ## cost of one image (upload -> READY -> viewed) from the real handlers' AWS requests; prints JSON
	@PYTHONPATH=layers/core:. $(PYTHON) -m bench.cost

# Builds the functions and layers for this machine into .cache/coldstart, starts a local stack.
.PHONY: bench-costs
bench-costs: setup ## the work limit's CPU estimates against measured costs; prints JSON
	@PYTHONPATH=functions:layers/core:. $(PYTHON) -m bench.costs

.PHONY: bench-coldstart
bench-coldstart: setup ## cold start of every function vs a bare boto3 handler; prints JSON
	@UV="$(UV)" PYTHONPATH=layers/core:. $(PYTHON) -m bench.coldstart $(if $(REPEATS),--repeats $(REPEATS))

.PHONY: openapi
openapi: setup ## write the API's OpenAPI document (all routes) to build/openapi.json
	PYTHONPATH=functions:layers/core:. $(PYTHON) -m infra.openapi -o build/openapi.json
