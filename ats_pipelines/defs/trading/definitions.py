"""The trading domain."""

import dagster as dg

from ats_pipelines.defs.ownership import TRADING, owned_by
from ats_pipelines.defs.trading.assets import orders, positions
from ats_pipelines.defs.trading.resources import resources
from ats_pipelines.defs.trading.schedules import daily_orders_schedule, trading_job

defs = dg.Definitions(
    assets=dg.map_asset_specs(owned_by(TRADING), [orders, positions]),
    jobs=[trading_job],
    schedules=[daily_orders_schedule],
    resources=resources,
)
