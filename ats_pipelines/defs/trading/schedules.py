"""Trading job and the one trading schedule left. Orders follow the signals, positions the orders and the
trading metrics the positions (automation conditions), so the session's chain needs no clock; every active
strategy trades in those runs. The daily strategy keeps its 19:50 schedule: its run config creates strategy
``daily`` (the daily model's signals on today's 1d bar, market-on-open orders for the next session)."""

import dagster as dg

from ats_pipelines.defs.market_data.schedules import session_schedule
from ats_pipelines.defs.models.run import DAILY_MODEL
from ats_pipelines.defs.trading.assets import orders, positions

trading_job = dg.define_asset_job(
    "trading_job", selection=dg.AssetSelection.assets(orders, positions, dg.AssetKey("trading_metrics")),
    description="Orders from a partition's signals, then positions from the broker, then the trading metrics.")

DAILY_STRATEGY = {"strategy": "daily", "model_name": DAILY_MODEL}
daily_orders_schedule = session_schedule(
    "daily_orders_schedule", trading_job, "50 19 * * 1-5",
    "19:50 New York on weekdays: strategy 'daily' (created by this run config) places the daily model's signals on "
    "today's 1d bar as market-on-open (time_in_force opg) orders for the next session; under the default limits, "
    "since a daily bar ends at midnight New York.",
    run_config={"ops": {op: {"config": DAILY_STRATEGY} for op in ("orders", "positions", "trading_metrics")}})
