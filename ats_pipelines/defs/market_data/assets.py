"""Market-data assets, one per table, daily-partitioned; a backfill of any range is a single run."""

import time

import dagster as dg

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
    option_columns,
    option_contracts,
    refresh_rollups,
)
from ats_pipelines.defs.market_data.partitions import daily_partitions, partition_label, partition_window
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
    "backfill_policy": dg.BackfillPolicy.single_run(),
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


@dg.asset(
    **MARKET_DATA,
    kinds={"polygon", "timescaledb"},
    check_specs=check_specs("stock_aggs", {**BAR_CHECKS, **SESSION_CHECK}),
    description="Split-adjusted stock bars of the universe, 1m and 1d, from Polygon. The 5m/15m/1h bars are "
    "rolled up from these in the database (stock_aggs_rollups).",
)
def stock_aggs(context: dg.AssetExecutionContext, timescale: TimescaleResource, polygon: PolygonResource,
               universe: UniverseResource) -> dg.MaterializeResult:
    started, window, symbols = time.monotonic(), partition_window(context), universe.stock_symbols()
    report = IngestReport("stock_aggs")
    with polygon.client() as client:
        for timeframe in ("1m", "1d"):
            load_bars(timescale, client, STOCK_AGGS, symbols, timeframe, window, report, partition_label(context),
                      extra=lambda _: {"adjusted": True})
    checks = [*bar_quality(timescale, "stock_aggs", symbols, window),
              sessions_complete(timescale, symbols, window, adjusted=True)]
    return _result(context, report, client.stats, started, checks)


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
    backfill_policy=dg.BackfillPolicy.single_run(),
)
def stock_aggs_rollups(context: dg.AssetExecutionContext, timescale: TimescaleResource, universe: UniverseResource):
    started, window = time.monotonic(), partition_window(context)
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
                     for c in option_contracts(client, underlying, window, universe.option_expiry_days,
                                               universe.option_moneyness)]
        load_bars(timescale, client, OPTIONS_AGGS, contracts, "1d", window, report, partition_label(context),
                  extra=option_columns)
    checks = bar_quality(timescale, "options_aggs", contracts, window)
    return _result(context, report, client.stats, started, checks, contracts=len(contracts))


@dg.asset(
    **MARKET_DATA,
    kinds={"polygon", "timescaledb"},
    description="Trades (v3) of the tick universe, keyed by (symbol, time, exchange, trade id); options trades get "
    "a deterministic id, crypto trades use the exchange's timestamp.",
)
def trades(context: dg.AssetExecutionContext, timescale: TimescaleResource, polygon: PolygonResource,
           universe: UniverseResource) -> dg.MaterializeResult:
    started, report = time.monotonic(), IngestReport("trades")
    with polygon.client() as client:
        load_ticks(timescale, client, "trades", lambda t: CRYPTO_TRADES if t.startswith("X:") else TRADES,
                   universe.tick_symbols(), partition_window(context), report, partition_label(context),
                   finish=derived_trade_id)
    return _result(context, report, client.stats, started)


@dg.asset(
    **MARKET_DATA,
    kinds={"polygon", "timescaledb"},
    description="NBBO quotes (v3) of the tick universe, keyed by (symbol, time, sequence number).",
)
def quotes(context: dg.AssetExecutionContext, timescale: TimescaleResource, polygon: PolygonResource,
           universe: UniverseResource) -> dg.MaterializeResult:
    started, report = time.monotonic(), IngestReport("quotes")
    with polygon.client() as client:
        load_ticks(timescale, client, "quotes", lambda _: QUOTES, universe.tick_symbols(), partition_window(context),
                   report, partition_label(context), finish=quote_rows)
    return _result(context, report, client.stats, started)
