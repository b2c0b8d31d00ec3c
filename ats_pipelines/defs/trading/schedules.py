"""Trading schedule: the session's orders once its signals exist, then the positions."""

import dagster as dg

from ats_pipelines.defs.market_data.schedules import session_schedule
from ats_pipelines.defs.trading.assets import orders, positions

trading_job = dg.define_asset_job("trading_job", selection=[orders, positions],
                                  description="Orders from a partition's signals, then positions from the broker.")

trading_after_signals_schedule = session_schedule(
    "trading_after_signals_schedule", trading_job, "45 19 * * 1-5",
    "19:45 New York on weekdays, after signals_after_features_schedule: the session's orders and positions.")
