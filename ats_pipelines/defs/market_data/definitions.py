"""The market-data domain."""

import dagster as dg

from ats_pipelines.defs.market_data.assets import (
    crypto_aggs,
    options_aggs,
    quotes,
    stock_aggs,
    stock_aggs_rollups,
    trades,
)
from ats_pipelines.defs.market_data.resources import resources
from ats_pipelines.defs.market_data.schedules import (
    after_close_schedule,
    crypto_daily_schedule,
    crypto_job,
    refetch_job,
    session_job,
    weekly_refetch_schedule,
)
from ats_pipelines.defs.market_data.sensors import split_adjustment_sensor, split_history_job
from ats_pipelines.defs.ownership import DATA_PLATFORM, owned_by

defs = dg.Definitions(
    assets=dg.map_asset_specs(owned_by(DATA_PLATFORM), [
        stock_aggs,
        stock_aggs_rollups,
        crypto_aggs,
        options_aggs,
        trades,
        quotes,
    ]),
    jobs=[session_job, crypto_job, refetch_job, split_history_job],
    schedules=[after_close_schedule, crypto_daily_schedule, weekly_refetch_schedule],
    sensors=[split_adjustment_sensor],
    resources=resources,
)
