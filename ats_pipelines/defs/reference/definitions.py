"""The reference domain."""

import dagster as dg

from ats_pipelines.defs.ownership import DATA_PLATFORM, owned_by
from ats_pipelines.defs.reference.assets import (
    dividends,
    market_holidays,
    market_status,
    news_articles,
    stock_splits,
    ticker_details,
)
from ats_pipelines.defs.reference.resources import resources
from ats_pipelines.defs.reference.schedules import (
    corporate_actions_job,
    corporate_actions_schedule,
    holidays_job,
    holidays_schedule,
    market_status_job,
    market_status_schedule,
    news_job,
    news_schedule,
    ticker_details_job,
    ticker_details_schedule,
)
from ats_pipelines.defs.reference.sensors import new_tickers_sensor

defs = dg.Definitions(
    assets=dg.map_asset_specs(owned_by(DATA_PLATFORM), [
        ticker_details,
        market_holidays,
        market_status,
        news_articles,
        stock_splits,
        dividends,
    ]),
    jobs=[market_status_job, news_job, holidays_job, ticker_details_job, corporate_actions_job],
    schedules=[
        market_status_schedule,
        news_schedule,
        holidays_schedule,
        ticker_details_schedule,
        corporate_actions_schedule,
    ],
    sensors=[new_tickers_sensor],
    resources=resources,
)
