"""The reference domain."""

import dagster as dg

from ats_pipelines.defs.reference.assets import market_holidays, market_status, news_articles, ticker_details
from ats_pipelines.defs.reference.resources import resources
from ats_pipelines.defs.reference.schedules import (
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
    assets=[ticker_details, market_holidays, market_status, news_articles],
    jobs=[market_status_job, news_job, holidays_job, ticker_details_job],
    schedules=[market_status_schedule, news_schedule, holidays_schedule, ticker_details_schedule],
    sensors=[new_tickers_sensor],
    resources=resources,
)
