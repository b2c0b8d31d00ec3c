"""Features job: a partition (or a range) on demand. The daily run needs no schedule: the asset's automation
condition materializes it once the session's bars have landed and passed their blocking checks."""

import dagster as dg

from ats_pipelines.defs.features.assets import features

features_job = dg.define_asset_job(
    "features_job", selection=[features],
    description="Features of one partition (or a range, as one run) from the stored bars and flow alerts.",
)
