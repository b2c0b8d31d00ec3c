"""Labelled datasets from the features table, and walk-forward splits that never leak.

A row is one bar of one symbol: its feature values (pivoted from the long ``features`` rows) and the label
``close[t+1] / close[t] - 1 > 0``, the direction of the next stored bar of the same symbol and timeframe.
Rows are ordered by time, so a split by time is a split by index.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import reduce

import numpy as np
import polars as pl
from psycopg import sql

from ats_pipelines.defs.features.assets import BAR_SOURCES, FEATURES_VERSION, bar_source_params
from ats_pipelines.defs.features.export import export_dir, read_days
from ats_pipelines.resources import TimescaleResource
from ats_pipelines.sql_files import read_sql_beside

FEATURE_SERIES_SQL = read_sql_beside(__file__, "feature_series.sql")
CLOSE_SERIES_SQL = read_sql_beside(__file__, "close_series.sql")
TIME = pl.Datetime("us", "UTC")


class DatasetError(ValueError):
    """The dataset cannot support a training (no rows, too few timestamps for the folds)."""


def feature_matrix(timescale: TimescaleResource, timeframe: str, features: Sequence[str],
                   start: datetime | None = None, end: datetime | None = None,
                   symbols: Sequence[str] | None = None) -> pl.DataFrame:
    """``symbol, timestamp`` and one Float64 column per feature (in ``features`` order), for every bar that
    has all of them, sorted by time then symbol."""
    series: dict[str, dict[str, tuple[np.ndarray, np.ndarray]]] = defaultdict(dict)
    for symbol, name, times, values in timescale.read_series(FEATURE_SERIES_SQL, {
        "timeframe": timeframe, "features": list(features), "start": start, "end": end,
        "symbols": list(symbols) if symbols else None,
    }, keys=2, arrays=2):
        series[symbol][name] = times, values
    blocks = [_aligned(symbol, by_name, features) for symbol, by_name in series.items()
              if len(by_name) == len(features)]
    if not blocks:
        return pl.DataFrame(schema={"symbol": pl.String, "timestamp": TIME, **{f: pl.Float64 for f in features}})
    return pl.concat(blocks).sort("timestamp", "symbol")


def _aligned(symbol: str, by_name: dict[str, tuple[np.ndarray, np.ndarray]], features: Sequence[str]
             ) -> pl.DataFrame:
    """One symbol's rows: the bar times every feature has, with each feature's value there."""
    common = reduce(lambda a, b: np.intersect1d(a, b, assume_unique=True), (t for t, _ in by_name.values()))
    columns = {}
    for name in features:
        times, values = by_name[name]
        order = np.argsort(times, kind="stable")
        columns[name] = values[order][np.searchsorted(times[order], common)]
    return pl.DataFrame({"symbol": pl.Series([symbol]).gather(np.zeros(len(common), np.int64)),
                         "timestamp": pl.Series(common).cast(TIME), **columns})


def labelled(timescale: TimescaleResource, timeframe: str, features: Sequence[str],
             start: datetime | None = None, end: datetime | None = None,
             symbols: Sequence[str] | None = None) -> pl.DataFrame:
    """:func:`feature_matrix` with ``label`` (1 when the next bar closes higher) and ``next_timestamp`` (when
    the label became known); the last bar of each symbol before ``end`` has no label (its next bar is past
    ``end`` or not there yet) and is left out. Read from the features' columnar export when it is on and can
    stand in for the table over the range (docs/models.md), else from the table."""
    directory = export_dir()
    exported = read_days(directory, timeframe, features, FEATURES_VERSION, start, end) \
        if directory is not None and start is not None else None
    if exported is not None:
        return _labelled_export(exported, features, start, end, symbols)
    rows = timescale.read_series(sql.SQL(CLOSE_SERIES_SQL).format(bars=BAR_SOURCES[timeframe]), {
        "start": start, "end": end, "symbols": list(symbols) if symbols else None,
        **bar_source_params(datetime.now(UTC)),
    }, keys=1, arrays=2)
    closes = pl.DataFrame({
        "symbol": pl.Series([symbol for symbol, times, _ in rows], dtype=pl.String).gather(
            np.repeat(np.arange(len(rows)), [len(times) for _, times, _ in rows])),
        "timestamp": pl.Series(np.concatenate([times for _, times, _ in rows] or [np.empty(0, np.int64)])).cast(TIME),
        "close": np.concatenate([c for *_, c in rows] or [np.empty(0)]),
    }).sort("symbol", "timestamp")
    labels = closes.with_columns(
        next_timestamp=pl.col("timestamp").shift(-1).over("symbol"),
        label=(pl.col("close").shift(-1).over("symbol") / pl.col("close") - 1 > 0).cast(pl.Int8),
    ).drop_nulls("label").select("symbol", "timestamp", "next_timestamp", "label")
    matrix = feature_matrix(timescale, timeframe, features, start, end, symbols)
    return matrix.join(labels, on=["symbol", "timestamp"], how="inner").sort("timestamp", "symbol")


def _labelled_export(exported: pl.DataFrame, features: Sequence[str], start: datetime, end: datetime | None,
                     symbols: Sequence[str] | None) -> pl.DataFrame:
    """:func:`labelled` from the export's rows (``symbol, timestamp, close`` and ``features``, sorted by time
    then symbol, as the export's layout guarantees: so every symbol's rows are in time order, and the result
    needs no sort)."""
    rows = exported.filter(pl.col("symbol").is_in(list(symbols))) if symbols else exported
    if end is not None:  # before the labels: the last bar before ``end`` takes none from after it
        rows = rows.filter(pl.col("timestamp") < end)
    in_range = pl.col("timestamp") >= start
    return (
        rows
        .with_columns(next_timestamp=pl.col("timestamp").shift(-1).over("symbol"),
                      label=(pl.col("close").shift(-1).over("symbol") / pl.col("close") - 1 > 0).cast(pl.Int8))
        .filter(in_range & pl.col("label").is_not_null())
        .drop_nulls(list(features))
        .select("symbol", "timestamp", *features, "next_timestamp", "label")
    )


@dataclass(frozen=True)
class Split:
    """Rows (slices of a time-sorted dataset, so windows are views, never copies) of one training window and
    its test window."""

    name: str
    train: slice
    test: slice

    @property
    def train_rows(self) -> int:
        """How many rows the training window holds."""
        return self.train.stop - self.train.start


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
        splits.append(Split(name, slice(0, row(test_start - gap_bars)), slice(row(test_start), row(test_end))))
    return splits
