"""Options-flow schedules: flow alerts every minute of the regular session."""

from datetime import timedelta

import dagster as dg

from ats_pipelines.defs.automation import VENDOR_RUN_RETRIES
from ats_pipelines.defs.options_flow.assets import unusual_whales_options
from ats_pipelines.market_calendar import NEW_YORK, sessions

flow_alerts_job = dg.define_asset_job("flow_alerts_job", selection=[unusual_whales_options], tags=VENDOR_RUN_RETRIES)
AFTER_CLOSE = timedelta(minutes=15)  # catches the alerts of the session's last minutes


@dg.schedule(job=flow_alerts_job, cron_schedule="* 9-16 * * 1-5", execution_timezone="America/New_York",
             default_status=dg.DefaultScheduleStatus.RUNNING)
def flow_alerts_schedule(context: dg.ScheduleEvaluationContext):
    """Every minute from the open to a quarter hour after the close (early closes too), on NYSE sessions."""
    at = context.scheduled_execution_time.astimezone(NEW_YORK)
    today = sessions(at.date(), at.date())
    if today and today[0].open <= at <= today[0].close + AFTER_CLOSE:
        return dg.RunRequest(run_key=f"flow-{at:%Y%m%dT%H%M}")
    return dg.SkipReason("outside the regular session")
