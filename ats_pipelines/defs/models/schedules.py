"""Models schedules: a weekly training of each horizon. Signals need no schedule: trading_signals follows its
features and the active model (its automation condition)."""

import dagster as dg

from ats_pipelines.defs.models.assets import trading_signals, train_model_assets
from ats_pipelines.defs.models.run import DAILY_MODEL

training_job = dg.define_asset_job("training_job", selection=[train_model_assets],
                                   description="One walk-forward training with the promotion gate.")
signals_job = dg.define_asset_job("signals_job", selection=[trading_signals],
                                  description="Signals of the active model for one partition (or a range).")

weekly_training_schedule = dg.ScheduleDefinition(
    name="weekly_training_schedule",
    job=training_job, cron_schedule="0 8 * * 6", execution_timezone="America/New_York",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Saturday 08:00 New York, after the weekly re-fetch: train, and promote only a better model.",
)

weekly_daily_training_schedule = dg.ScheduleDefinition(
    name="weekly_daily_training_schedule",
    job=training_job, cron_schedule="30 8 * * 6", execution_timezone="America/New_York",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    run_config={"ops": {"train_model": {"config": {"model_name": DAILY_MODEL, "timeframe": "1d",
                                                           "lookback_days": 3650}}}},
    description="Saturday 08:30 New York: the daily model (1d bars and features, label from the next session), "
    "promoted only when better.",
)
