# Vane — the two commands: `make run` (local stack) and `make test` (everything CI runs).
# Also: `make bench` (release-build benchmarks). System packages are installed with apt-get when
# missing (the build machines run as root); Python tools go into .venv/.

SHELL := /bin/bash
SWIFT ?= swift
PYTHON ?= python3
VENV := .venv
VENV_PY := $(VENV)/bin/python
APT_PACKAGES := librdkafka-dev kcat postgresql zlib1g-dev curl openssl iproute2 stunnel4 socat chromium chromium-driver nodejs
BENCH_APT_PACKAGES := wrk curl
BENCH_OUT := .build/benchmark-results

.PHONY: all deps venv build test bench run clean

all: build

## System packages: each is installed only if dpkg does not have it yet.
deps:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-get install -y --no-install-recommends $$missing || { apt-get update && apt-get install -y --no-install-recommends $$missing; }; \
	fi

## Python virtual environment with the LaunchDarkly SDK and the OpenFeature OFREP provider.
venv: $(VENV)/.installed

$(VENV)/.installed: Tests/Compatibility/requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV_PY) -m pip install --quiet --disable-pip-version-check -r Tests/Compatibility/requirements.txt
	touch $@

build: deps
	$(SWIFT) build

## Builds everything once (debug), the benchmark targets included (compiled, not run, so that a
## change that breaks them fails CI), runs every test suite (the compatibility suites and the
## end-to-end test of the local stack included; time limit, log and failure summary: see
## scripts/run-tests.sh), then validates the deployment files.
test: deps venv
	VANE_BENCHMARKS=1 $(SWIFT) build --build-tests
	VANE_BENCHMARKS=1 SWIFT="$(SWIFT)" scripts/run-tests.sh
	scripts/validate-deploy.sh

## Release-build benchmarks; numbers are printed as tables (and kept in $(BENCH_OUT)); the run ends
## with $(BENCH_OUT)/summary.md: every headline figure beside its same-run baseline and its target.
bench: deps venv
	mkdir -p $(BENCH_OUT)
	$(PYTHON) Benchmarks/figures.py reset
	VANE_BENCHMARKS=1 $(SWIFT) package --allow-writing-to-package-directory benchmark \
	  --target EvaluationBenchmarks --format jmh --path $(BENCH_OUT) --no-progress
	$(VENV_PY) Benchmarks/evaluation_report.py --swift-jmh $(BENCH_OUT)/Current_run.jmh.json
	@$(MAKE) --no-print-directory deps APT_PACKAGES="$(BENCH_APT_PACKAGES)"
	set -o pipefail; Benchmarks/events-ingest-bench.sh | tee $(BENCH_OUT)/events-ingest.md
	set -o pipefail; Benchmarks/management-api-bench.sh | tee $(BENCH_OUT)/management-api.md
	set -o pipefail; Benchmarks/kafka-throughput.sh | tee $(BENCH_OUT)/kafka-throughput.md
	set -o pipefail; Benchmarks/events-processor-bench.sh | tee $(BENCH_OUT)/events-processor.md
	set -o pipefail; MIX=typical SKIP_BUILD=1 Benchmarks/events-processor-bench.sh | tee $(BENCH_OUT)/events-processor-typical.md
	set -o pipefail; Benchmarks/relay-bench.sh | tee $(BENCH_OUT)/relay-streamer.md
	set -o pipefail; Benchmarks/experiments-bench.sh | tee $(BENCH_OUT)/experiments.md
	@echo; $(PYTHON) Benchmarks/figures.py summary

## The whole local stack in the foreground (PostgreSQL, dev-kafka, the four services, a demo
## project); Ctrl-C stops it. Ports, paths and the admin token: see scripts/run-stack.sh.
run: deps venv
	$(SWIFT) build -c release
	VANE_BIN_DIR="$$($(SWIFT) build -c release --show-bin-path)" scripts/run-stack.sh

clean:
	rm -rf .build $(VENV)
