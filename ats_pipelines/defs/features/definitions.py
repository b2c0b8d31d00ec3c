"""The features domain."""

import dagster as dg

from ats_pipelines.defs.features.assets import features
from ats_pipelines.defs.features.resources import resources
from ats_pipelines.defs.features.schedules import features_after_close_schedule, features_job

defs = dg.Definitions(assets=[features], jobs=[features_job], schedules=[features_after_close_schedule],
                      resources=resources)
