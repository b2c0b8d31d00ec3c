"""The features asset: technical and options-flow features of every bar, point-in-time, a partition a day."""

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from functools import reduce

import dagster as dg
import polars as pl
from psycopg import sql
from pydantic import Field

from ats_pipelines.db.writer import WriteResult
from ats_pipelines.defs.automation import FLOW_ALERTS, after_split_refetch, follows_inputs
from ats_pipelines.defs.features.checks import (
    CHECKS,
    KEY,
    coverage,
    expected_counts,
    missing_sessions,
    no_non_finite_values,
)
from ats_pipelines.defs.features.export import export_dir, write_day
from ats_pipelines.defs.features.flow import FLOW, FLOW_TIMEFRAME, compute_flow
from ats_pipelines.defs.features.rows import FeatureRows, feature_rows
from ats_pipelines.defs.features.specs import FeatureSpec, code_version
from ats_pipelines.defs.features.technical import LEAD_IN_BARS, TECHNICAL, compute_technical
from ats_pipelines.defs.features.versions import record_versions, spec_versions
from ats_pipelines.defs.market_data.checks import check_specs
from ats_pipelines.defs.market_data.partitions import (
    HISTORY_START,
    backfill_policy,
    daily_partitions,
    day_windows,
    partition_label,
    partition_window,
)
from ats_pipelines.market_calendar import REGULAR_HOURS_SQL, early_close_days
from ats_pipelines.resources import TimescaleResource, UniverseResource
from ats_pipelines.sql_files import read_sql_beside

BARS_SQL = read_sql_beside(__file__, "bars_with_lead_in.sql")
REGISTER_SQL = read_sql_beside(__file__, "register_feature.sql")
RETIRE_SQL = read_sql_beside(__file__, "retire_features.sql")
ALL_FEATURES: tuple[FeatureSpec, ...] = (*TECHNICAL, *FLOW)
FEATURES_VERSION = code_version(ALL_FEATURES, LEAD_IN_BARS)
DEFAULT_TIMEFRAMES = "1m,1d"
# The lead-in declared to Dagster: a partition reads the bars of the days before it, so a corrected bar there
# marks its features stale. Five days hold the 1m lead-in (600 bars, about 1.5 sessions) across a weekend and
# a holiday; the 1d lead-in (600 sessions) reaches further than any correction (the weekly re-fetch covers 7
# days, a split re-fetch recomputes its own partitions), so it is left out of the mapping.
LEAD_IN_DAYS = 5
LEAD_IN_MAPPING = dg.TimeWindowPartitionMapping(start_offset=-LEAD_IN_DAYS, allow_nonexistent_upstream_partitions=True)
# Where each timeframe's adjusted bars live: stock_aggs itself, or its roll-ups (tables or continuous aggregates).
# Minute features see the regular session only (Polygon's extended-hours bars are thin and sparse); every source
# takes the parameters of bar_source_params. The roll-ups aggregate all 1m bars, as Polygon's own 5m/1h bars do.
BAR_SOURCES = {
    "1m": sql.SQL("(SELECT * FROM stock_aggs WHERE timeframe = '1m' AND adjusted AND {})").format(
        sql.SQL(REGULAR_HOURS_SQL)),
    "1d": sql.SQL("(SELECT * FROM stock_aggs WHERE timeframe = '1d' AND adjusted)"),
    **{tf: sql.SQL("(SELECT * FROM {} WHERE adjusted)").format(sql.Identifier(f"stock_aggs_{tf}"))
       for tf in ("5m", "15m", "1h")},
}
BAR_SCHEMA = {"symbol": pl.String, "timestamp": pl.Datetime("us", "UTC"), "high": pl.Float64, "low": pl.Float64,
              "close": pl.Float64, "volume": pl.Float64, "vwap": pl.Float64}


class FeaturesConfig(dg.Config):
    """Run configuration of the features asset."""

    timeframes: str | None = Field(
        default=None, description="comma-separated bar timeframes (1m, 1d, 5m, 15m, 1h); defaults to "
        "ATS_FEATURE_TIMEFRAMES, then 1m,1d")

    def timeframe_list(self) -> list[str]:
        raw = self.timeframes or os.environ.get("ATS_FEATURE_TIMEFRAMES") or DEFAULT_TIMEFRAMES
        chosen = list(dict.fromkeys(t.strip() for t in raw.split(",") if t.strip()))
        unknown = [t for t in chosen if t not in BAR_SOURCES]
        if unknown or not chosen:
            raise ValueError(f"unknown feature timeframe(s) {unknown or raw!r}; choose from {', '.join(BAR_SOURCES)}")
        return chosen


@dataclass(frozen=True)
class Part:
    """The rows of one timeframe (or of the flow features) and the counts coverage expects of them."""

    rows: FeatureRows
    expected: pl.DataFrame
    bars_read: int
    missing_sessions: tuple[str, ...] = ()
    timeframe: str = FLOW_TIMEFRAME
    computed: tuple[pl.DataFrame, pl.DataFrame] | None = None  # technical: the input bars and compute_technical's


@dg.asset(
    group_name="features",
    partitions_def=daily_partitions,
    backfill_policy=backfill_policy(),
    deps=[dg.AssetDep("stock_aggs", partition_mapping=LEAD_IN_MAPPING), "unusual_whales_options"],
    kinds={"python", "talib", "timescaledb"},
    code_version=FEATURES_VERSION,
    check_specs=check_specs("features", CHECKS, blocking={"coverage"}),
    automation_condition=(follows_inputs(ignore=FLOW_ALERTS) | after_split_refetch()).with_label(
        "after its session's bars (eager, blocking checks passed), or after a split re-fetch of them"),
    description="Point-in-time features of every adjusted stock bar: TA-Lib's indicators (trend, momentum, "
    "volatility, volume) over each symbol's consecutive bars of each timeframe, and options-flow features "
    "(Unusual Whales alerts up to the session's close) at each 1d bar. A row at t uses bars up to t only; "
    f"each partition reads {LEAD_IN_BARS} earlier bars so its values equal a whole-history computation.",
)
def features(context: dg.AssetExecutionContext, config: FeaturesConfig, timescale: TimescaleResource,
             universe: UniverseResource) -> dg.MaterializeResult:
    started, window, timeframes = time.monotonic(), partition_window(context), config.timeframe_list()
    changed = register_features(timescale, ALL_FEATURES)
    symbols = universe.stock_symbols()
    days = [materialize_day(timescale, day, timeframes, symbols) for day in day_windows(window)]
    result = reduce(WriteResult.plus, (d.result for d in days))
    expected = pl.concat([d.expected for d in days]).group_by(KEY).agg(pl.col("expected").sum())
    checks = [no_non_finite_values(timescale, window, timeframes),
              coverage(timescale, expected, window, timeframes, [m for d in days for m in d.missing_sessions])]
    by_group = {g: sum(d.by_group.get(g, 0) for d in days) for g in sorted({g for d in days for g in d.by_group})}
    rows = sum(by_group.values())
    context.log.info(f"features {partition_label(context)}: {rows} rows ({by_group}) in {len(days)} day(s), "
                     f"{result.inserted} inserted, {result.updated} updated, {result.deleted} deleted")
    return dg.MaterializeResult(check_results=checks, metadata={
        "partitions": partition_label(context),
        "time_range": f"{window[0].isoformat()} .. {window[1].isoformat()}",
        "timeframes": ", ".join(timeframes),
        "rows": rows,
        **{f"rows_{group}": count for group, count in by_group.items()},
        **result.as_metadata(),
        "bars_read": sum(d.bars_read for d in days),
        "values_too_large_dropped": sum(d.too_large for d in days),
        "definitions_changed": changed,
        "lead_in_bars": LEAD_IN_BARS,
        "seconds": round(time.monotonic() - started, 3),
    })


@dataclass(frozen=True)
class DayWritten:
    """What one day of a run wrote: its write, the counts coverage expects, rows per group, bars read, and the
    sessions of universe symbols without bars."""

    result: WriteResult
    expected: pl.DataFrame
    by_group: dict[str, int]
    bars_read: int
    too_large: int
    missing_sessions: tuple[str, ...]


def materialize_day(timescale: TimescaleResource, day: tuple[datetime, datetime], timeframes: list[str],
                    symbols: Sequence[str]) -> DayWritten:
    """Compute and replace one day's features of ``timeframes`` and record their versions: a range run holds
    one day in memory at a time."""
    parts = [technical_part(timescale, tf, day, symbols) for tf in timeframes]
    if FLOW_TIMEFRAME in timeframes:
        parts.append(flow_part(timescale, day))
    rows = pl.concat([p.rows.frame for p in parts])
    result = timescale.replace_range("features", rows, *day, match={"timeframe": timeframes})
    for timeframe in timeframes:
        record_versions(timescale, timeframe,
                        spec_versions((*TECHNICAL, *(FLOW if timeframe == FLOW_TIMEFRAME else ()))), day)
    if (directory := export_dir()) is not None:  # after the table's commit: a file never runs ahead of its rows
        for part in parts:
            if part.computed is not None:
                write_day(directory, part.timeframe, day, *part.computed, FEATURES_VERSION)
    return DayWritten(result, pl.concat([p.expected for p in parts]),
                      dict(rows.group_by("feature_group").len().iter_rows()),
                      sum(p.bars_read for p in parts), sum(p.rows.too_large for p in parts),
                      tuple(f"{p.timeframe} {m}" for p in parts for m in p.missing_sessions))


def register_features(timescale: TimescaleResource, specs: tuple[FeatureSpec, ...]) -> list[str]:
    """Upsert every spec into feature_metadata (and retire the names no longer defined); returns the names
    whose row was new or changed."""
    counts = timescale.execute_in_transaction(
        *((REGISTER_SQL, s.metadata_row()) for s in specs),
        (RETIRE_SQL, {"names": [s.name for s in specs]}),
    )
    return [s.name for s, count in zip(specs, counts[:-1], strict=True) if count]


def bar_source_params(until: datetime) -> dict[str, object]:
    """The parameters every :data:`BAR_SOURCES` relation takes, for bars up to ``until``."""
    return {"early_closes": early_close_days(date.fromisoformat(HISTORY_START).year, until.year)}


def read_bars(timescale: TimescaleResource, timeframe: str, window: tuple[datetime, datetime],
              symbols: Sequence[str] = (), only: bool = False) -> pl.DataFrame:
    """The timeframe's bars in ``window`` of every symbol with bars there (and of ``symbols``; with ``only``, of
    ``symbols`` alone), after up to LEAD_IN_BARS earlier ones: the input of a partition, and the live loop's
    warm window."""
    query = sql.SQL(BARS_SQL).format(bars=BAR_SOURCES[timeframe])
    params = {"start": window[0], "end": window[1], "lead_in": LEAD_IN_BARS, "symbols": list(symbols),
              "only": only, **bar_source_params(window[1])}
    return timescale.read_copy(query, params, BAR_SCHEMA)


def technical_part(timescale: TimescaleResource, timeframe: str, window: tuple[datetime, datetime],
                   universe: Sequence[str] = ()) -> Part:
    """One timeframe's rows from the bars of the window's symbols and of ``universe``: a universe symbol with
    earlier bars but none in a session of the window fails coverage (the calendar says its bars exist)."""
    bars = read_bars(timescale, timeframe, window, universe)
    wide = compute_technical(bars)
    return Part(feature_rows(wide, TECHNICAL, timeframe, window[0]),
                expected_counts(bars, TECHNICAL, timeframe, window[0]), bars.height,
                tuple(missing_sessions(bars, window)), timeframe, (bars, wide))


def flow_part(timescale: TimescaleResource, window: tuple[datetime, datetime]) -> Part:
    wide = compute_flow(timescale, window)
    return Part(feature_rows(wide, FLOW, FLOW_TIMEFRAME, window[0]),
                expected_counts(wide, FLOW, FLOW_TIMEFRAME, window[0]), wide.height)
