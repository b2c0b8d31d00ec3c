"""The features domain."""

import dagster as dg

from ats_pipelines.defs.features.assets import features
from ats_pipelines.defs.features.resources import resources
from ats_pipelines.defs.features.schedules import features_job
from ats_pipelines.defs.ownership import QUANT_RESEARCH, owned_by

defs = dg.Definitions(
    assets=dg.map_asset_specs(owned_by(QUANT_RESEARCH), [features]),
    jobs=[features_job],
    resources=resources,
)
