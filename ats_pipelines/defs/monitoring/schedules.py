"""Monitoring schedules."""

import dagster as dg

from ats_pipelines.defs.monitoring.assets import system_metrics

system_metrics_job = dg.define_asset_job("system_metrics_job", selection=[system_metrics])

system_metrics_schedule = dg.ScheduleDefinition(
    name="system_metrics_schedule",
    job=system_metrics_job, cron_schedule="*/15 * * * *", execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
)
