"""Synthetic minute bars for the live-loop tests: a random walk per symbol over regular sessions."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import polars as pl

from ats_pipelines.market_calendar import sessions


def session_bars(symbols: list[str], first: date, last: date, seed: int = 3) -> pl.DataFrame:
    """Adjusted 1m stock_aggs rows of every regular-session minute from ``first`` to ``last``, plus one
    pre-market bar per session (which minute features leave out)."""
    rng = np.random.default_rng(seed)
    times = [t for s in sessions(first, last) for t in
             [s.open - timedelta(minutes=30), *(s.open + timedelta(minutes=i) for i in range(s.minutes))]]
    frames = []
    for symbol in symbols:
        close = 50 * (1 + len(frames)) * np.exp(np.cumsum(rng.normal(0, 0.002, len(times))))
        spread = np.abs(rng.normal(0, 0.001, len(times))) * close
        frames.append(pl.DataFrame({
            "timestamp": times, "symbol": symbol, "open": close * (1 + rng.normal(0, 0.0005, len(times))),
            "high": close + spread, "low": close - spread, "close": close,
            "volume": rng.integers(100, 10_000, len(times)),
            "vwap": close * (1 + rng.normal(0, 0.0003, len(times))), "timeframe": "1m", "adjusted": True}))
    return pl.concat(frames).sort("timestamp", "symbol")
