"""The Dagster code location: every domain under defs/, merged."""

import dagster as dg

from ats_pipelines.defs.market_data import definitions as market_data
from ats_pipelines.defs.monitoring import definitions as monitoring

defs = dg.Definitions.merge(market_data.defs, monitoring.defs)
