"""Market-data assets, one per table, daily-partitioned; a backfill of any range is a single run by default
(ATS_BACKFILL_RUN_PARTITIONS cuts it into runs of k partitions)."""

import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import dagster as dg
from pydantic import Field

from ats_pipelines.defs.market_data.checks import (
    BAR_CHECKS,
    SESSION_CHECK,
    bar_quality,
    check_specs,
    sessions_complete,
)
from ats_pipelines.defs.market_data.loads import (
    ROLLUPS,
    load_bars,
    load_ticks,
    mark_splits_applied,
    option_columns,
    option_contracts,
    option_tickers_stored,
    refresh_rollups,
)
from ats_pipelines.defs.market_data.partitions import (
    backfill_policy,
    daily_partitions,
    new_york_window,
    partition_label,
    partition_window,
)
from ats_pipelines.ingest.loader import IngestReport
from ats_pipelines.ingest.polygon_maps import (
    CRYPTO_AGGS,
    CRYPTO_TRADES,
    OPTIONS_AGGS,
    QUOTES,
    STOCK_AGGS,
    TRADES,
    derived_trade_id,
    quote_rows,
)
from ats_pipelines.resources import PolygonResource, TimescaleResource, UniverseResource
from ats_pipelines.resources.http import RequestStats

MARKET_DATA = {
    "group_name": "market_data",
    "partitions_def": daily_partitions,
    "backfill_policy": backfill_policy(),
    "pool": "polygon_api",
}


def _result(context: dg.AssetExecutionContext, report: IngestReport, stats: RequestStats, started: float,
            checks: list[dg.AssetCheckResult] = (), **extra: object) -> dg.MaterializeResult:
    """Log the run's counts and return them, with the check results, as the materialization."""
    metadata = {"partitions": partition_label(context), **report.as_metadata(), **stats.as_metadata(),
                "seconds": round(time.monotonic() - started, 3), **extra}
    context.log.info(
        f"{report.table} {metadata['partitions']}: {metadata['rows_written']} rows written, "
        f"{report.rows_rejected} rejected, {stats.requests} requests, {stats.retries} retries"
    )
    for reason, count in report.reject_reasons.most_common(10):
        context.log.warning(f"{report.table}: {count} record(s) rejected: {reason} (kept in ingest_rejects)")
    return dg.MaterializeResult(metadata=metadata, check_results=list(checks))


class StockAggsConfig(dg.Config):
    """Run configuration of stock_aggs; the defaults are the scheduled load of the whole universe."""

    symbols: list[str] = Field(default=[], description="load only these symbols (empty: the stock universe)")
    adjusted_only: bool = Field(default=False, description="skip the raw bars (a split's re-fetch: raw bars stay)")


@dg.asset(
    **MARKET_DATA,
    kinds={"polygon", "timescaledb"},
    check_specs=check_specs("stock_aggs", {**BAR_CHECKS, **SESSION_CHECK}, blocking=set(SESSION_CHECK)),
    description="Stock bars of the universe from Polygon, 1m (extended hours 04:00-20:00 New York included) and 1d, "
    "split-adjusted, plus raw (unadjusted) bars of ATS_RAW_BAR_TIMEFRAMES (1d); a partition is a New York date. "
    "The 5m/15m/1h bars are rolled up from the 1m bars in the database (stock_aggs_rollups). A new split "
    "re-fetches the symbol's adjusted history (split_adjustment_sensor).",
)
def stock_aggs(context: dg.AssetExecutionContext, config: StockAggsConfig, timescale: TimescaleResource,
               polygon: PolygonResource, universe: UniverseResource) -> dg.MaterializeResult:
    started, window = time.monotonic(), new_york_window(partition_window(context))
    symbols, fetch_started = config.symbols or universe.stock_symbols(), datetime.now(UTC)
    loads = [(timeframe, True) for timeframe in ("1m", "1d")]
    loads += [] if config.adjusted_only else [(timeframe, False) for timeframe in universe.raw_timeframes()]

    def load(timeframe: str, adjusted: bool) -> IngestReport:
        part = IngestReport("stock_aggs")
        load_bars(timescale, client, STOCK_AGGS, symbols, timeframe, window, part, partition_label(context),
                  adjusted=adjusted)
        return part

    report = IngestReport("stock_aggs")
    # The loads run at once: the daily ones wait on the API while the minute one keeps the database busy.
    with polygon.client() as client, ThreadPoolExecutor(max_workers=len(loads)) as pool:
        for part in pool.map(lambda job: load(*job), loads):
            report.absorb(part)
    splits_applied = mark_splits_applied(timescale, symbols, window, fetch_started) if config.symbols else 0
    with ThreadPoolExecutor(max_workers=2) as pool:  # two scans of the range, on two connections at once
        quality = pool.submit(bar_quality, timescale, "stock_aggs", symbols, window)
        complete = pool.submit(sessions_complete, timescale, symbols, window, adjusted=True)
        checks = [*quality.result(), complete.result()]
    return _result(context, report, client.stats, started, checks, splits_applied=splits_applied)


@dg.multi_asset(
    name="stock_aggs_rollups",
    specs=[
        dg.AssetSpec(table, deps=[stock_aggs], group_name="market_data", kinds={"timescaledb"},
                     partitions_def=daily_partitions,
                     description=f"{bucket} stock bars rolled up from the 1m bars of stock_aggs: a TimescaleDB "
                     "continuous aggregate, or a table recomputed per partition on plain PostgreSQL.")
        for table, bucket in ROLLUPS.items()
    ],
    partitions_def=daily_partitions,
    backfill_policy=backfill_policy(),
)
def stock_aggs_rollups(context: dg.AssetExecutionContext, timescale: TimescaleResource, universe: UniverseResource):
    started, window = time.monotonic(), new_york_window(partition_window(context))
    refresh = refresh_rollups(timescale, universe.stock_symbols(), window)
    for table in ROLLUPS:
        yield dg.MaterializeResult(asset_key=table, metadata={
            "partitions": partition_label(context), "refresh": refresh, "seconds": round(time.monotonic() - started, 3),
        })


@dg.asset(
    **MARKET_DATA,
    kinds={"polygon", "timescaledb"},
    check_specs=check_specs("crypto_aggs", BAR_CHECKS),
    description="1-minute crypto bars (Polygon X: tickers, traded around the clock) with fractional volume.",
)
def crypto_aggs(context: dg.AssetExecutionContext, timescale: TimescaleResource, polygon: PolygonResource,
                universe: UniverseResource) -> dg.MaterializeResult:
    started, window, symbols = time.monotonic(), partition_window(context), universe.crypto_symbols()
    report = IngestReport("crypto_aggs")
    with polygon.client() as client:
        load_bars(timescale, client, CRYPTO_AGGS, symbols, "1m", window, report, partition_label(context))
    return _result(context, report, client.stats, started, bar_quality(timescale, "crypto_aggs", symbols, window))


@dg.asset(
    **MARKET_DATA,
    kinds={"polygon", "timescaledb"},
    check_specs=check_specs("options_aggs", BAR_CHECKS),
    description="Daily bars of near-the-money option contracts of the option underlyings; underlying, expiration, "
    "strike and type parsed from the OCC symbol.",
)
def options_aggs(context: dg.AssetExecutionContext, timescale: TimescaleResource, polygon: PolygonResource,
                 universe: UniverseResource) -> dg.MaterializeResult:
    started, window = time.monotonic(), partition_window(context)
    report = IngestReport("options_aggs")
    with polygon.client() as client:
        contracts = [c for underlying in universe.option_underlying_symbols()
                     for c in option_contracts(client, underlying, window, *universe.option_selection())]
        load_bars(timescale, client, OPTIONS_AGGS, contracts, "1d", window, report, partition_label(context),
                  extra=option_columns)
    checks = bar_quality(timescale, "options_aggs", contracts, window)
    return _result(context, report, client.stats, started, checks, contracts=len(contracts))


def tick_tickers(timescale: TimescaleResource, universe: UniverseResource, window: tuple[datetime, datetime]
                 ) -> list[str]:
    """The tick universe and the option contracts options_aggs selected (has bars of) in the window."""
    return [*universe.tick_symbols(), *option_tickers_stored(timescale, universe.option_underlying_symbols(), window)]


def tick_map(ticker: str):
    """The trades column map of a ticker: crypto trades have their own fields."""
    return CRYPTO_TRADES if ticker.startswith("X:") else TRADES


@dg.asset(
    **MARKET_DATA,
    kinds={"polygon", "timescaledb"},
    deps=[options_aggs],
    description="Trades (v3) of the tick universe and of the option contracts options_aggs selected, keyed by "
    "(symbol, time, exchange, trade id); options trades get a deterministic id, crypto trades use the "
    "exchange's timestamp.",
)
def trades(context: dg.AssetExecutionContext, timescale: TimescaleResource, polygon: PolygonResource,
           universe: UniverseResource) -> dg.MaterializeResult:
    started, report, window = time.monotonic(), IngestReport("trades"), partition_window(context)
    tickers = tick_tickers(timescale, universe, window)
    with polygon.client() as client:
        load_ticks(timescale, client, "trades", tick_map, tickers, window, report, partition_label(context),
                   finish=derived_trade_id)
    return _result(context, report, client.stats, started, tickers=len(tickers))


@dg.asset(
    **MARKET_DATA,
    kinds={"polygon", "timescaledb"},
    deps=[options_aggs],
    description="NBBO quotes (v3) of the tick universe and of the option contracts options_aggs selected, keyed "
    "by (symbol, time, sequence number).",
)
def quotes(context: dg.AssetExecutionContext, timescale: TimescaleResource, polygon: PolygonResource,
           universe: UniverseResource) -> dg.MaterializeResult:
    started, report, window = time.monotonic(), IngestReport("quotes"), partition_window(context)
    tickers = tick_tickers(timescale, universe, window)
    with polygon.client() as client:
        load_ticks(timescale, client, "quotes", lambda _: QUOTES, tickers, window, report, partition_label(context),
                   finish=quote_rows)
    return _result(context, report, client.stats, started, tickers=len(tickers))
