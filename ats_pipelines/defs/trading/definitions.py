"""The trading domain."""

import dagster as dg

from ats_pipelines.defs.trading.assets import orders, positions
from ats_pipelines.defs.trading.resources import resources

trading_job = dg.define_asset_job("trading_job", selection=[orders, positions],
                                  description="Orders from a partition's signals, then positions from the broker.")

defs = dg.Definitions(assets=[orders, positions], jobs=[trading_job], resources=resources)
