"""Trading schedule: the session's orders once its signals exist, then the positions and the trading metrics."""

import dagster as dg

from ats_pipelines.defs.market_data.schedules import session_schedule
from ats_pipelines.defs.models.run import DAILY_MODEL
from ats_pipelines.defs.trading.assets import orders, positions

# trading_metrics (monitoring) follows every positions run, so the loss and drawdown limits read real figures.
trading_job = dg.define_asset_job(
    "trading_job", selection=dg.AssetSelection.assets(orders, positions, dg.AssetKey("trading_metrics")),
    description="Orders from a partition's signals, then positions from the broker, then the trading metrics.")

trading_after_signals_schedule = session_schedule(
    "trading_after_signals_schedule", trading_job, "45 19 * * 1-5",
    "19:45 New York on weekdays, after signals_after_features_schedule: the session's orders and positions.")

DAILY_STRATEGY = {"strategy": "daily", "model_name": DAILY_MODEL}
daily_orders_schedule = session_schedule(
    "daily_orders_schedule", trading_job, "50 19 * * 1-5",
    "19:50 New York on weekdays, after signals_after_features_schedule: the daily model's signals on today's 1d bar "
    "become market-on-open orders (time_in_force opg) of strategy 'daily' for the next session; under the default "
    "limits, since a daily bar ends at midnight New York.",
    run_config={"ops": {op: {"config": DAILY_STRATEGY} for op in ("orders", "positions", "trading_metrics")}})
