"""Features schedule: today's features once the after-close market-data run has landed the session."""

import dagster as dg

from ats_pipelines.defs.features.assets import features
from ats_pipelines.market_calendar import NEW_YORK

features_job = dg.define_asset_job(
    "features_job", selection=[features],
    description="Features of one partition (or a range, as one run) from the stored bars and flow alerts.",
)


@dg.schedule(job=features_job, cron_schedule="15 19 * * 1-5", execution_timezone="America/New_York",
             default_status=dg.DefaultScheduleStatus.RUNNING)
def features_after_close_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    """19:15 New York on weekdays, 45 minutes after the session's bars are ingested (after_close_schedule)."""
    day = context.scheduled_execution_time.astimezone(NEW_YORK).date()
    return dg.RunRequest(run_key=f"features-{day}", partition_key=day.isoformat())
