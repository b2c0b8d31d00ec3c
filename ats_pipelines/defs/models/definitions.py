"""The models domain."""

import dagster as dg

from ats_pipelines.defs.models.assets import trading_signals, train_model_assets
from ats_pipelines.defs.models.resources import resources
from ats_pipelines.defs.models.schedules import (
    signals_job,
    training_job,
    weekly_daily_training_schedule,
    weekly_training_schedule,
)
from ats_pipelines.defs.ownership import QUANT_RESEARCH, owned_by

defs = dg.Definitions(
    assets=dg.map_asset_specs(owned_by(QUANT_RESEARCH), [train_model_assets, trading_signals]),
    jobs=[training_job, signals_job],
    schedules=[weekly_training_schedule, weekly_daily_training_schedule],
    resources=resources,
)
