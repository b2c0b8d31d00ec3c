# Entry points; each runs scripts/bootstrap.sh first, which is idempotent and fast when all is in place.
export DAGSTER_HOME ?= $(CURDIR)
export DAGSTER_PG_URL ?= postgresql+psycopg2://127.0.0.1:5432/ats_dagster
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

lint: setup
	$(VENV)/ruff check ats_pipelines tests bench
