"""dagster.yaml: Dagster's own storage goes to PostgreSQL through dagster-postgres."""

from __future__ import annotations

import os

import dagster as dg
import psycopg
import pytest
from dagster_postgres import PostgresEventLogStorage, PostgresRunStorage

from ats_pipelines.defs.monitoring.assets import system_metrics
from ats_pipelines.resources import RedisResource
from ats_pipelines.settings import with_database
from tests.conftest import REPO_ROOT, TEST_DATABASE_URL, TEST_REDIS_URL, recreate_database

DAGSTER_DB_URL = with_database(TEST_DATABASE_URL, "ats_test_dagster")


@pytest.fixture
def postgres_instance(monkeypatch, tmp_path):
    recreate_database(DAGSTER_DB_URL)
    monkeypatch.setenv("DAGSTER_PG_URL", DAGSTER_DB_URL.replace("postgresql://", "postgresql+psycopg2://"))
    (tmp_path / "dagster.yaml").write_text((REPO_ROOT / "dagster.yaml").read_text())
    instance = dg.DagsterInstance.from_config(str(tmp_path))
    yield instance
    instance.dispose()


def test_runs_and_events_are_stored_in_postgres(postgres_instance, db):
    assert isinstance(postgres_instance.run_storage, PostgresRunStorage)
    assert isinstance(postgres_instance.event_log_storage, PostgresEventLogStorage)
    assert postgres_instance.run_storage.postgres_url == os.environ["DAGSTER_PG_URL"]  # the variable wins
    result = dg.materialize(
        [system_metrics],
        resources={"timescale": db, "redis": RedisResource(redis_url=TEST_REDIS_URL)},
        instance=postgres_instance,
    )
    assert result.success
    with psycopg.connect(DAGSTER_DB_URL) as conn:
        assert conn.execute("SELECT count(*) FROM runs").fetchone()[0] == 1
        assert conn.execute(
            "SELECT count(*) FROM event_logs WHERE dagster_event_type = 'ASSET_MATERIALIZATION'"
        ).fetchone()[0] == 1
