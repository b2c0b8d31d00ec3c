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
from itertools import chain

import numpy as np
import polars as pl

from ats_pipelines.defs.features.assets import BAR_SCHEMA, read_bars
from ats_pipelines.defs.features.rows import FEATURE_SCALE, MAX_ABS_VALUE, stored_value
from ats_pipelines.defs.features.technical import NAMES, compute_technical
from ats_pipelines.market_calendar import in_regular_session
from ats_pipelines.resources import RedisResource, TimescaleResource, redis_keys
from ats_pipelines.resources.resp import encode
from ats_pipelines.resources.simulated_broker import BAR_LENGTH

_VALUES = ("high", "low", "close", "volume", "vwap")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class LiveFeatures:
    """The technical features of each completed bar of ``symbols`` (more are added as they appear)."""

    def __init__(self, timescale: TimescaleResource, symbols: Sequence[str], timeframe: str = "1m",
                 workers: int | None = 1) -> None:
        self.timescale, self.timeframe, self.workers = timescale, timeframe, workers
        self.symbols = list(dict.fromkeys(symbols))
        self.day: date | None = None
        self.windows: dict[str, dict[str, np.ndarray]] = {}  # per symbol: epoch-µs times and BAR_SCHEMA values
        self._scales: dict[str, int | None] | None = None

    def load(self, day: date) -> None:
        """Read the warm window of ``day`` for every known symbol: the asset's input for that partition."""
        start = datetime.combine(day, time(), UTC)
        bars = read_bars(self.timescale, self.timeframe, (start, start + timedelta(days=1)), self.symbols)
        self.windows = {s: _arrays(frame) for (s,), frame in bars.partition_by("symbol", as_dict=True).items()}
        self.day = day

    def in_session(self, timestamp: datetime) -> bool:
        """Whether the features carry a bar of this time: 1m features see the regular session only."""
        return self.timeframe != "1m" or in_regular_session(timestamp)

    def update(self, timestamp: datetime, bars: pl.DataFrame) -> pl.DataFrame:
        """Add the completed bars of one bar time (``symbol, high, low, close, volume, vwap``) and return
        their features: ``symbol``, ``timestamp`` and one column per technical feature, as stored (NaN where
        the asset stores nothing). A bar already in the window (a replay) replaces itself."""
        if not self.in_session(timestamp) or bars.height == 0:
            return _empty()
        if timestamp.date() != self.day:
            self.load(timestamp.date())
        unknown = [s for s in bars["symbol"].unique(maintain_order=True) if s not in self.windows]
        if unknown:
            self.symbols += [s for s in unknown if s not in self.symbols]
            self.load(timestamp.date())
        new = self._as_stored(bars.select("symbol", *(pl.col(c).cast(pl.Float64) for c in _VALUES)))
        at = _micros(timestamp)
        self._fill_gaps(timestamp, new["symbol"].to_list())
        for symbol, *values in new.iter_rows():
            self.windows[symbol] = _with_bar(self.windows.get(symbol), at, values)
        chosen = new["symbol"].to_list()
        arrays = [self.windows[s] for s in chosen]
        lengths = np.array([len(a["timestamp"]) for a in arrays])
        window = pl.DataFrame({
            "symbol": pl.Series(chosen, dtype=pl.String).gather(np.repeat(np.arange(len(chosen)), lengths)),
            "timestamp": pl.Series(np.concatenate([a["timestamp"] for a in arrays])).cast(BAR_SCHEMA["timestamp"]),
            **{c: np.concatenate([a[c] for a in arrays]) for c in _VALUES},
        })
        wide = compute_technical(window, self.workers).filter(pl.col("timestamp") == timestamp)
        return wide.with_columns(_as_stored(wide[name]) for name in NAMES)

    def _fill_gaps(self, timestamp: datetime, symbols: list[str]) -> None:
        """Re-read from the database the windows of the symbols whose previous minute of the session never came
        through the stream (a reconnect's gap, filled by the stream from REST), so their values stay the
        stored ones. A symbol without a trade in some minute costs one small read and changes nothing."""
        previous = timestamp - BAR_LENGTH[self.timeframe]
        if self.timeframe != "1m" or not in_regular_session(previous):
            return
        before = _micros(previous)
        gapped = [s for s in symbols if s in self.windows and self.windows[s]["timestamp"][-1] < before]
        if gapped:
            start = datetime.combine(timestamp.date(), time(), UTC)
            bars = read_bars(self.timescale, self.timeframe, (start, timestamp), gapped, only=True)
            for (symbol,), frame in bars.partition_by("symbol", as_dict=True).items():
                self.windows[symbol] = _arrays(frame)

    def _as_stored(self, bars: pl.DataFrame) -> pl.DataFrame:
        """The bars as ``stock_aggs`` keeps them (its NUMERIC scales), which is what the asset reads."""
        if self._scales is None:
            info = self.timescale.table_info("stock_aggs")
            self._scales = {c: info.column(c).numeric_scale for c in ("high", "low", "close", "vwap")}
        return bars.with_columns(_as_stored(bars[c], scale) for c, scale in self._scales.items() if scale is not None)

    def newest(self, symbol: str) -> datetime | None:
        """The time of the symbol's newest bar in the window."""
        window = self.windows.get(symbol)
        return EPOCH + timedelta(microseconds=int(window["timestamp"][-1])) if window else None


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
    newest = long.filter(pl.col("latest"))
    return redis.send_encoded(chain(  # one connection, one round trip per batch
        encode(long, ["ZADD", pl.col("history_key"), pl.col("epoch"), pl.col("member")],
               ["ZREMRANGEBYRANK", pl.col("history_key"), "0", str(-(history + 1))]),
        encode(newest, ["SET", pl.col("key"), pl.col("value"), "EX", str(ttl_seconds)]) if newest.height else ()))


def _arrays(frame: pl.DataFrame) -> dict[str, np.ndarray]:
    """One symbol's window as arrays: ``timestamp`` (epoch microseconds) and the values of BAR_SCHEMA."""
    return {"timestamp": frame["timestamp"].dt.epoch("us").to_numpy().copy(),
            **{c: frame[c].cast(pl.Float64).fill_null(np.nan).to_numpy().copy() for c in _VALUES}}


def _with_bar(window: dict[str, np.ndarray] | None, at: int, values: Sequence[float | None]) -> dict[str, np.ndarray]:
    """``window`` with the bar at ``at`` appended, or put in its place by time when the window already holds
    later bars (a replay after a restart)."""
    row = {"timestamp": at, **{c: np.nan if v is None else v for c, v in zip(_VALUES, values, strict=True)}}
    if not window:
        return {c: np.array([v], dtype=np.int64 if c == "timestamp" else np.float64) for c, v in row.items()}
    times = window["timestamp"]
    if at > times[-1]:
        return {c: np.append(window[c], v) for c, v in row.items()}
    i = int(np.searchsorted(times, at))
    same = i < len(times) and times[i] == at
    return {c: np.concatenate([window[c][:i], [v], window[c][i + same:]]).astype(window[c].dtype)
            for c, v in row.items()}


def _micros(at: datetime) -> int:
    return (at - EPOCH) // timedelta(microseconds=1)


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
