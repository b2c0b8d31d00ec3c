"""Backfills cut into runs: the ATS_BACKFILL_RUN_PARTITIONS setting, and a multi-run backfill (the runs Dagster's
backfill daemon builds from the policy) landing exactly the rows of the single-run one."""

from __future__ import annotations

import dagster as dg
import pytest
from dagster._core.definitions.automation_tick_evaluation_context import build_run_requests_with_backfill_policies
from dagster._core.definitions.events import AssetKeyPartitionKey
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

from ats_pipelines.defs.features.assets import features
from ats_pipelines.defs.market_data.assets import stock_aggs
from ats_pipelines.defs.market_data.partitions import RUN_PARTITIONS_ENV, backfill_policy, daily_partitions
from tests.conftest import market_resources

FIRST, LAST = "2024-03-04", "2024-03-09"  # six partitions: Monday to Saturday
SNAPSHOTS = {
    "stock_aggs": "SELECT symbol, timestamp, timeframe, adjusted, open, high, low, close, volume, vwap, transactions"
                  " FROM stock_aggs ORDER BY symbol, timeframe, adjusted, timestamp",
    "features": "SELECT symbol, timestamp, timeframe, feature_name, feature_value, feature_group FROM features"
                " ORDER BY symbol, timeframe, feature_name, timestamp",
}


def test_the_setting_chooses_single_or_multi_run(monkeypatch):
    monkeypatch.delenv(RUN_PARTITIONS_ENV, raising=False)
    assert backfill_policy() == dg.BackfillPolicy.single_run()
    monkeypatch.setenv(RUN_PARTITIONS_ENV, "0")
    assert backfill_policy() == dg.BackfillPolicy.single_run()
    monkeypatch.setenv(RUN_PARTITIONS_ENV, "5")
    assert backfill_policy() == dg.BackfillPolicy.multi_run(5)
    for bad in ("two", "-1"):
        monkeypatch.setenv(RUN_PARTITIONS_ENV, bad)
        with pytest.raises(ValueError, match=RUN_PARTITIONS_ENV):
            backfill_policy()


def backfill(resources: dict, run_partitions: int) -> list[tuple[str, str]]:
    """Backfill stock_aggs and features over FIRST..LAST as Dagster's backfill daemon would under the policy of
    ``run_partitions`` (0: one run): its run requests, each run executed; returns each run's partition range."""
    assets = [a.with_attributes(backfill_policy=backfill_policy(run_partitions)) for a in (stock_aggs, features)]
    instance = dg.DagsterInstance.ephemeral()
    graph = dg.Definitions(assets=assets, resources=resources).resolve_asset_graph()
    keys = daily_partitions.get_partition_keys_in_range(dg.PartitionKeyRange(FIRST, LAST))
    requests = build_run_requests_with_backfill_policies(
        [AssetKeyPartitionKey(a.key, k) for a in assets for k in keys], graph, instance)
    ranges = []
    for request in requests:
        ranges.append((request.tags[ASSET_PARTITION_RANGE_START_TAG], request.tags[ASSET_PARTITION_RANGE_END_TAG]))
        result = dg.materialize(assets, resources=resources, instance=instance, tags=request.tags)
        assert result.success
    return ranges


def test_a_multi_run_backfill_of_6_partitions_with_k_2_lands_exactly_the_single_run_rows(db, sql_conn, fake_polygon):
    resources = market_resources(db, fake_polygon, stocks="AAPL,MSFT")
    assert backfill(resources, 0) == [(FIRST, LAST)]
    single = {table: sql_conn.execute(query).fetchall() for table, query in SNAPSHOTS.items()}
    assert len(single["stock_aggs"]) > 2 * 5 * 390 and len(single["features"]) > 2 * 5 * 390 * 10
    sql_conn.execute("TRUNCATE stock_aggs, features")
    sql_conn.commit()

    ranges = backfill(resources, 2)
    assert ranges == [("2024-03-04", "2024-03-05"), ("2024-03-06", "2024-03-07"), ("2024-03-08", "2024-03-09")]
    for table, query in SNAPSHOTS.items():
        assert sql_conn.execute(query).fetchall() == single[table], table
