"""Reference schedules, each at the pace its data changes."""

from datetime import datetime, time

import dagster as dg

from ats_pipelines.defs.automation import VENDOR_RUN_RETRIES
from ats_pipelines.defs.reference.assets import (
    dividends,
    market_holidays,
    market_status,
    news_articles,
    stock_splits,
    ticker_details,
)
from ats_pipelines.market_calendar import NEW_YORK, sessions

EXTENDED_HOURS = (time(4, 0), time(20, 0))

market_status_job = dg.define_asset_job("market_status_job", selection=[market_status])
news_job = dg.define_asset_job("news_job", selection=[news_articles], tags=VENDOR_RUN_RETRIES)
holidays_job = dg.define_asset_job("market_holidays_job", selection=[market_holidays], tags=VENDOR_RUN_RETRIES)
ticker_details_job = dg.define_asset_job("ticker_details_job", selection=[ticker_details], tags=VENDOR_RUN_RETRIES)
corporate_actions_job = dg.define_asset_job("corporate_actions_job", selection=[stock_splits, dividends],
                                            description="Splits and dividends of the universe.",
                                            tags=VENDOR_RUN_RETRIES)


def us_equity_active(at: datetime) -> bool:
    """Whether ``at`` falls in a NYSE session day's extended hours (04:00–20:00 New York)."""
    local = at.astimezone(NEW_YORK)
    return bool(sessions(local.date(), local.date())) and EXTENDED_HOURS[0] <= local.time() < EXTENDED_HOURS[1]


@dg.schedule(job=market_status_job, cron_schedule="*/5 * * * *", execution_timezone="UTC",
             default_status=dg.DefaultScheduleStatus.RUNNING)
def market_status_schedule(context: dg.ScheduleEvaluationContext):
    """Every 5 minutes while US equities trade (extended hours included); every 30 minutes otherwise, when
    only crypto and forex are open."""
    at = context.scheduled_execution_time
    if us_equity_active(at) or at.minute % 30 == 0:
        return dg.RunRequest(run_key=f"status-{at:%Y%m%dT%H%M}")
    return dg.SkipReason("US equities closed; crypto and forex are checked every 30 minutes")


news_schedule = dg.ScheduleDefinition(name="news_schedule", job=news_job, cron_schedule="*/15 * * * *",
                                      execution_timezone="UTC", default_status=dg.DefaultScheduleStatus.RUNNING)
holidays_schedule = dg.ScheduleDefinition(name="holidays_schedule", job=holidays_job, cron_schedule="0 6 * * *",
                                          execution_timezone="America/New_York",
                                          default_status=dg.DefaultScheduleStatus.RUNNING)
ticker_details_schedule = dg.ScheduleDefinition(name="ticker_details_schedule", job=ticker_details_job,
                                                cron_schedule="0 7 * * 0", execution_timezone="America/New_York",
                                                default_status=dg.DefaultScheduleStatus.RUNNING)
corporate_actions_schedule = dg.ScheduleDefinition(
    name="corporate_actions_schedule", job=corporate_actions_job, cron_schedule="30 7 * * *",
    execution_timezone="America/New_York", default_status=dg.DefaultScheduleStatus.RUNNING,
    description="07:30 New York daily, before the open: splits and dividends (a new split then re-fetches the "
                "adjusted history through split_adjustment_sensor).")
