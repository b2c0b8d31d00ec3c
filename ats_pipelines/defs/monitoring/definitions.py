"""The monitoring domain."""

import dagster as dg

from ats_pipelines.defs.monitoring.assets import system_metrics, trading_metrics
from ats_pipelines.defs.monitoring.resources import resources
from ats_pipelines.defs.monitoring.schedules import system_metrics_job, system_metrics_schedule
from ats_pipelines.defs.monitoring.sensors import run_failure_alert_sensor, run_metrics_sensor
from ats_pipelines.defs.ownership import PLATFORM_OPS, owned_by

defs = dg.Definitions(
    assets=dg.map_asset_specs(owned_by(PLATFORM_OPS), [system_metrics, trading_metrics]),
    jobs=[system_metrics_job],
    schedules=[system_metrics_schedule],
    sensors=[run_failure_alert_sensor, run_metrics_sensor],
    resources=resources,
)
