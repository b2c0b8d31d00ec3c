"""Asset checks of the features table, evaluated by each materialization on the range it wrote.

* ``no_non_finite_values`` — no stored value is NaN or infinite (NUMERIC could hold them).
* ``coverage`` (blocking) — every symbol with bars in the range has every always-defined feature on every bar
  past the feature's warm-up whose inputs are present, and nothing more: the stored counts equal the counts the
  input bars call for, computed independently of the feature values; and every symbol read (lead-in included)
  has bars in every NYSE session of the range, as the exchange calendar says, so a missing session of bars
  fails the check instead of shrinking what is expected. A failure stops signals and orders of the partition.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import dagster as dg
import polars as pl

from ats_pipelines.defs.features.specs import FeatureSpec
from ats_pipelines.market_calendar import NEW_YORK, sessions
from ats_pipelines.resources import TimescaleResource
from ats_pipelines.sql_files import read_sql_beside

NON_FINITE_SQL = read_sql_beside(__file__, "non_finite_values.sql")
STORED_COUNTS_SQL = read_sql_beside(__file__, "stored_feature_counts.sql")

CHECKS = {
    "no_non_finite_values": "No stored feature value in the range is NaN or infinite.",
    "coverage": "Every symbol read has bars in every NYSE session of the range, and every feature on every bar "
                "after its warm-up (features that data can leave undefined are counted, not required).",
}
KEY = ["symbol", "timeframe", "feature_name"]


def expected_counts(inputs: pl.DataFrame, specs: Sequence[FeatureSpec], timeframe: str, start: datetime
                    ) -> pl.DataFrame:
    """``symbol, timeframe, feature_name, expected``: how many rows each always-defined feature must have
    from ``inputs`` (one symbol's rows consecutive, lead-in first): bars at or after ``start`` at least
    ``warmup`` rows into the symbol's input whose ``needs`` columns are present."""
    required = [s for s in specs if s.always_defined]
    if inputs.height == 0 or not required:
        return pl.DataFrame(schema={"symbol": pl.String, "timeframe": pl.String, "feature_name": pl.String,
                                    "expected": pl.Int64})
    position = pl.int_range(pl.len()).over("symbol")
    return (
        inputs.with_columns(_position=position)
        .filter(pl.col("timestamp") >= start)
        .group_by("symbol")
        .agg(((pl.col("_position") >= s.warmup) & pl.all_horizontal(pl.lit(True), *(pl.col(c).is_not_null()
                                                                                  for c in s.needs)))
             .sum().cast(pl.Int64).alias(s.name) for s in required)
        .unpivot(index="symbol", variable_name="feature_name", value_name="expected")
        .with_columns(pl.lit(timeframe).alias("timeframe"))
        .select(*KEY, "expected")
    )


def missing_sessions(bars: pl.DataFrame, window: tuple[datetime, datetime]) -> list[str]:
    """``SYMBOL YYYY-MM-DD`` for every NYSE session opening in ``window`` in which a symbol of ``bars`` (lead-in
    included) has no bar: the calendar, not the bars read, says which sessions must be there."""
    days = [s.day for s in sessions(window[0].date(), window[1].date()) if window[0] <= s.open < window[1]]
    if not days or bars.height == 0:
        return []
    present = set(bars.select("symbol", pl.col("timestamp").dt.convert_time_zone(str(NEW_YORK)).dt.date())
                  .unique().iter_rows())
    return [f"{symbol} {day}" for symbol in sorted(bars["symbol"].unique()) for day in days
            if (symbol, day) not in present]


def no_non_finite_values(timescale: TimescaleResource, window: tuple[datetime, datetime], timeframes: list[str]
                         ) -> dg.AssetCheckResult:
    found = timescale.read(NON_FINITE_SQL, {"start": window[0], "end": window[1], "timeframes": timeframes}).item()
    return dg.AssetCheckResult(check_name="no_non_finite_values", passed=found == 0, metadata={"non_finite": found})


def coverage(timescale: TimescaleResource, expected: pl.DataFrame, window: tuple[datetime, datetime],
             timeframes: list[str], missing: Sequence[str] = ()) -> dg.AssetCheckResult:
    """Compare the stored counts with ``expected`` (from :func:`expected_counts`); ``missing`` lists the
    sessions without bars (:func:`missing_sessions`)."""
    stored = timescale.read(STORED_COUNTS_SQL, {"start": window[0], "end": window[1], "timeframes": timeframes})
    stored = stored.cast({"stored": pl.Int64}) if stored.height else pl.DataFrame(
        schema={"symbol": pl.String, "timeframe": pl.String, "feature_name": pl.String, "stored": pl.Int64})
    compared = expected.join(stored, on=KEY, how="left").with_columns(pl.col("stored").fill_null(0))
    wrong = compared.filter(pl.col("stored") != pl.col("expected")).sort(KEY)
    return dg.AssetCheckResult(
        check_name="coverage",
        passed=wrong.height == 0 and not missing,
        metadata={
            "missing_sessions": len(missing),
            "first_missing_sessions": list(missing[:20]),
            "symbols": compared["symbol"].n_unique(),
            "rows_expected": int(compared["expected"].sum()),
            "mismatches": wrong.height,
            "first_mismatches": [f"{r['symbol']} {r['timeframe']} {r['feature_name']}: stored {r['stored']}, "
                                 f"expected {r['expected']}" for r in wrong.head(20).iter_rows(named=True)],
        },
    )
