# Entry points; each runs scripts/bootstrap.sh first, which is idempotent and fast when all is in place.
# The commands work without make as well: `ats` and dagster.yaml carry the same local defaults.
export DAGSTER_HOME ?= $(CURDIR)
VENV := .venv/bin

.PHONY: setup demo test bench lint

setup:
	bash scripts/bootstrap.sh

demo: setup
	$(VENV)/ats demo

test: setup
	$(VENV)/pytest
	$(VENV)/pytest -m timescale

bench: setup
	$(VENV)/python -m bench.ingest_bench
	$(VENV)/python -m bench.backfill_bench
	$(VENV)/python -m bench.features_bench
	$(VENV)/python -m bench.train_bench
	$(VENV)/python -m bench.cache_bench
	$(VENV)/python -m bench.stream_bench
	$(VENV)/python -m bench.live_bench
	$(VENV)/python -m bench.placement_bench
	$(VENV)/python -m bench.scale_bench

lint: setup
	$(VENV)/ruff check ats_pipelines tests bench
