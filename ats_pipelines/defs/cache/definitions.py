"""The cache domain: Redis mirrors of the database, refreshed by sensors."""

import dagster as dg

from ats_pipelines.defs.cache.assets import feature_cache, model_cache, status_cache, trading_cache
from ats_pipelines.defs.cache.resources import resources
from ats_pipelines.defs.cache.sensors import (
    feature_cache_job,
    feature_cache_sensor,
    model_cache_job,
    model_cache_sensor,
    status_cache_job,
    status_cache_sensor,
    stream_watchdog_sensor,
    trading_cache_job,
    trading_cache_sensor,
)
from ats_pipelines.defs.ownership import PLATFORM_OPS, owned_by

defs = dg.Definitions(
    assets=dg.map_asset_specs(owned_by(PLATFORM_OPS), [feature_cache, model_cache, trading_cache, status_cache]),
    jobs=[feature_cache_job, model_cache_job, trading_cache_job, status_cache_job],
    sensors=[
        feature_cache_sensor,
        model_cache_sensor,
        trading_cache_sensor,
        status_cache_sensor,
        stream_watchdog_sensor,
    ],
    resources=resources,
)
