"""Market-data schedules: the session that just closed, crypto's last UTC day, and a weekly re-fetch.

Polygon corrects bars and trades after the fact, so every Saturday the last ``ATS_REFETCH_DAYS`` (7) days
are fetched again as one range run; the idempotent writes land the corrections and change nothing else.
"""

import os
from datetime import timedelta
from zoneinfo import ZoneInfo

import dagster as dg
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

from ats_pipelines.defs.automation import VENDOR_RUN_RETRIES
from ats_pipelines.defs.market_data.assets import (
    crypto_aggs,
    options_aggs,
    quotes,
    stock_aggs,
    stock_aggs_rollups,
    trades,
)

NEW_YORK = ZoneInfo("America/New_York")

session_job = dg.define_asset_job(
    "market_data_session", selection=[stock_aggs, stock_aggs_rollups, options_aggs, trades, quotes],
    description="Stock, option and tick data of one session (or a range, as one run).", tags=VENDOR_RUN_RETRIES,
)
crypto_job = dg.define_asset_job("market_data_crypto", selection=[crypto_aggs], tags=VENDOR_RUN_RETRIES)
refetch_job = dg.define_asset_job(
    "market_data_refetch", selection=[stock_aggs, stock_aggs_rollups, crypto_aggs, options_aggs, trades, quotes],
    description="Every market-data asset over the last days, as one range run.", tags=VENDOR_RUN_RETRIES,
)


def session_schedule(name: str, job, cron: str, description: str, run_config: dict | None = None
                     ) -> dg.ScheduleDefinition:
    """A schedule (New York time) that runs ``job`` (with ``run_config``) for the partition of today's date."""

    @dg.schedule(name=name, job=job, cron_schedule=cron, execution_timezone="America/New_York",
                 default_status=dg.DefaultScheduleStatus.RUNNING, description=description)
    def _schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
        day = context.scheduled_execution_time.astimezone(NEW_YORK).date()
        return dg.RunRequest(run_key=f"{name}-{day}", partition_key=day.isoformat(), run_config=run_config or {})

    return _schedule


after_close_schedule = session_schedule(
    "after_close_schedule", session_job, "30 18 * * *",
    "18:30 New York every day: ingest today's session; weekends and holidays fetch nothing and pass, so every "
    "partition the features' lead-in maps to exists and automation never waits on a missing one.")


@dg.schedule(job=crypto_job, cron_schedule="15 0 * * *", execution_timezone="UTC",
             default_status=dg.DefaultScheduleStatus.RUNNING)
def crypto_daily_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    """00:15 UTC: the UTC day that just ended."""
    day = context.scheduled_execution_time.date() - timedelta(days=1)
    return dg.RunRequest(run_key=f"crypto-{day}", partition_key=day.isoformat())


@dg.schedule(job=refetch_job, cron_schedule="0 6 * * 6", execution_timezone="America/New_York",
             default_status=dg.DefaultScheduleStatus.RUNNING)
def weekly_refetch_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    """Saturday 06:00 New York: re-fetch the last ATS_REFETCH_DAYS days (default 7) in one run."""
    days = int(os.environ.get("ATS_REFETCH_DAYS") or 7)
    last = context.scheduled_execution_time.astimezone(NEW_YORK).date() - timedelta(days=1)
    first = last - timedelta(days=days - 1)
    return dg.RunRequest(
        run_key=f"refetch-{first}-{last}",
        tags={ASSET_PARTITION_RANGE_START_TAG: first.isoformat(), ASSET_PARTITION_RANGE_END_TAG: last.isoformat()},
    )
