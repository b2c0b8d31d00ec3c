"""The work behind the market-data assets: fetch a window per symbol, stream it into its table, roll up.

Each function takes a whole partition range: one request covers many days (up to 50,000 bars a page),
so a year's backfill of 100 symbols is one run of a few thousand requests, not 36,500 runs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

import polars as pl
from psycopg import sql

from ats_pipelines.ingest.columns import ColumnMap
from ats_pipelines.ingest.loader import IngestReport, ingest_pages
from ats_pipelines.ingest.occ import parse_occ
from ats_pipelines.resources import TimescaleResource
from ats_pipelines.resources.polygon import PolygonClient
from ats_pipelines.sql_files import read_sql_beside

DERIVE_BARS_SQL = read_sql_beside(__file__, "derive_bars.sql")
REFRESH_ROLLUP_SQL = read_sql_beside(__file__, "refresh_rollup.sql") + DERIVE_BARS_SQL
DELETE_ROLLUP_RANGE_SQL = read_sql_beside(__file__, "delete_rollup_range.sql")
ROLLUP_KIND_SQL = read_sql_beside(__file__, "rollup_kind.sql")
DELETE_STREAM_TICKS_SQL = read_sql_beside(__file__, "delete_stream_ticks.sql")
MARK_SPLITS_APPLIED_SQL = read_sql_beside(__file__, "mark_splits_applied.sql")
STORED_OPTION_TICKERS_SQL = read_sql_beside(__file__, "stored_option_tickers.sql")
ROLLUPS = {"stock_aggs_5m": "5 minutes", "stock_aggs_15m": "15 minutes", "stock_aggs_1h": "1 hour"}
TIMESPANS = {"1m": ("minute", 1), "1d": ("day", 1)}
BULK_LOAD_ROWS = 100_000


def window_ms(window: tuple[datetime, datetime]) -> tuple[int, int]:
    """The window as inclusive Unix-ms bounds, as the aggregates endpoint takes them."""
    return int(window[0].timestamp() * 1000), int(window[1].timestamp() * 1000) - 1


def load_bars(
    timescale: TimescaleResource,
    client: PolygonClient,
    column_map: ColumnMap,
    tickers: Iterable[str],
    timeframe: str,
    window: tuple[datetime, datetime],
    report: IngestReport,
    partition_key: str,
    extra: Callable[[str], Mapping[str, Any]] = lambda ticker: {},
    adjusted: bool | None = None,
) -> None:
    """Fetch ``timeframe`` bars of each ticker over the window and write them to ``column_map.table``.
    ``adjusted`` (stock bars) asks Polygon for split-adjusted or raw bars and fills the ``adjusted`` column;
    None leaves Polygon's default (adjusted) and the column out (crypto and options tables have none)."""
    timespan, multiplier = TIMESPANS[timeframe]
    start_ms, end_ms = window_ms(window)
    flag = {} if adjusted is None else {"adjusted": adjusted}
    pages = (
        ({"symbol": ticker, "timeframe": timeframe, "multiplier": multiplier, "timespan_unit": timespan,
          "source": "polygon", **flag, **extra(ticker)}, page)
        for ticker in tickers
        for page in client.aggregates(ticker, multiplier, timespan, start_ms, end_ms, adjusted=adjusted is not False)
    )
    inserted_before = report.rows_inserted
    ingest_pages(timescale, column_map, pages, report, window=window, partition_key=partition_key)
    if report.rows_inserted - inserted_before >= BULK_LOAD_ROWS:
        timescale.refresh_statistics(column_map.table)


def load_ticks(
    timescale: TimescaleResource,
    client: PolygonClient,
    kind: str,
    maps: Callable[[str], ColumnMap],
    tickers: Iterable[str],
    window: tuple[datetime, datetime],
    report: IngestReport,
    partition_key: str,
    finish: Callable[[pl.DataFrame], pl.DataFrame],
) -> None:
    """Fetch trades or quotes of each ticker over the window (ns bounds) and write them; where REST delivered
    rows, the stream's provisional rows of the window are removed (see sql/delete_stream_ticks.sql)."""
    start_ns, end_ns = (int(t.timestamp()) * 1_000_000_000 for t in window)
    delete_stream_rows = sql.SQL(DELETE_STREAM_TICKS_SQL).format(table=sql.Identifier(kind))
    for ticker in tickers:  # one ingest per ticker: crypto and stock trades map differently
        constants = {"symbol": ticker, "source": "polygon"}
        pages = ((constants, page) for page in client.ticks(kind, ticker, start_ns, end_ns))
        received = report.rows_received
        ingest_pages(timescale, maps(ticker), pages, report, window=window, partition_key=partition_key, finish=finish)
        if report.rows_received > received:
            report.stream_rows_superseded += timescale.execute(
                delete_stream_rows, {"symbol": ticker, "start": window[0], "end": window[1]})


def option_contracts(client: PolygonClient, underlying: str, window: tuple[datetime, datetime],
                     expiry_days: int, moneyness: float) -> list[str]:
    """Contracts of ``underlying`` listed at the window's start, expiring before its end + ``expiry_days``,
    with strikes within ``moneyness`` of the underlying's first daily close in the window."""
    start_ms, end_ms = window_ms(window)
    closes = [bar["c"] for page in client.aggregates(underlying, 1, "day", start_ms, end_ms) for bar in page
              if isinstance(bar.get("c"), int | float)]
    if not closes:
        return []
    spot = closes[0]
    until = (window[1] + timedelta(days=expiry_days)).date().isoformat()
    tickers = [
        c["ticker"] for page in client.option_contracts(underlying, window[0].date().isoformat(), until)
        for c in page if abs(float(c.get("strike_price", 0)) / spot - 1) <= moneyness
    ]
    return sorted(set(tickers))


def option_tickers_stored(timescale: TimescaleResource, underlyings: list[str], window: tuple[datetime, datetime]
                          ) -> list[str]:
    """The option contracts of ``underlyings`` that options_aggs holds bars of in the window: the contracts
    it selected, whose trades and quotes are then loaded too."""
    if not underlyings:
        return []
    found = timescale.read(STORED_OPTION_TICKERS_SQL,
                           {"underlyings": underlyings, "start": window[0], "end": window[1]})
    return found["symbol"].to_list() if found.height else []


def mark_splits_applied(timescale: TimescaleResource, symbols: list[str], window: tuple[datetime, datetime],
                        fetch_started: datetime) -> int:
    """Record as applied the pending splits of ``symbols`` whose whole stored pre-split history this load
    re-fetched (see sql/mark_splits_applied.sql); returns how many."""
    return timescale.execute(MARK_SPLITS_APPLIED_SQL, {"symbols": symbols, "start": window[0], "end": window[1],
                                                        "fetch_started": fetch_started})


def option_columns(ticker: str) -> dict[str, Any]:
    """The contract columns of options_aggs, parsed from the OCC ticker."""
    contract = parse_occ(ticker)
    return {"underlying": contract.underlying, "expiration": contract.expiration, "strike": float(contract.strike),
            "option_type": contract.option_type}


def refresh_rollups(timescale: TimescaleResource, symbols: list[str], window: tuple[datetime, datetime]) -> str:
    """Bring stock_aggs_5m/15m/1h up to date over the window: refresh the continuous aggregates under
    TimescaleDB, recompute the plain roll-up tables otherwise. Returns which of the two ran."""
    kind = timescale.read(ROLLUP_KIND_SQL)
    if kind.height and kind.item(0, 0) == "v":
        for view in ROLLUPS:
            timescale.execute_outside_transaction(
                sql.SQL("CALL refresh_continuous_aggregate({}, %(start)s, %(end)s)").format(sql.Literal(view)),
                {"start": window[0], "end": window[1]},
            )
        return "continuous_aggregates"
    for table, bucket in ROLLUPS.items():
        params = {"start": window[0], "end": window[1], "symbols": symbols, "bucket": bucket}
        rollup = sql.Identifier(table)
        timescale.execute_in_transaction(
            (sql.SQL(DELETE_ROLLUP_RANGE_SQL).format(rollup=rollup), params),
            (sql.SQL(REFRESH_ROLLUP_SQL).format(rollup=rollup), params),
        )
    return "sql_refresh"
