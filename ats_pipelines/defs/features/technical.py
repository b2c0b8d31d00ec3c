"""Technical features: their specs and their computation over each symbol's consecutive bars.

The parameters and definitions are TA-Lib's (defaults included), and the values come from TA-Lib's own C
kernels, so anyone can check a stored value against TA-Lib. Every feature is scale-free, the way qlib's
Alpha158 normalises: a price level (moving average, MACD, band, ATR) is divided by the bar's close, and the
name says so (``sma_20_vs_close`` = SMA / close - 1, ``atr_14_over_close`` = ATR / close, ``bb_percent_b_20_2``,
``bb_width_20_2``). So a split, which scales every earlier price by one factor, leaves every value unchanged,
and a pooled model learns patterns rather than price levels. The kernels release the GIL: symbols are
spread over a thread per core, which is what makes this faster than the usual one-core TA-Lib loop.
A value exists only where TA-Lib returns one (no warm-up values) and only if it is finite.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import polars as pl
import talib

from ats_pipelines.defs.features.specs import FeatureSpec

SAMPLE = np.sqrt(20 / 19)  # population -> sample standard deviation over 20 values

TECHNICAL: tuple[FeatureSpec, ...] = (
    FeatureSpec("return_1", "momentum", "Simple return over one bar.", "close[t] / close[t-1] - 1  (TA-Lib ROCP)",
                {"timeperiod": 1}, warmup=1),
    FeatureSpec("log_return_1", "momentum", "Log return over one bar.", "ln(close[t] / close[t-1])",
                {"timeperiod": 1}, warmup=1),
    FeatureSpec("sma_20_vs_close", "trend", "Simple moving average of the close, relative to the close.",
                "TA-Lib SMA(close) / close - 1", {"timeperiod": 20}, warmup=19),
    FeatureSpec("sma_50_vs_close", "trend", "Simple moving average of the close, relative to the close.",
                "TA-Lib SMA(close) / close - 1", {"timeperiod": 50}, warmup=49),
    FeatureSpec("ema_12_vs_close", "trend", "Exponential moving average of the close (seeded with the SMA), "
                "relative to the close.", "TA-Lib EMA(close) / close - 1, k = 2 / (n + 1)", {"timeperiod": 12},
                warmup=11),
    FeatureSpec("ema_26_vs_close", "trend", "Exponential moving average of the close (seeded with the SMA), "
                "relative to the close.", "TA-Lib EMA(close) / close - 1, k = 2 / (n + 1)", {"timeperiod": 26},
                warmup=25),
    FeatureSpec("rsi_14", "momentum", "Relative strength index with Wilder smoothing (0-100).", "TA-Lib RSI(close)",
                {"timeperiod": 14}, warmup=14),
    FeatureSpec("macd_12_26_9_over_close", "trend", "MACD line in units of the close.",
                "TA-Lib MACD(close): (EMA(fast) - EMA(slow)) / close",
                {"fastperiod": 12, "slowperiod": 26, "signalperiod": 9}, warmup=33),
    FeatureSpec("macd_signal_12_26_9_over_close", "trend", "MACD signal line in units of the close.",
                "TA-Lib MACD(close): EMA(signal) of the line / close",
                {"fastperiod": 12, "slowperiod": 26, "signalperiod": 9}, warmup=33),
    FeatureSpec("macd_hist_12_26_9_over_close", "trend", "MACD histogram in units of the close.",
                "TA-Lib MACD(close): (line - signal) / close",
                {"fastperiod": 12, "slowperiod": 26, "signalperiod": 9}, warmup=33),
    FeatureSpec("bb_percent_b_20_2", "volatility", "Where the close sits in the Bollinger bands (0 lower, 1 upper).",
                "TA-Lib BBANDS(close), SMA -/+ 2 * population std: (close - lower) / (upper - lower)",
                {"timeperiod": 20, "nbdevup": 2, "nbdevdn": 2, "matype": 0}, warmup=19, always_defined=False),
    FeatureSpec("bb_width_20_2", "volatility", "Width of the Bollinger bands relative to their middle.",
                "TA-Lib BBANDS(close), SMA -/+ 2 * population std: (upper - lower) / middle",
                {"timeperiod": 20, "nbdevup": 2, "nbdevdn": 2, "matype": 0}, warmup=19),
    FeatureSpec("atr_14_over_close", "volatility", "Average true range with Wilder smoothing, in units of the close.",
                "TA-Lib ATR(high, low, close) / close", {"timeperiod": 14}, warmup=14, needs=("high", "low", "close")),
    FeatureSpec("volatility_20", "volatility", "Sample standard deviation of return_1 over 20 bars.",
                "TA-Lib STDDEV(return_1, 20) * sqrt(20 / 19)", {"timeperiod": 20, "ddof": 1}, warmup=20),
    FeatureSpec("vwap_deviation", "volume", "Close against the bar's own VWAP.", "close / vwap - 1", {},
                warmup=0, needs=("close", "vwap")),
    FeatureSpec("volume_zscore_20", "volume",
                "Volume against the mean and sample standard deviation of the last 20 volumes, current included.",
                "(volume - SMA(volume, 20)) / (STDDEV(volume, 20) * sqrt(20 / 19))", {"timeperiod": 20, "ddof": 1},
                warmup=19, needs=("volume",), always_defined=False),
)
NAMES = tuple(s.name for s in TECHNICAL)
# Earlier bars read before each partition. The Wilder and exponential indicators forget their start at
# (13/14)^n and (25/27)^n; measured on random walks from 100 to 100,000 in price, every feature equals the
# whole-history value to 1e-8 after 400 bars (tests/test_features.py::test_the_lead_in_is_enough).
LEAD_IN_BARS = 600
_ROW = {name: i for i, name in enumerate(NAMES)}


def compute_technical(bars: pl.DataFrame, workers: int | None = None) -> pl.DataFrame:
    """Every technical feature of ``bars`` (one timeframe, sorted by symbol then timestamp; columns
    ``symbol, timestamp, high, low, close, volume, vwap``): ``symbol``, ``timestamp`` and one Float64 column
    per feature, NaN where the feature is undefined (warm-up, a missing vwap, a zero deviation)."""
    n = bars.height
    out = np.empty((len(NAMES), n))  # every row is filled below; pages are touched by the threads
    if n:
        high, low, close, volume, vwap = (bars[c].cast(pl.Float64).fill_null(np.nan).to_numpy()
                                          for c in ("high", "low", "close", "volume", "vwap"))
        starts = _symbol_starts(bars)
        with np.errstate(divide="ignore", invalid="ignore"):
            log_return = np.empty(n)
            log_return[1:] = np.log(close[1:] / close[:-1])
            log_return[starts] = np.nan  # never across symbols
            out[_ROW["log_return_1"]] = log_return
            out[_ROW["vwap_deviation"]] = close / vwap - 1
        bounds = list(zip(starts.tolist(), [*starts[1:].tolist(), n], strict=True))
        kernel = _symbol_kernel(out, high, low, close, volume)
        if workers == 1:  # small inputs (the live loop's window): no pool to start
            list(map(kernel, bounds))
        else:
            with ThreadPoolExecutor(max_workers=workers or os.cpu_count() or 1) as pool:
                list(pool.map(kernel, bounds))
    return bars.select("symbol", "timestamp").with_columns(
        pl.Series(name, out[i]) for i, name in enumerate(NAMES)
    )


def _symbol_starts(bars: pl.DataFrame) -> np.ndarray:
    """Row index where each symbol's run begins; refuses input that is not sorted by symbol, then time."""
    symbols = bars["symbol"]
    change = (symbols != symbols.shift(1)).fill_null(True).to_numpy()
    starts = np.flatnonzero(change)
    if len(starts) != symbols.n_unique():
        raise ValueError("bars must be sorted by symbol: a symbol appears in more than one run")
    times = bars["timestamp"].to_physical().to_numpy()
    if np.any((np.diff(times) <= 0) & ~change[1:]):
        raise ValueError("bars must be sorted by timestamp within each symbol, without repeats")
    return starts


def _symbol_kernel(out: np.ndarray, high: np.ndarray, low: np.ndarray, close: np.ndarray, volume: np.ndarray
                   ) -> Callable[[tuple[int, int]], None]:
    """A function that fills ``out[:, a:b]`` with TA-Lib's indicators of one symbol's rows ``a:b``."""

    def run(bound: tuple[int, int]) -> None:
        a, b = bound
        c, rows = close[a:b], out[:, a:b]
        rows[_ROW["return_1"]] = ret = talib.ROCP(c, 1)
        rows[_ROW["rsi_14"]] = talib.RSI(c, 14)
        rows[_ROW["volatility_20"]] = talib.STDDEV(ret, 20, 1) * SAMPLE
        macd = talib.MACD(c, 12, 26, 9)
        upper, middle, lower = talib.BBANDS(c, 20, 2, 2, 0)
        v = volume[a:b]
        with np.errstate(divide="ignore", invalid="ignore"):  # price levels in units of the close (scale-free)
            rows[_ROW["sma_20_vs_close"]] = talib.SMA(c, 20) / c - 1
            rows[_ROW["sma_50_vs_close"]] = talib.SMA(c, 50) / c - 1
            rows[_ROW["ema_12_vs_close"]] = talib.EMA(c, 12) / c - 1
            rows[_ROW["ema_26_vs_close"]] = talib.EMA(c, 26) / c - 1
            for name, values in zip(("macd_12_26_9_over_close", "macd_signal_12_26_9_over_close",
                                     "macd_hist_12_26_9_over_close"), macd, strict=True):
                rows[_ROW[name]] = values / c
            rows[_ROW["bb_percent_b_20_2"]] = (c - lower) / (upper - lower)
            rows[_ROW["bb_width_20_2"]] = (upper - lower) / middle
            rows[_ROW["atr_14_over_close"]] = talib.ATR(high[a:b], low[a:b], c, 14) / c
            rows[_ROW["volume_zscore_20"]] = (v - talib.SMA(v, 20)) / (talib.STDDEV(v, 20, 1) * SAMPLE)

    return run
