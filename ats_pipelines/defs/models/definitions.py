"""The models domain."""

import dagster as dg

from ats_pipelines.defs.models.assets import trading_signals, train_model_assets
from ats_pipelines.defs.models.resources import resources
from ats_pipelines.defs.models.schedules import (
    signals_after_features_schedule,
    signals_job,
    training_job,
    weekly_training_schedule,
)

defs = dg.Definitions(assets=[train_model_assets, trading_signals], jobs=[training_job, signals_job],
                      schedules=[weekly_training_schedule, signals_after_features_schedule], resources=resources)
