"""Asset checks of the market-data tables, evaluated by each materialization on the range it wrote.

* ``no_duplicate_keys`` — no natural key can appear twice: a valid unique index on exactly the key is in
  force (every write is an upsert on it). Checking the guarantee costs a catalog lookup, where counting
  distinct keys would cost a sort of the whole range on every materialization.
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
KEY_INDEX_SQL = read_sql_beside(__file__, "key_index.sql")
SESSION_BAR_COUNTS_SQL = read_sql_beside(__file__, "session_bar_counts.sql")

BAR_CHECKS = {
    "no_duplicate_keys": "No natural key appears twice in the materialized range.",
    "ohlc_sane": "Every bar in the range has high/low bounding open/close, prices > 0 and volume >= 0.",
}
SESSION_CHECK = {"sessions_complete": "Every NYSE session in the range has 1m bars for every symbol "
                                      "(early closes counted as short sessions)."}


def check_specs(asset_key: str, checks: dict[str, str], blocking: frozenset[str] | set[str] = frozenset()
                ) -> list[dg.AssetCheckSpec]:
    """The asset's check specs; those named in ``blocking`` stop the graph below the asset when they fail (its
    downstream steps in the run are skipped and automation waits for a passing materialization)."""
    return [dg.AssetCheckSpec(name, asset=asset_key, description=text, blocking=name in blocking)
            for name, text in checks.items()]


def bar_quality(timescale: TimescaleResource, table: str, symbols: list[str], window: tuple[datetime, datetime]
                ) -> list[dg.AssetCheckResult]:
    """Duplicate-key and OHLC checks of ``table`` over the window."""
    key = list(timescale.table_info(table).key)
    indexes = timescale.read(KEY_INDEX_SQL, {"table": table})
    key_index = [name for name, columns in indexes.iter_rows() if list(columns) == key]
    query = sql.SQL(BAR_QUALITY_SQL).format(table=sql.Identifier(table))
    row = timescale.read(query, {"start": window[0], "end": window[1], "symbols": symbols}).row(0, named=True)
    return [
        dg.AssetCheckResult(check_name="no_duplicate_keys", passed=bool(key_index),
                            metadata={"key": ", ".join(key), "unique_index": key_index[0] if key_index else "MISSING",
                                      "bars": row["bars"]}),
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
        "adjusted": adjusted, "start": window[0], "end": window[1],
    })
    stored = {(symbol, opened): bars for symbol, opened, bars in counts.iter_rows()}
    missing = [f"{symbol} {s.day}" for symbol in symbols for s in in_window if (symbol, s.open) not in stored]
    expected = len(symbols) * sum(s.minutes for s in in_window)
    stored_bars = sum(stored.values())
    return dg.AssetCheckResult(
        check_name="sessions_complete",
        passed=not missing,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={
            "sessions": len(in_window),
            "early_close_sessions": [f"{s.day}" for s in in_window if s.early_close],
            "missing_sessions": missing[:50],
            "missing_session_count": len(missing),
            "minute_coverage": round(stored_bars / expected, 4),
            "minutes_without_bar": expected - stored_bars,
        },
    )
