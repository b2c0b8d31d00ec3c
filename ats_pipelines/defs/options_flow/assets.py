"""Options-flow assets."""

from datetime import UTC, datetime, timedelta

import dagster as dg

from ats_pipelines.ingest.loader import IngestReport, ingest_pages
from ats_pipelines.ingest.unusual_whales_maps import FLOW_ALERTS, RAW_ALERTS_TABLE, alert_rows, raw_alert_rows
from ats_pipelines.resources import TimescaleResource, UnusualWhalesResource
from ats_pipelines.sql_files import read_sql_beside

LATEST_ALERT_SQL = read_sql_beside(__file__, "latest_alert.sql")
RECORD_COVERAGE_SQL = read_sql_beside(__file__, "record_flow_coverage.sql")
OVERLAP = timedelta(minutes=5)
FIRST_LOOKBACK = timedelta(days=1)


@dg.asset(
    group_name="options_flow", kinds={"unusualwhales", "timescaledb"}, pool="unusual_whales_api",
    description="Unusual Whales flow alerts since the newest stored one, with sentiment, premium type, days to "
    "expiration and trade type derived by documented rules (ingest/unusual_whales_maps.py); raw alerts kept in "
    "unusual_whales_raw_alerts. Each successful run records the time range it fetched completely "
    "(flow_ingest_coverage): flow features exist only for sessions covered.",
)
def unusual_whales_options(timescale: TimescaleResource,
                           unusual_whales: UnusualWhalesResource) -> dg.MaterializeResult:
    newest, fetched_at = timescale.read(LATEST_ALERT_SQL).item(0, 0), datetime.now(UTC)
    since = newest - OVERLAP if newest else fetched_at - FIRST_LOOKBACK
    report = IngestReport("unusual_whales_options")
    with unusual_whales.client() as client:
        pages = (({}, page) for page in client.flow_alerts(int(since.timestamp() * 1000)))
        ingest_pages(timescale, FLOW_ALERTS, pages, report, window=None, partition_key=None,
                     finish=alert_rows, companions=[(RAW_ALERTS_TABLE, raw_alert_rows)], source="unusual_whales")
    timescale.execute(RECORD_COVERAGE_SQL, {"from": since, "to": fetched_at})
    return dg.MaterializeResult(metadata={**report.as_metadata(), **client.stats.as_metadata(),
                                          "since": since.isoformat()})
