"""Asset checks of the market-data tables, evaluated by each materialization on the range it wrote.

* ``no_duplicate_keys`` — no natural key appears twice (the unique index says so; the check proves it).
* ``ohlc_sane`` — no stored bar breaks high >= open/close/low >= ... or has a price <= 0 or volume < 0.
* ``sessions_complete`` (stock_aggs) — every NYSE session of the range has 1m bars for every symbol.
  Early closes count their shorter session (coverage is bars / session minutes). A minute without a bar
  is not an error (no trade, no bar: lessons.md #2): it is reported as coverage, never invented.
"""

from __future__ import annotations

from datetime import datetime

import dagster as dg
from psycopg import sql

from ats_pipelines.market_calendar import sessions
from ats_pipelines.resources import TimescaleResource
from ats_pipelines.sql_files import read_sql_beside

BAR_QUALITY_SQL = read_sql_beside(__file__, "bar_quality.sql")
SESSION_BAR_COUNTS_SQL = read_sql_beside(__file__, "session_bar_counts.sql")

BAR_CHECKS = {
    "no_duplicate_keys": "No natural key appears twice in the materialized range.",
    "ohlc_sane": "Every bar in the range has high/low bounding open/close, prices > 0 and volume >= 0.",
}
SESSION_CHECK = {"sessions_complete": "Every NYSE session in the range has 1m bars for every symbol "
                                      "(early closes counted as short sessions)."}


def check_specs(asset_key: str, checks: dict[str, str]) -> list[dg.AssetCheckSpec]:
    return [dg.AssetCheckSpec(name, asset=asset_key, description=text) for name, text in checks.items()]


def bar_quality(timescale: TimescaleResource, table: str, symbols: list[str], window: tuple[datetime, datetime]
                ) -> list[dg.AssetCheckResult]:
    """Duplicate-key and OHLC checks of ``table`` over the window."""
    key = sql.SQL(", ").join(map(sql.Identifier, timescale.table_info(table).key))
    query = sql.SQL(BAR_QUALITY_SQL).format(table=sql.Identifier(table), key=key)
    row = timescale.read(query, {"start": window[0], "end": window[1], "symbols": symbols}).row(0, named=True)
    return [
        dg.AssetCheckResult(check_name="no_duplicate_keys", passed=row["duplicate_keys"] == 0,
                            metadata={"bars": row["bars"], "duplicate_keys": row["duplicate_keys"]}),
        dg.AssetCheckResult(check_name="ohlc_sane", passed=row["ohlc_violations"] == 0,
                            metadata={"bars": row["bars"], "violations": row["ohlc_violations"]}),
    ]


def sessions_complete(timescale: TimescaleResource, symbols: list[str], window: tuple[datetime, datetime],
                      adjusted: bool) -> dg.AssetCheckResult:
    """Compare stored 1m stock bars with the NYSE sessions of the window."""
    in_window = [s for s in sessions(window[0].date(), window[1].date()) if window[0] <= s.open < window[1]]
    if not in_window or not symbols:
        return dg.AssetCheckResult(check_name="sessions_complete", passed=True, metadata={"sessions": 0})
    counts = timescale.read(SESSION_BAR_COUNTS_SQL, {
        "symbols": symbols, "opens": [s.open for s in in_window], "closes": [s.close for s in in_window],
        "adjusted": adjusted,
    })
    minutes = {s.open: s.minutes for s in in_window}
    missing = [f"{symbol} {opened:%Y-%m-%d}" for symbol, opened, _, bars in counts.iter_rows() if bars == 0]
    expected = sum(minutes[opened] for opened in counts["open"].to_list())
    stored = int(counts["bars"].sum())
    return dg.AssetCheckResult(
        check_name="sessions_complete",
        passed=not missing,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={
            "sessions": len(in_window),
            "early_close_sessions": [f"{s.day}" for s in in_window if s.early_close],
            "missing_sessions": missing[:50],
            "missing_session_count": len(missing),
            "minute_coverage": round(stored / expected, 4) if expected else 1.0,
            "minutes_without_bar": expected - stored,
        },
    )
