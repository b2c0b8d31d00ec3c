"""Market-data sensors: a new split re-fetches the symbol's split-adjusted history, as one run."""

import hashlib
from datetime import date, timedelta

import dagster as dg
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

from ats_pipelines.defs.automation import SPLIT_TAG, VENDOR_RUN_RETRIES
from ats_pipelines.defs.market_data.assets import stock_aggs
from ats_pipelines.defs.market_data.partitions import HISTORY_START
from ats_pipelines.resources import TimescaleResource
from ats_pipelines.sql_files import read_sql_beside

PENDING_SPLITS_SQL = read_sql_beside(__file__, "pending_splits.sql")

split_history_job = dg.define_asset_job(
    "split_adjusted_history", selection=[stock_aggs],
    description="Re-fetch one symbol's split-adjusted bars over its stored history before a split (raw bars stay).",
    tags=VENDOR_RUN_RETRIES,
)
SPLIT_KEY_TAG = "ats/split_key"


@dg.sensor(job=split_history_job, minimum_interval_seconds=300, default_status=dg.DefaultSensorStatus.RUNNING)
def split_adjustment_sensor(context: dg.SensorEvaluationContext, timescale: TimescaleResource):
    """Every 5 minutes: for each symbol with an executed split not yet applied to its stored adjusted bars, one
    stock_aggs run over those bars' dates (a single-run backfill) with only that symbol and only adjusted bars.
    The run records the split as applied; the run key (symbol, its pending splits and how many runs of them
    failed) keeps it to one run at a time, and a failed attempt (its run retries spent) gets a new one."""
    pending = timescale.read(PENDING_SPLITS_SQL)
    if pending.is_empty():
        yield dg.SkipReason("no executed split waits for its adjusted history")
    for symbol, first_day, last_execution, splits in pending.iter_rows():
        first = max(first_day, date.fromisoformat(HISTORY_START))
        last = max(first, last_execution - timedelta(days=1))
        key = f"split-{symbol}-" + hashlib.blake2b(splits.encode(), digest_size=8).hexdigest()
        yield dg.RunRequest(
            run_key=f"{key}-attempt-{failed_attempts(context.instance, key) + 1}",
            run_config={"ops": {"stock_aggs": {"config": {"symbols": [symbol], "adjusted_only": True}}}},
            tags={ASSET_PARTITION_RANGE_START_TAG: first.isoformat(), ASSET_PARTITION_RANGE_END_TAG: last.isoformat(),
                  "ats/trigger": "split_adjustment_sensor", SPLIT_TAG: f"{symbol} {splits}",
                  SPLIT_KEY_TAG: key},
        )


def failed_attempts(instance: dg.DagsterInstance, key: str) -> int:
    """How many runs of one pending split set failed for good (their run retries included)."""
    return instance.get_runs_count(dg.RunsFilter(tags={SPLIT_KEY_TAG: key}, statuses=[dg.DagsterRunStatus.FAILURE]))
