"""The options-flow domain."""

import dagster as dg

from ats_pipelines.defs.options_flow.assets import unusual_whales_options
from ats_pipelines.defs.options_flow.resources import resources
from ats_pipelines.defs.options_flow.schedules import flow_alerts_job, flow_alerts_schedule
from ats_pipelines.defs.ownership import DATA_PLATFORM, owned_by

defs = dg.Definitions(
    assets=dg.map_asset_specs(owned_by(DATA_PLATFORM), [unusual_whales_options]),
    jobs=[flow_alerts_job],
    schedules=[flow_alerts_schedule],
    resources=resources,
)
