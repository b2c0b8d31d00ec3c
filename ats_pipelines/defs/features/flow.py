"""Options-flow features: Unusual Whales flow alerts summed per symbol and session, beside the price features.

Computed in the database (``sql/flow_features.sql``) at the timestamp of each day's 1d bar, from the alerts
created between the previous session's close and this session's close in New York (exchange calendar,
early closes included), so a value never counts an alert from after the close. A session that no successful
flow ingest covered (``flow_ingest_coverage``) has no flow features at all: missing data is not zero flow.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import polars as pl

from ats_pipelines.defs.features.specs import FeatureSpec
from ats_pipelines.market_calendar import sessions
from ats_pipelines.resources import TimescaleResource
from ats_pipelines.sql_files import read_sql_beside

FLOW_FEATURES_SQL = read_sql_beside(__file__, "flow_features.sql")
FLOW_TIMEFRAME = "1d"
COVERED = ("flow_covered",)  # set where a successful ingest covered the session; coverage counts on it
_WINDOW = {"source": "unusual_whales_options", "underlying": "symbol",
           "window": "previous session close <= created < session close (America/New_York)"}

FLOW: tuple[FeatureSpec, ...] = (
    FeatureSpec("flow_net_premium", "flow", "Bullish minus bearish premium of the session's flow alerts on the symbol.",
                "sum(premium where bullish) - sum(premium where bearish)", _WINDOW, needs=COVERED),
    FeatureSpec("flow_call_put_premium_ratio", "flow", "Call premium over put premium of the session's flow alerts; "
                "undefined without put premium.", "sum(premium where call) / sum(premium where put)", _WINDOW,
                needs=COVERED, always_defined=False),
    FeatureSpec("flow_alert_count", "flow", "Number of the session's flow alerts on the symbol.", "count(alerts)",
                _WINDOW, needs=COVERED),
)
SCHEMA = {"symbol": pl.String, "timestamp": pl.Datetime("us", "UTC"),
          **{s.name: pl.Float64 for s in FLOW}, "flow_covered": pl.Float64}


def compute_flow(timescale: TimescaleResource, window: tuple[datetime, datetime]) -> pl.DataFrame:
    """``symbol``, ``timestamp`` (of the 1d bar) and one column per flow feature, for the 1d bars in ``window``."""
    known = sessions(window[0].date() - timedelta(days=10), window[1].date())
    previous, current = known[:-1], known[1:]
    return timescale.read_copy(FLOW_FEATURES_SQL, {
        "start": window[0], "end": window[1],
        "days": [s.day for s in current],
        "flow_starts": [s.close for s in previous],
        "closes": [s.close for s in current],
    }, SCHEMA)
