"""The Dagster code location: every domain under defs/, merged."""

import dagster as dg

from ats_pipelines.defs.automation import automation_sensor
from ats_pipelines.defs.cache import definitions as cache
from ats_pipelines.defs.features import definitions as features
from ats_pipelines.defs.market_data import definitions as market_data
from ats_pipelines.defs.models import definitions as models
from ats_pipelines.defs.monitoring import definitions as monitoring
from ats_pipelines.defs.options_flow import definitions as options_flow
from ats_pipelines.defs.reference import definitions as reference
from ats_pipelines.defs.trading import definitions as trading

defs = dg.Definitions.merge(market_data.defs, reference.defs, options_flow.defs, features.defs, models.defs,
                            trading.defs, cache.defs, monitoring.defs, dg.Definitions(sensors=[automation_sensor]))
