"""Live features: the ``features`` asset's computation, run as each bar completes, over a warm window.

One code path, two clocks. For a UTC day the window holds exactly what the asset reads for that day's
partition (:func:`~ats_pipelines.defs.features.assets.read_bars`: each symbol's bars of the day after up to
``LEAD_IN_BARS`` earlier ones, 1m bars of the regular session only), read from the database when the day's
first bar arrives (or at start) and extended in memory by every completed bar. The values come from
:func:`~ats_pipelines.defs.features.technical.compute_technical` over that window and are kept as the
``features`` table stores them (:func:`~ats_pipelines.defs.features.rows.stored_value`), so a live value is
the value the asset stores for the same bar, and the model scores the same numbers on either clock.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta

import numpy as np
import polars as pl

from ats_pipelines.defs.features.assets import BAR_SCHEMA, read_bars
from ats_pipelines.defs.features.rows import FEATURE_SCALE, MAX_ABS_VALUE, stored_value
from ats_pipelines.defs.features.technical import NAMES, compute_technical
from ats_pipelines.market_calendar import in_regular_session
from ats_pipelines.resources import RedisResource, TimescaleResource, redis_keys
from ats_pipelines.resources.resp import encode

WINDOW_COLUMNS = list(BAR_SCHEMA)  # symbol, timestamp, high, low, close, volume, vwap


class LiveFeatures:
    """The technical features of each completed bar of ``symbols`` (more are added as they appear)."""

    def __init__(self, timescale: TimescaleResource, symbols: Sequence[str], timeframe: str = "1m",
                 workers: int | None = None) -> None:
        self.timescale, self.timeframe, self.workers = timescale, timeframe, workers
        self.symbols = list(dict.fromkeys(symbols))
        self.day: date | None = None
        self.windows: dict[str, pl.DataFrame] = {}
        self._scales: dict[str, int | None] | None = None

    def load(self, day: date) -> None:
        """Read the warm window of ``day`` for every known symbol: the asset's input for that partition."""
        start = datetime.combine(day, time(), UTC)
        bars = read_bars(self.timescale, self.timeframe, (start, start + timedelta(days=1)), self.symbols)
        self.windows = {s: frame.drop("symbol") for (s,), frame in bars.partition_by("symbol", as_dict=True).items()}
        self.day = day

    def in_session(self, timestamp: datetime) -> bool:
        """Whether the features carry a bar of this time: 1m features see the regular session only."""
        return self.timeframe != "1m" or in_regular_session(timestamp)

    def update(self, timestamp: datetime, bars: pl.DataFrame) -> pl.DataFrame:
        """Add the completed bars of one bar time (``symbol, high, low, close, volume, vwap``) and return
        their features: ``symbol``, ``timestamp`` and one column per technical feature, as stored (NaN where
        the asset stores nothing). A bar already in the window (a replay) replaces itself."""
        if not self.in_session(timestamp):
            return _empty()
        if timestamp.date() != self.day:
            self.load(timestamp.date())
        unknown = [s for s in bars["symbol"].unique(maintain_order=True) if s not in self.windows]
        if unknown:
            self.symbols += [s for s in unknown if s not in self.symbols]
            self.load(timestamp.date())
        new = self._as_stored(bars.with_columns(pl.lit(timestamp).cast(BAR_SCHEMA["timestamp"]).alias("timestamp"))
                              .select([pl.col(c).cast(t) for c, t in BAR_SCHEMA.items()]))
        for symbol, row in zip(new["symbol"], new.drop("symbol").iter_slices(1), strict=True):
            self.windows[symbol] = _with_bar(self.windows.get(symbol), row)
        chosen = new["symbol"].to_list()
        window = pl.concat([self.windows[s].with_columns(pl.lit(s).alias("symbol")) for s in chosen],
                           rechunk=True).select(WINDOW_COLUMNS)
        wide = compute_technical(window, self.workers).filter(pl.col("timestamp") == timestamp)
        return wide.with_columns(pl.col(NAMES).map_batches(_as_stored, return_dtype=pl.Float64))

    def _as_stored(self, bars: pl.DataFrame) -> pl.DataFrame:
        """The bars as ``stock_aggs`` keeps them (its NUMERIC scales), which is what the asset reads."""
        if self._scales is None:
            info = self.timescale.table_info("stock_aggs")
            self._scales = {c: info.column(c).numeric_scale for c in ("high", "low", "close", "vwap")}
        return bars.with_columns(pl.col(c).map_batches(lambda v, s=scale: _as_stored(v, s), return_dtype=pl.Float64)
                                 for c, scale in self._scales.items() if scale is not None)

    def newest(self, symbol: str) -> datetime | None:
        frame = self.windows.get(symbol)
        return frame["timestamp"][-1] if frame is not None and frame.height else None


def write_features(redis: RedisResource, wide: pl.DataFrame, timeframe: str, history: int = 100,
                   ttl_seconds: int = 3 * 86_400, latest: Sequence[bool] | None = None) -> int:
    """``feature:{symbol}:{name}:{timeframe}`` (when the bar is the symbol's newest: ``latest``) and
    ``feature_history:*`` (member ``<epoch>:<value>``, the newest ``history`` kept) of every defined value
    of ``wide``, in the format the feature cache writes; returns the number of Redis commands."""
    if wide.height == 0:
        return 0
    frame = wide.with_columns(pl.Series("latest", latest if latest is not None else [True] * wide.height))
    long = frame.unpivot(index=["symbol", "timestamp", "latest"], on=list(NAMES), variable_name="feature_name",
                         value_name="value").filter(pl.col("value").is_not_nan()).with_columns(
        pl.lit(timeframe).alias("timeframe"),
        (pl.col("timestamp").dt.epoch("us") / 1e6).cast(pl.String).alias("epoch"),
        pl.col("value").cast(pl.String))
    if long.height == 0:
        return 0
    parts = {"symbol": "symbol", "feature_name": "feature_name", "timeframe": "timeframe"}
    long = long.with_columns(redis_keys.FEATURE.column(long, **parts).alias("key"),
                             redis_keys.FEATURE_HISTORY.column(long, **parts).alias("history_key"),
                             pl.concat_str([pl.col("epoch"), pl.lit(":"), pl.col("value")]).alias("member"))
    sent = redis.send_encoded(encode(long, ["ZADD", pl.col("history_key"), pl.col("epoch"), pl.col("member")],
                                     ["ZREMRANGEBYRANK", pl.col("history_key"), "0", str(-(history + 1))]))
    newest = long.filter(pl.col("latest"))
    if newest.height:
        sent += redis.send_encoded(encode(newest, ["SET", pl.col("key"), pl.col("value"), "EX", str(ttl_seconds)]))
    return sent


def _with_bar(window: pl.DataFrame | None, bar: pl.DataFrame) -> pl.DataFrame:
    """``window`` with ``bar`` appended, or put in its place by time when the window already holds later bars."""
    if window is None or window.height == 0:
        return bar
    if bar["timestamp"][0] > window["timestamp"][-1]:
        return window.vstack(bar)
    return pl.concat([window.filter(pl.col("timestamp") != bar["timestamp"][0]), bar]).sort("timestamp")


def _as_stored(values: pl.Series, scale: int = FEATURE_SCALE) -> pl.Series:
    """What a NUMERIC column of ``scale`` keeps of each value (the features table by default); nothing (NaN)
    for undefined or too large ones, which the asset does not store."""
    array = values.cast(pl.Float64).fill_null(np.nan).to_numpy()
    out = np.full(len(array), np.nan)
    keep = np.flatnonzero(np.isfinite(array) & (np.abs(array) < MAX_ABS_VALUE))
    out[keep] = [stored_value(float(v), scale) for v in array[keep]]
    return pl.Series(values.name, out)


def _empty() -> pl.DataFrame:
    return pl.DataFrame(schema={"symbol": pl.String, "timestamp": BAR_SCHEMA["timestamp"],
                                **dict.fromkeys(NAMES, pl.Float64)})
