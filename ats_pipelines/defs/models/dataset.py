"""Labelled datasets from the features table, and walk-forward splits that never leak.

A row is one bar of one symbol: its feature values (pivoted from the long ``features`` rows) and the label
``close[t+1] / close[t] - 1 > 0``, the direction of the next stored bar of the same symbol and timeframe.
Rows are ordered by time, so a split by time is a split by index.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import polars as pl
from psycopg import sql

from ats_pipelines.defs.features.assets import BAR_SOURCES
from ats_pipelines.resources import TimescaleResource
from ats_pipelines.sql_files import read_sql_beside

FEATURE_VALUES_SQL = read_sql_beside(__file__, "feature_values.sql")
CLOSES_SQL = read_sql_beside(__file__, "closes.sql")
LONG_SCHEMA = {"symbol": pl.String, "timestamp": pl.Datetime("us", "UTC"), "feature_name": pl.String,
               "feature_value": pl.Float64}
CLOSE_SCHEMA = {"symbol": pl.String, "timestamp": pl.Datetime("us", "UTC"), "close": pl.Float64}


class DatasetError(ValueError):
    """The dataset cannot support a training (no rows, too few timestamps for the folds)."""


def feature_matrix(timescale: TimescaleResource, timeframe: str, features: Sequence[str],
                   start: datetime | None = None, end: datetime | None = None,
                   symbols: Sequence[str] | None = None) -> pl.DataFrame:
    """``symbol, timestamp`` and one Float64 column per feature (in ``features`` order), for every bar that
    has all of them, sorted by time then symbol."""
    long = timescale.read_copy(FEATURE_VALUES_SQL, {
        "timeframe": timeframe, "features": list(features), "start": start, "end": end,
        "symbols": list(symbols) if symbols else None,
    }, LONG_SCHEMA)
    if long.height == 0:
        return pl.DataFrame(schema={"symbol": pl.String, "timestamp": pl.Datetime("us", "UTC"),
                                    **{f: pl.Float64 for f in features}})
    wide = long.pivot(on="feature_name", index=["symbol", "timestamp"], values="feature_value")
    missing = [f for f in features if f not in wide.columns]
    wide = wide.with_columns(pl.lit(None, pl.Float64).alias(f) for f in missing)
    return wide.select("symbol", "timestamp", *features).drop_nulls().sort("timestamp", "symbol")


def labelled(timescale: TimescaleResource, timeframe: str, features: Sequence[str],
             start: datetime | None = None, end: datetime | None = None,
             symbols: Sequence[str] | None = None) -> pl.DataFrame:
    """:func:`feature_matrix` with ``label`` (1 when the next bar closes higher) and ``next_timestamp`` (when
    the label became known); the last bar of each symbol has no label yet and is left out."""
    closes = timescale.read_copy(sql.SQL(CLOSES_SQL).format(bars=BAR_SOURCES[timeframe]), {
        "start": start, "end": None, "symbols": list(symbols) if symbols else None,
    }, CLOSE_SCHEMA).sort("symbol", "timestamp")
    labels = closes.with_columns(
        next_timestamp=pl.col("timestamp").shift(-1).over("symbol"),
        label=(pl.col("close").shift(-1).over("symbol") / pl.col("close") - 1 > 0).cast(pl.Int8),
    ).drop_nulls("label").select("symbol", "timestamp", "next_timestamp", "label")
    matrix = feature_matrix(timescale, timeframe, features, start, end, symbols)
    return matrix.join(labels, on=["symbol", "timestamp"], how="inner").sort("timestamp", "symbol")


@dataclass(frozen=True)
class Split:
    """Row indices (into a time-sorted dataset) of one training window and its test window."""

    name: str
    train: np.ndarray
    test: np.ndarray


def walk_forward(timestamps: pl.Series, folds: int, gap_bars: int, held_out_fraction: float) -> list[Split]:
    """Expanding-window walk-forward splits over time-sorted ``timestamps``, never shuffled.

    The last ``held_out_fraction`` of the distinct timestamps is the held-out period (split ``held_out``,
    trained on everything before it); the rest is cut into ``folds + 1`` blocks and fold k trains on
    blocks ``0..k-1`` and tests on block k. Every training window stops ``gap_bars`` distinct timestamps
    before its test window starts, so no training label (which looks one bar ahead) reaches a test bar.
    """
    distinct = timestamps.unique(maintain_order=True)
    n = distinct.len()
    held_out_start = n - max(1, int(round(n * held_out_fraction)))
    block = held_out_start // (folds + 1)
    if block <= gap_bars or folds < 1:
        raise DatasetError(f"{n} distinct bar times cannot make {folds} folds of more than {gap_bars} bars "
                           "plus a held-out period; use more data, fewer folds or a smaller gap")
    position = timestamps.search_sorted(distinct, side="left").to_numpy()  # first row of each time
    bounds = [*(k * block for k in range(1, folds + 1)), held_out_start]
    rows = timestamps.len()

    def row(t: int) -> int:
        return int(position[t]) if t < n else rows

    splits = []
    for k, test_start in enumerate(bounds, start=1):
        test_end = bounds[k] if k < len(bounds) else n
        name = f"fold_{k}" if k <= folds else "held_out"
        splits.append(Split(name, np.arange(0, row(test_start - gap_bars)), np.arange(row(test_start), row(test_end))))
    return splits
