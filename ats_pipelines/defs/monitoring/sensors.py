"""Monitoring sensors: failed runs and failed asset checks become alerts (one per cause); successful runs
leave their duration, rows and API use in system_metrics."""

from datetime import UTC, datetime

import dagster as dg

from ats_pipelines.defs.monitoring.alerts import record_alert
from ats_pipelines.defs.monitoring.system_metrics import metric_frame
from ats_pipelines.resources import TimescaleResource


@dg.run_failure_sensor(default_status=dg.DefaultSensorStatus.RUNNING, monitor_all_code_locations=False)
def run_failure_alert_sensor(context: dg.RunFailureSensorContext, timescale: TimescaleResource) -> None:
    """A failed run (any job of this code location) is recorded in ``alerts``, once per run, with an alert
    for each of its failed asset checks."""
    run = context.dagster_run
    message = context.failure_event.message or "run failed"
    record_alert(timescale, alert_type="run_failure", severity="error", component=run.job_name[:32],
                 message=f"run {run.run_id} of {run.job_name} failed: {message}",
                 cause={"run_id": run.run_id, "job": run.job_name})
    record_failed_checks(context.instance, run.run_id, timescale)


@dg.run_status_sensor(run_status=dg.DagsterRunStatus.SUCCESS, default_status=dg.DefaultSensorStatus.RUNNING)
def run_metrics_sensor(context: dg.RunStatusSensorContext, timescale: TimescaleResource) -> None:
    """Every successful run: its duration, rows written and API use (requests, retries, seconds, mean latency)
    in ``system_metrics``, per job, and an alert for each of its failed asset checks."""
    run = context.dagster_run
    stats = context.instance.get_run_stats(run.run_id)
    totals: dict[str, float] = {name: 0.0 for name in RUN_METRICS}
    records = context.instance.get_records_for_run(run.run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION)
    for record in records.records:
        metadata = record.event_log_entry.asset_materialization.metadata
        for name in RUN_METRICS:
            value = metadata.get(name)
            if value is not None and isinstance(value.value, int | float):
                totals[name] += value.value
    requests = totals["api_requests"]
    values = {"run_seconds": (stats.end_time or 0) - (stats.start_time or 0), **totals,
              **({"api_latency_ms": totals["api_request_seconds"] / requests * 1000} if requests else {})}
    at = datetime.fromtimestamp(stats.end_time or 0, UTC)
    timescale.write("system_metrics", metric_frame(run.job_name, at, values))
    record_failed_checks(context.instance, run.run_id, timescale)


RUN_METRICS = ("rows_written", "api_requests", "api_retries", "api_request_seconds")


def record_failed_checks(instance: dg.DagsterInstance, run_id: str, timescale: TimescaleResource) -> int:
    """Every failed asset check of a finished run becomes one alert (warning or error, as the check's
    severity says); returns how many failed."""
    failed = 0
    for record in instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION).records:
        evaluation = record.event_log_entry.dagster_event.event_specific_data
        if not evaluation.passed:
            failed += 1
            asset = evaluation.asset_key.to_user_string()
            record_alert(timescale, alert_type="check_failed",
                         severity="error" if evaluation.severity == dg.AssetCheckSeverity.ERROR else "warning",
                         component=asset[:32], message=f"check {evaluation.check_name} of {asset} failed",
                         cause={"run_id": run_id, "asset": asset, "check": evaluation.check_name})
    return failed
