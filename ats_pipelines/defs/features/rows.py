"""Wide feature frames (a column per feature) into rows of the ``features`` table."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

import polars as pl

from ats_pipelines.defs.features.specs import FeatureSpec

# features.feature_value is NUMERIC(20,8): twelve digits before the point.
MAX_ABS_VALUE = 1e12
FEATURE_SCALE = 8


@dataclass(frozen=True)
class FeatureRows:
    """Rows for the features table and what was left out: NaN/infinite values are undefined (warm-up, no
    input) and never stored; finite values too large for the column are counted as ``too_large``."""

    frame: pl.DataFrame
    too_large: int


def feature_rows(wide: pl.DataFrame, specs: Sequence[FeatureSpec], timeframe: str, start: datetime) -> FeatureRows:
    """The rows of ``wide``'s bars at or after ``start`` (earlier bars are lead-in), one per defined value."""
    long = (
        wide.lazy()
        .filter(pl.col("timestamp") >= start)
        .unpivot(index=["symbol", "timestamp"], on=[s.name for s in specs], variable_name="feature_name",
                 value_name="feature_value")
        .filter(pl.col("feature_value").is_finite())
        .collect()
    )
    fits = pl.col("feature_value").abs() < MAX_ABS_VALUE
    frame = long.filter(fits).select(
        "timestamp", "symbol", "feature_name", "feature_value", pl.lit(timeframe).alias("timeframe"),
        pl.col("feature_name").replace_strict({s.name: s.group for s in specs}).alias("feature_group"),
    )
    return FeatureRows(frame, long.height - frame.height)


def stored_value(value: float, scale: int = FEATURE_SCALE) -> float:
    """What a ``NUMERIC(p, scale)`` column (``features.feature_value`` by default) gives back for ``value``:
    the writer sends the shortest text that round-trips (CSV COPY), PostgreSQL rounds it half away from zero
    to ``scale`` decimals, and reading it as float8 gives the nearest double. The live loop computes from, and
    scores, exactly what the batch reads."""
    return float(Decimal(repr(value)).quantize(Decimal(1).scaleb(-scale), ROUND_HALF_UP))
