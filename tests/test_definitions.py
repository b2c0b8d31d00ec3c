"""The Dagster code location loads, and its assets run against the real database and Redis."""

from __future__ import annotations

import subprocess
import sys

import dagster as dg

from ats_pipelines.defs.monitoring.assets import system_metrics
from ats_pipelines.resources import RedisResource, redis_keys
from tests.conftest import TEST_REDIS_URL


def test_definitions_validate_from_the_command_line():
    result = subprocess.run(
        [sys.executable, "-m", "dagster", "definitions", "validate", "-m", "ats_pipelines.definitions"],
        capture_output=True, text=True, timeout=180,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Validation successful" in result.stderr + result.stdout


def test_every_asset_has_a_group_description_kinds_and_an_owner():
    from ats_pipelines.definitions import defs

    specs = list(defs.resolve_all_asset_specs())
    assert specs
    for spec in specs:
        assert spec.group_name and spec.group_name != "default", spec.key
        assert spec.description, spec.key
        assert spec.kinds, spec.key
        assert spec.owners and all(o.startswith("team:") for o in spec.owners), spec.key
    groups = {spec.group_name for spec in specs}
    assert groups == {"market_data", "reference", "options_flow", "features", "models", "trading", "monitoring",
                      "cache"}
    by_group = {g: {o for s in specs if s.group_name == g for o in s.owners} for g in groups}
    assert by_group["trading"] == {"team:trading"} and by_group["market_data"] == {"team:data-platform"}


def test_the_code_location_loads_with_every_market_data_asset_and_schedule():
    from ats_pipelines.definitions import defs

    keys = {k.to_user_string() for k in defs.resolve_asset_graph().get_all_asset_keys()}
    assert {"stock_aggs", "crypto_aggs", "options_aggs", "trades", "quotes"} <= keys
    names = {s.name for s in defs.schedules}
    assert {"after_close_schedule", "crypto_daily_schedule", "weekly_refetch_schedule"} <= names
    stock = defs.resolve_assets_def("stock_aggs")
    assert stock.backfill_policy == dg.BackfillPolicy.single_run()
    assert stock.partitions_def.get_partition_keys()[0] == "2020-01-01"


def test_system_metrics_asset_writes_metrics_and_component_status(db, cache, sql_conn):
    result = dg.materialize(
        [system_metrics],
        resources={"timescale": db, "redis": RedisResource(redis_url=TEST_REDIS_URL)},
        instance=dg.DagsterInstance.ephemeral(),
    )
    assert result.success
    rows = dict(sql_conn.execute(
        "SELECT metric_name, metric_value FROM system_metrics WHERE component = 'timescaledb'"
    ).fetchall())
    assert rows["database_bytes"] > 0
    assert "rows_estimate:stock_aggs" in rows
    status = cache.get_hash(redis_keys.component_status("timescaledb"))
    assert status["status"] == "ok" and status["mode"] == "plain"
    metadata = result.asset_materializations_for_node("system_metrics")[0].metadata
    assert metadata["database_mode"].value == "plain"
    assert metadata["rows_inserted"].value == len(rows) + 3
