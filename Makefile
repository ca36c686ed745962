# The project's verbs. Each target works; none pretends.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STACK ?= dev
NPM := $(shell command -v npm)
CONSOLE := frontend
CONSOLE_DIST := $(CONSOLE)/dist/nfe-console/browser
CONSOLE_SOURCES := $(shell find $(CONSOLE)/src $(CONSOLE)/public -type f) $(wildcard $(CONSOLE)/*.json)

.PHONY: setup test lint typecheck pytest local demo

$(BIN)/nfe: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(BIN)/nfe

setup: $(BIN)/nfe

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: setup
	$(BIN)/mypy .
	$(BIN)/mypy account/__main__.py

# The browser tests (tests/test_console_browser.py) serve the built console through nfe local and
# drive Debian's Chromium (Playwright's own browser download is not used).
pytest: setup console browser
	$(BIN)/pytest -q

# Debian's Chromium for the browser tests: installed when missing and this is root on Debian (as
# .ci/run does); otherwise stop and say how, rather than let the browser tests skip.
.PHONY: browser
browser:
	@if [ ! -x /usr/bin/chromium ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && apt-get install -y -qq chromium; \
	  else \
	    echo "make test needs Debian's Chromium at /usr/bin/chromium: sudo apt-get install -y chromium" >&2; exit 1; \
	  fi; \
	fi

test: lint typecheck workflows pytest policy

# The CI workflows and their local actions against GitHub's schemas (SchemaStore's, shipped inside
# check-jsonschema, so this works offline); tests/test_ci_workflows.py runs their offline steps.
.PHONY: workflows
workflows: setup
	$(BIN)/check-jsonschema --builtin-schema vendor.github-workflows .github/workflows/*.yml
	$(BIN)/check-jsonschema --builtin-schema vendor.github-actions .github/actions/*/action.yml

# Runs the whole saga on this machine: PostgreSQL, AWS emulator, API on :3000. Ctrl-C stops it.
local: setup $(if $(NPM),console)
	$(BIN)/nfe local

# Three sagas end to end through local mode, with a timeline; exits non-zero if any goes wrong.
# Then it keeps serving the web console at the printed URL (demo sign-ins printed too) until Ctrl-C.
demo: setup $(if $(NPM),console)
	$(BIN)/nfe demo --serve

# Monthly cost of a stack from its offline plan, beside the seed's ECS baseline: make cost STACK=prod
.PHONY: cost
cost: setup
	$(BIN)/nfe cost --stack $(STACK)

# Offline plan of a stack (the program under mocks): make plan STACK=prod
.PHONY: plan build
plan: setup
	$(BIN)/nfe plan --stack $(STACK)

# Lambda zips and the arm64 dependency layer under build/, and the web console
build: setup console
	$(BIN)/nfe build

# The web console (frontend/, Angular) with this machine's Node: `npm ci` from the committed lockfile,
# then `ng build` into frontend/dist/nfe-console/browser (what StaticSite uploads and nfe local serves).
.PHONY: console
console: $(CONSOLE_DIST)/index.html

$(CONSOLE)/node_modules/.package-lock.json: $(CONSOLE)/package.json $(CONSOLE)/package-lock.json
	cd $(CONSOLE) && npm ci --no-audit --no-fund --loglevel=error
	touch $@

$(CONSOLE_DIST)/index.html: $(CONSOLE)/node_modules/.package-lock.json $(CONSOLE_SOURCES)
	cd $(CONSOLE) && NG_CLI_ANALYTICS=false npx ng build
	touch $@

# The policy pack, offline, on both stacks, as a deploy and as a first preview (exit 1 on a mandatory
# violation): nfe policy --stack <s> [--preview]
.PHONY: policy
policy: setup
	$(BIN)/nfe policy --stack dev
	$(BIN)/nfe policy --stack prod
	$(BIN)/nfe policy --stack dev --preview
	$(BIN)/nfe policy --stack prod --preview

# Regenerate the committed contracts: docs/openapi.json and events/schemas/*.json (tests fail when stale)
.PHONY: contracts
contracts: setup
	$(BIN)/nfe openapi
	$(BIN)/nfe schemas

# Longer fault run than make test's: 1,000 sagas from 8 clients while PostgreSQL restarts 5 times
.PHONY: soak
soak: setup
	NFE_SOAK_SAGAS=1000 NFE_SOAK_RESTARTS=5 $(BIN)/pytest -q -s tests/test_fault_load.py -k postgres_restart

# Benchmarks through local mode (saga latency, API latency, throughput beside pgbench, cold starts,
# publisher drain), about five minutes: writes bench/results/latest.json and latest.md
.PHONY: bench
bench: setup
	$(BIN)/python -m bench
