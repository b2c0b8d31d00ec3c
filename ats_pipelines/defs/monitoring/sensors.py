"""Monitoring sensors: every failed run becomes one alert."""

import dagster as dg

from ats_pipelines.defs.monitoring.alerts import record_alert
from ats_pipelines.resources import TimescaleResource


@dg.run_failure_sensor(default_status=dg.DefaultSensorStatus.RUNNING, monitor_all_code_locations=False)
def run_failure_alert_sensor(context: dg.RunFailureSensorContext, timescale: TimescaleResource) -> None:
    """A failed run (any job of this code location) is recorded in ``alerts``, once per run."""
    run = context.dagster_run
    message = context.failure_event.message or "run failed"
    record_alert(timescale, alert_type="run_failure", severity="error", component=run.job_name[:32],
                 message=f"run {run.run_id} of {run.job_name} failed: {message}",
                 cause={"run_id": run.run_id, "job": run.job_name})
