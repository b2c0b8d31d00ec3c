"""A columnar copy of the technical features beside the table, for training reads: one Parquet file per timeframe
and day, written by the features asset right after the day's rows, with the bars' closes (the labels' input).

Set ``ATS_FEATURE_EXPORT_DIR`` to turn it on (off by default: training then reads the table). Files are
``<dir>/<timeframe>/<YYYY-MM-DD>.parquet``: ``symbol, timestamp, close`` and one Float64 column per technical
feature, every bar of the day (null where the table has no value: warm-up, undefined, too large), values
rounded to the table's 8 decimals, rows sorted by time then symbol (the training's order, so the days read in
order need no sort). Each file records the asset's code version and this layout's (:data:`LAYOUT`); a
reader takes the export only when every file it needs carries the current ones (:func:`read_days`). A file is
replaced by a rename, so a reader never sees half of one.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import UTC, date, datetime
from pathlib import Path

import polars as pl

from ats_pipelines.defs.features.rows import FEATURE_SCALE, MAX_ABS_VALUE
from ats_pipelines.defs.features.technical import NAMES
from ats_pipelines.market_calendar import sessions

EXPORT_DIR_ENV = "ATS_FEATURE_EXPORT_DIR"
VERSION_KEY = "ats_code_version"
LAYOUT = "2"  # the files' columns and row order: a change makes older files unreadable until re-exported


def export_dir() -> Path | None:
    """The export's directory (``ATS_FEATURE_EXPORT_DIR``), or None when the export is off."""
    raw = os.environ.get(EXPORT_DIR_ENV)
    return Path(raw) if raw else None


def day_path(directory: Path, timeframe: str, day: date) -> Path:
    return directory / timeframe / f"{day.isoformat()}.parquet"


def write_day(directory: Path, timeframe: str, day: tuple[datetime, datetime], bars: pl.DataFrame,
              wide: pl.DataFrame, version: str) -> Path:
    """Write the day's file from a partition's input ``bars`` and their :func:`compute_technical` frame ``wide``
    (same rows, lead-in first); bars before the day are left out."""
    stored = [pl.when(pl.col(n).is_finite() & (pl.col(n).abs() < MAX_ABS_VALUE)).then(pl.col(n).round(FEATURE_SCALE))
              .alias(n) for n in NAMES]
    frame = (wide.with_columns(bars["close"].cast(pl.Float64).alias("close"))
             .filter((pl.col("timestamp") >= day[0]) & (pl.col("timestamp") < day[1]))
             .select("symbol", "timestamp", "close", *stored)
             .sort("timestamp", "symbol"))
    path = day_path(directory, timeframe, day[0].date())
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    frame.write_parquet(partial, compression="lz4", metadata={VERSION_KEY: stamp(version)})
    partial.replace(path)
    return path


def stamp(version: str) -> str:
    """What a file written by the asset at code ``version`` records: the version and the layout."""
    return f"{version}/layout-{LAYOUT}"


def read_days(directory: Path, timeframe: str, features: Sequence[str], version: str,
              start: datetime, end: datetime | None) -> pl.DataFrame | None:
    """``symbol, timestamp, close`` and ``features`` of every exported bar from ``start`` (the day of ``end``
    included, so the last bars before it have their next bar), sorted by time then symbol, or None when the
    export cannot stand in for the table: a feature it does not hold, no file at or after ``start``'s day, a
    session between the first and the last needed day without its file, or a file of another code version
    or layout."""
    folder = directory / timeframe
    if not set(features) <= set(NAMES) or not folder.is_dir():
        return None
    first = start.astimezone(UTC).date()
    last = end.astimezone(UTC).date() if end else date.max
    days = sorted(d for d in (date.fromisoformat(p.stem) for p in folder.glob("*.parquet")) if first <= d <= last)
    if not days:
        return None
    if timeframe in {"1m", "1d"} and {s.day for s in sessions(days[0], days[-1])} - set(days):
        return None
    paths = [day_path(directory, timeframe, d) for d in days]
    if any(pl.read_parquet_metadata(p).get(VERSION_KEY) != stamp(version) for p in paths):
        return None
    return pl.scan_parquet(paths).select("symbol", "timestamp", "close", *features).collect()

