"""Monitoring: a failed run produces exactly one alert row."""

from __future__ import annotations

import dagster as dg

from ats_pipelines.defs.features.assets import features
from ats_pipelines.defs.monitoring.sensors import run_failure_alert_sensor


def test_a_failed_run_produces_one_alert(db, sql_conn):
    instance = dg.DagsterInstance.ephemeral()
    result = dg.materialize([features], resources={"timescale": db}, instance=instance, partition_key="2024-03-07",
                            raise_on_error=False,
                            run_config={"ops": {"features": {"config": {"timeframes": "7m"}}}})
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type == dg.DagsterEventType.RUN_FAILURE)
    for _ in range(2):  # the sensor may see the same failure twice (a restart): still one alert
        with dg.build_run_status_sensor_context(
                sensor_name="run_failure_alert_sensor", dagster_instance=instance, dagster_run=result.dagster_run,
                dagster_event=failure, resources={"timescale": db}) as context:
            run_failure_alert_sensor(context.for_run_failure())
    rows = sql_conn.execute("SELECT alert_type, severity, status, message, metadata->>'run_id' FROM alerts").fetchall()
    assert len(rows) == 1
    alert_type, severity, status, message, run_id = rows[0]
    assert (alert_type, severity, status, run_id) == ("run_failure", "error", "open", result.run_id)
    assert result.run_id in message
