"""The daily graph follows its data (declarative automation), not the clock: a failed ingest computes nothing
below it, a succeeded one drives features, signals, orders, positions and trading metrics with no schedule,
and a blocking check that fails stops the graph at its asset. Evaluated with Dagster's own automation
evaluation on an instance holding the real runs (real PostgreSQL, the fake Polygon server)."""

from __future__ import annotations

from datetime import UTC, datetime

import dagster as dg
from dagster._core.definitions.data_version import CachingStaleStatusResolver, StaleStatus
from dagster._core.loader import LoadingContextForTest
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG

from ats_pipelines.definitions import defs
from ats_pipelines.defs.features.assets import features
from ats_pipelines.defs.market_data.assets import stock_aggs
from ats_pipelines.defs.market_data.sensors import split_adjustment_sensor
from ats_pipelines.defs.models.assets import trading_signals
from ats_pipelines.defs.reference.assets import stock_splits
from ats_pipelines.fakes import polygon_data
from ats_pipelines.resources import ModelStoreResource
from tests.conftest import feature_resources, market_resources, run

DAY = "2024-03-06"
LEAD_IN = ("2024-03-01", "2024-03-05")  # the days the features of DAY read bars of (LEAD_IN_MAPPING)
EVENING = datetime(2024, 3, 6, 23, 45, tzinfo=UTC)  # after the after-close ingest; DAY is the latest partition
ASSETS = defs.resolve_asset_graph().get_all_asset_keys()
SCHEDULED = {"features_after_close_schedule", "signals_after_features_schedule", "trading_after_signals_schedule"}


class Automation:
    """Successive ticks of the automation sensor over the code location, on one instance."""

    def __init__(self, instance: dg.DagsterInstance):
        self.instance, self.cursor = instance, None

    def tick(self) -> dict[str, list[str]]:
        """The asset partitions requested on this tick: ``{asset: [partition or "-"]}``."""
        result = dg.evaluate_automation_conditions(defs=defs, instance=self.instance, evaluation_time=EVENING,
                                                   cursor=self.cursor)
        self.cursor = result.cursor
        return {key.to_user_string(): sorted(p or "-" for p in result.get_requested_partitions(key))
                for key in ASSETS if result.get_num_requested(key)}

    def report(self, asset: str, partition: str | None = None) -> None:
        """A materialization of ``asset`` (one this test does not need to compute)."""
        self.instance.report_runless_asset_event(dg.AssetMaterialization(asset, partition=partition))


def test_the_clock_chain_is_gone_and_every_step_below_the_ingest_has_a_condition():
    assert not SCHEDULED & {s.name for s in defs.schedules}
    graph = defs.resolve_asset_graph()
    for asset in ("features", "trading_signals", "orders", "positions", "trading_metrics"):
        assert graph.get(dg.AssetKey(asset)).automation_condition is not None, asset
    sensor = next(s for s in defs.sensors if s.name == "default_automation_condition_sensor")
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING
    blocking = {(spec.asset_key.to_user_string(), spec.name) for spec in (*stock_aggs.check_specs,
                                                                         *features.check_specs) if spec.blocking}
    assert blocking == {("stock_aggs", "sessions_complete"), ("features", "coverage")}


def test_a_failed_ingest_computes_nothing_below_it_and_its_success_drives_the_rest(db, fake_polygon, tmp_path):
    instance, resources = dg.DagsterInstance.ephemeral(), market_resources(db, fake_polygon, stocks="AAPL,MSFT")
    automation = Automation(instance)
    assert automation.tick() == {}
    automation.report("models")  # an active model exists (trained earlier)
    run([stock_aggs], resources, *LEAD_IN, instance=instance)  # the earlier days, weekend included, landed
    automation.tick()

    failed = run([stock_aggs], market_resources(db, fake_polygon, api_key="wrong-key", stocks="AAPL,MSFT"), DAY,
                 instance=instance, raise_on_error=False)
    assert not failed.success
    assert automation.tick() == {}  # no features, hence no signals nor orders, for the failed partition

    assert run([stock_aggs], resources, DAY, instance=instance).success
    assert automation.tick() == {"features": [DAY]}
    assert run([features], feature_resources(db, "AAPL,MSFT"), DAY, instance=instance).success
    # orders run with the signals (one run, in order); positions and metrics, unpartitioned, follow the orders
    assert automation.tick() == {"trading_signals": [DAY], "orders": [DAY]}
    store = ModelStoreResource(directory=str(tmp_path))
    assert run([trading_signals], {"timescale": db, "model_store": store}, DAY, instance=instance).success
    assert automation.tick() == {}  # requested once, not on every tick
    automation.report("orders", DAY)  # the broker's side is the trading tests' concern
    assert automation.tick() == {"positions": ["-"], "trading_metrics": ["-"]}  # one run: positions, then metrics
    assert automation.tick() == {}


def test_features_missing_a_session_fail_their_blocking_check_and_nothing_follows(db, fake_polygon):
    instance, resources = dg.DagsterInstance.ephemeral(), market_resources(db, fake_polygon, stocks="AAPL,MSFT")
    automation = Automation(instance)
    automation.tick()
    automation.report("models")
    run([stock_aggs], resources, *LEAD_IN, instance=instance)
    run([stock_aggs], resources, DAY, instance=instance)
    db.execute("DELETE FROM stock_aggs WHERE symbol = 'MSFT' AND timeframe = '1m' AND timestamp >= %(day)s",
               {"day": datetime(2024, 3, 6, tzinfo=UTC)})  # MSFT's session lost after the ingest's own check
    assert automation.tick() == {"features": [DAY]}
    result = run([features], feature_resources(db, "AAPL,MSFT"), DAY, instance=instance, raise_on_error=False)
    coverage = next(c for c in result.get_asset_check_evaluations() if c.check_name == "coverage")
    assert not coverage.passed
    assert coverage.metadata["first_missing_sessions"].value == [f"1m MSFT {DAY}"]
    automation.tick()
    assert "trading_signals" not in automation.tick()


def test_a_failed_split_refetch_is_asked_again_under_a_new_run_key(db, fake_polygon):
    resources = market_resources(db, fake_polygon, stocks="AAPL")
    run([stock_aggs], resources, "2024-03-04", "2024-03-05")
    fake_polygon.set_splits((*polygon_data.SPLITS, polygon_data.Split("AAPL", datetime(2024, 3, 7).date(), 1, 2)))
    dg.materialize([stock_splits], resources=resources, instance=dg.DagsterInstance.ephemeral())
    instance = dg.DagsterInstance.ephemeral()
    first = _split_requests(db, instance)
    assert len(first) == 1 and first[0].run_key.endswith("-attempt-1")
    assert _split_requests(db, instance)[0].run_key == first[0].run_key  # same attempt: Dagster dedupes it

    failed = dg.materialize([stock_aggs], resources=market_resources(db, fake_polygon, api_key="wrong-key",
                                                                   stocks="AAPL"),
                            instance=instance, tags=first[0].tags, run_config=first[0].run_config,
                            raise_on_error=False)
    assert not failed.success
    again = _split_requests(db, instance)
    assert len(again) == 1 and again[0].run_key.endswith("-attempt-2")
    assert again[0].tags == first[0].tags and again[0].run_config == first[0].run_config


def _split_requests(db, instance) -> list[dg.RunRequest]:
    with dg.build_sensor_context(resources={"timescale": db}, instance=instance) as context:
        return [r for r in split_adjustment_sensor(context) if isinstance(r, dg.RunRequest)]


def test_a_split_refetch_recomputes_the_features_of_the_partitions_it_rewrote(db, fake_polygon):
    instance, resources = dg.DagsterInstance.ephemeral(), market_resources(db, fake_polygon, stocks="AAPL")
    automation = Automation(instance)
    automation.tick()
    run([stock_aggs], resources, LEAD_IN[0], DAY, instance=instance)
    run([features], feature_resources(db, "AAPL"), "2024-03-04", DAY, instance=instance)
    automation.tick()
    assert automation.tick() == {}
    fake_polygon.set_splits((*polygon_data.SPLITS, polygon_data.Split("AAPL", datetime(2024, 3, 6).date(), 1, 2)))
    dg.materialize([stock_splits], resources=resources, instance=dg.DagsterInstance.ephemeral())
    [request] = _split_requests(db, instance)
    result = dg.materialize([stock_aggs], resources=resources, instance=instance, tags=request.tags,
                            run_config=request.run_config)
    assert result.success
    # the re-adjusted days (the stored history before the split), old as they are, get their features again,
    # and so does DAY, whose lead-in reads them
    assert request.tags[ASSET_PARTITION_RANGE_END_TAG] == "2024-03-05"
    assert automation.tick() == {"features": ["2024-03-01", "2024-03-02", "2024-03-03", "2024-03-04", "2024-03-05",
                                              DAY]}
    assert automation.tick() == {}


def test_a_bar_corrected_on_the_day_before_marks_the_days_features_stale(db, fake_polygon):
    """The lead-in is declared (a partition mapping with its offset): features of DAY read the bars of the days
    before it, so a new materialization of the day before (a correction) makes them stale; an older day
    outside the lead-in does not."""
    instance, resources = dg.DagsterInstance.ephemeral(), market_resources(db, fake_polygon, stocks="AAPL")
    run([stock_aggs], resources, "2024-02-28", DAY, instance=instance)
    run([features], feature_resources(db, "AAPL"), DAY, instance=instance)

    def status() -> StaleStatus:
        resolver = CachingStaleStatusResolver(instance, defs.resolve_asset_graph(), LoadingContextForTest(instance))
        return resolver.get_status(dg.AssetKey("features"), DAY)

    assert status() == StaleStatus.FRESH
    run([stock_aggs], resources, "2024-02-28", instance=instance)  # a week before: not in DAY's lead-in
    assert status() == StaleStatus.FRESH
    run([stock_aggs], resources, "2024-03-05", instance=instance)  # the day before, corrected
    assert status() == StaleStatus.STALE
    run([features], feature_resources(db, "AAPL"), DAY, instance=instance)
    assert status() == StaleStatus.FRESH


def test_vendor_jobs_retry_a_failed_run_from_its_failed_step():
    jobs = {job.name: job for job in defs.resolve_all_job_defs()}
    for name in ("market_data_session", "market_data_crypto", "market_data_refetch", "split_adjusted_history",
                 "flow_alerts_job", "corporate_actions_job", "news_job"):
        assert jobs[name].tags["dagster/max_retries"] == "3", name
        assert jobs[name].tags["dagster/retry_strategy"] == "FROM_FAILURE", name
    assert "dagster/max_retries" not in jobs["features_job"].tags  # a computation, not a vendor: no retries
