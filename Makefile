# xtalsym: two commands do all set-up on a fresh machine: `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
CORES ?= $(shell nproc)
CONFIG ?= config.yaml
PROFILE ?= workflow/profiles/default
# The rules call the `xtalsym` CLI from the environment.
export PATH := $(CURDIR)/$(BIN):$(PATH)
SNAKEMAKE := $(BIN)/snakemake --workflow-profile $(PROFILE) --cores $(CORES)

.PHONY: env run test lint format bench clean dag readme-results help

help:  ## list the targets
	@grep -E '^[a-z]+:.*##' $(MAKEFILE_LIST) | sed 's/:.*##/\t/'

$(BIN)/xtalsym: pyproject.toml requirements.lock
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# CPU build of torch from the pinned wheel; for CUDA see README ("GPU").
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -r requirements.lock
	$(BIN)/pip install --quiet --no-deps -e '.[dev]'
	@touch $@

env: $(BIN)/xtalsym  ## create .venv with the pinned dependencies

run: env  ## run the default pipeline end to end (config.yaml)
	$(SNAKEMAKE) --configfile $(CONFIG)
	@echo "Report: $$(realpath results/report/index.html)"

test: env  ## lint + unit, end-to-end and SLURM tests
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/snakefmt --check Snakefile workflow/rules
	$(BIN)/snakemake --lint --cores 1
	$(BIN)/python -m pytest -q tests

lint: env
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/snakefmt --check Snakefile workflow/rules
	$(BIN)/snakemake --lint --cores 1 --configfile $(CONFIG)

format: env  ## format Python and Snakemake files in place
	$(BIN)/ruff format src tests benchmarks
	$(BIN)/ruff check --fix src tests benchmarks
	$(BIN)/snakefmt Snakefile workflow/rules

bench: env  ## benchmarks -> results/bench/*.json
	$(BIN)/python -m benchmarks.run_all

dag: env  ## the rule graph as results/dag.svg (needs graphviz's dot)
	@command -v dot >/dev/null || { echo "make dag: graphviz's 'dot' is not installed (e.g. apt-get install graphviz)" >&2; exit 1; }
	@mkdir -p results
	$(BIN)/snakemake --rulegraph --configfile $(CONFIG) > results/rulegraph.dot
	dot -Tsvg results/rulegraph.dot > results/.dag.svg.tmp && mv results/.dag.svg.tmp results/dag.svg
	@echo "rule graph: results/dag.svg"

readme-results: env  ## write README.md's results table from the last run (results/report)
	$(BIN)/python scripts/readme_results.py --readme README.md --results results --config $(CONFIG)

clean:  ## remove results/ and Snakemake's state (keeps .venv)
	rm -rf results .snakemake
