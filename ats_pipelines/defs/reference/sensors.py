"""Reference sensors: load the details of tickers that news or flow alerts mention and we do not know."""

import hashlib

import dagster as dg

from ats_pipelines.defs.reference.assets import ticker_details
from ats_pipelines.resources import TimescaleResource
from ats_pipelines.sql_files import read_sql_beside

UNKNOWN_TICKERS_SQL = read_sql_beside(__file__, "unknown_tickers.sql")
MAX_TICKERS_PER_RUN = 100


@dg.sensor(asset_selection=[ticker_details], minimum_interval_seconds=300,
           default_status=dg.DefaultSensorStatus.RUNNING)
def new_tickers_sensor(context: dg.SensorEvaluationContext, timescale: TimescaleResource):
    """Every 5 minutes: one ticker_details run for up to 100 newly seen tickers (one cheap query per tick)."""
    tickers = timescale.read(UNKNOWN_TICKERS_SQL, {"limit": MAX_TICKERS_PER_RUN})["ticker"].to_list()
    if not tickers:
        return dg.SkipReason("no unknown tickers in recent news or flow alerts")
    return dg.RunRequest(
        run_key="tickers-" + hashlib.blake2b(",".join(tickers).encode(), digest_size=8).hexdigest(),
        run_config={"ops": {"ticker_details": {"config": {"tickers": tickers}}}},
        tags={"ats/trigger": "new_tickers_sensor"},
    )
