"""Features schedule: today's features once the after-close market-data run has landed the session."""

import dagster as dg

from ats_pipelines.defs.features.assets import features
from ats_pipelines.defs.market_data.schedules import session_schedule

features_job = dg.define_asset_job(
    "features_job", selection=[features],
    description="Features of one partition (or a range, as one run) from the stored bars and flow alerts.",
)


features_after_close_schedule = session_schedule(
    "features_after_close_schedule", features_job, "15 19 * * 1-5",
    "19:15 New York on weekdays, 45 minutes after the session's bars are ingested (after_close_schedule).")
