"""Reference-data assets, one per table; each run fetches what changed and upserts it."""

import os
from datetime import UTC, date, datetime, timedelta

import dagster as dg
import polars as pl

from ats_pipelines.defs.market_data.partitions import HISTORY_START
from ats_pipelines.ingest.columns import ColumnMap
from ats_pipelines.ingest.loader import IngestReport, ingest_pages, record_rejects
from ats_pipelines.ingest.polygon_reference_maps import (
    DIVIDENDS,
    NEWS_ARTICLES,
    STOCK_SPLITS,
    TICKER_DETAILS,
    UPCOMING_HOLIDAYS,
    calendar_holiday_rows,
    holiday_rows,
    market_status_rows,
)
from ats_pipelines.resources import PolygonResource, TimescaleResource, UniverseResource
from ats_pipelines.resources.http import ApiNotFoundError
from ats_pipelines.sql_files import read_sql_beside

LATEST_NEWS_SQL = read_sql_beside(__file__, "latest_news.sql")
SETTLE_SPLITS_SQL = read_sql_beside(__file__, "settle_splits_without_history.sql")
NEWS_OVERLAP = timedelta(hours=1)
REFERENCE = {"group_name": "reference", "kinds": {"polygon", "timescaledb"}}


class TickerDetailsConfig(dg.Config):
    """Which tickers to (re)load; empty means the stock universe."""

    tickers: list[str] = []


@dg.asset(**REFERENCE, description="Polygon ticker details of the universe and of tickers seen in news and flow "
          "(address and every unmapped field kept as JSONB).")
def ticker_details(context: dg.AssetExecutionContext, config: TickerDetailsConfig, timescale: TimescaleResource,
                   polygon: PolygonResource, universe: UniverseResource) -> dg.MaterializeResult:
    tickers = config.tickers or universe.stock_symbols()
    found, unknown = [], []
    with polygon.client() as client:
        for ticker in tickers:
            try:
                found.append(client.ticker_details(ticker))
            except ApiNotFoundError:
                unknown.append(ticker)
    report = IngestReport("ticker_details")
    ingest_pages(timescale, TICKER_DETAILS, [({"last_updated": datetime.now(UTC)}, found)], report,
                 window=None, partition_key=None)
    if unknown:
        context.log.warning(f"no ticker details for {', '.join(unknown)} (404)")
    return dg.MaterializeResult(metadata={**report.as_metadata(), **client.stats.as_metadata(),
                                          "unknown_tickers": unknown})


@dg.asset(**REFERENCE, description="Market holidays and early closes: Polygon's upcoming list, and past years "
          "from the NYSE calendar (exchange-calendars), one row per date and market (us_equity, us_options).")
def market_holidays(context: dg.AssetExecutionContext, timescale: TimescaleResource,
                    polygon: PolygonResource) -> dg.MaterializeResult:
    with polygon.client() as client:
        upcoming = client.upcoming_holidays()
    batch = UPCOMING_HOLIDAYS.map(upcoming)
    announced = holiday_rows(batch.rows) if batch.rows.height else batch.rows
    past = calendar_holiday_rows(date.fromisoformat(HISTORY_START).year, datetime.now(UTC).year)
    if announced.height:
        past = past.join(announced.select("date", "market"), on=["date", "market"], how="anti")
    rows = pl.concat([past, announced.select(past.columns)], how="vertical_relaxed") if announced.height else past
    result = timescale.write("market_holidays", rows)
    if batch.rejects:
        record_rejects(timescale, "market_holidays", batch.rejects, source="polygon", partition_key=None,
                       symbol=None)
    return dg.MaterializeResult(metadata={**result.as_metadata(), "announced_by_polygon": announced.height,
                                          "from_calendar": past.height, "rows_rejected": len(batch.rejects),
                                          **client.stats.as_metadata()})


@dg.asset(**REFERENCE, description="Snapshots of Polygon's market status for us_equity, us_options, forex and "
          "crypto, with the next NYSE open and close.")
def market_status(timescale: TimescaleResource, polygon: PolygonResource) -> dg.MaterializeResult:
    with polygon.client() as client:
        rows = market_status_rows(client.market_status())
    result = timescale.write("market_status", rows)
    return dg.MaterializeResult(metadata={**result.as_metadata(), **client.stats.as_metadata(),
                                          "statuses": dict(rows.select("market", "status").iter_rows())})


@dg.asset(**REFERENCE, description="Polygon news since the newest stored article (all pages), upserted by article "
          "id; tickers and keywords as arrays (GIN index on tickers).")
def news_articles(timescale: TimescaleResource, polygon: PolygonResource) -> dg.MaterializeResult:
    newest = timescale.read(LATEST_NEWS_SQL).item(0, 0)
    lookback = timedelta(days=int(os.environ.get("ATS_NEWS_LOOKBACK_DAYS") or 3))
    since = (newest - NEWS_OVERLAP) if newest else datetime.now(UTC) - lookback
    report = IngestReport("news_articles")
    with polygon.client() as client:
        pages = (({}, page) for page in client.news(since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")))
        ingest_pages(timescale, NEWS_ARTICLES, pages, report, window=None, partition_key=None)
    return dg.MaterializeResult(metadata={**report.as_metadata(), **client.stats.as_metadata(),
                                          "since": since.isoformat()})


def corporate_actions(timescale: TimescaleResource, polygon: PolygonResource, universe: UniverseResource,
                      column_map: ColumnMap, endpoint: str) -> dict[str, object]:
    """Every record of ``endpoint`` (a PolygonClient method taking a ticker) for each stock of the universe,
    written through ``column_map``; returns the run's metadata."""
    report = IngestReport(column_map.table)
    with polygon.client() as client:
        pages = (({}, page) for symbol in universe.stock_symbols() for page in getattr(client, endpoint)(symbol))
        ingest_pages(timescale, column_map, pages, report, window=None, partition_key=None)
    return {**report.as_metadata(), **client.stats.as_metadata()}


@dg.asset(**REFERENCE, description="Stock splits of the universe (Polygon /v3/reference/splits), keyed by symbol and "
          "execution date. A split executed on stored adjusted history is applied by split_adjustment_sensor "
          "(which re-fetches that history); history_adjusted_at records when.")
def stock_splits(timescale: TimescaleResource, polygon: PolygonResource,
                 universe: UniverseResource) -> dg.MaterializeResult:
    metadata = corporate_actions(timescale, polygon, universe, STOCK_SPLITS, "splits")
    settled = timescale.execute(SETTLE_SPLITS_SQL)
    return dg.MaterializeResult(metadata={**metadata, "splits_without_history_to_adjust": settled})


@dg.asset(**REFERENCE, description="Cash dividends of the universe (Polygon /v3/reference/dividends): ex, record, "
          "pay and declaration dates, amount, type and frequency, keyed by symbol, ex-date and type.")
def dividends(timescale: TimescaleResource, polygon: PolygonResource,
              universe: UniverseResource) -> dg.MaterializeResult:
    return dg.MaterializeResult(metadata=corporate_actions(timescale, polygon, universe, DIVIDENDS, "dividends"))
