"""Features benchmark: the asset's feature computation next to a TA-Lib loop, and its write next to COPY.

Prints one JSON line:

* computation — bars/s of :func:`compute_technical` (every technical feature, 100 symbols × 20,000 1m bars,
  from the Polars frame the asset reads) next to TA-Lib computing the same indicators the way a user
  would: a Python loop over symbols and indicators on NumPy arrays already split per symbol, results kept.
  Both run once to warm up (a fresh process pays first-touch page faults), then alternate; the best of
  each is reported.
* write — rows/s of writing the resulting long-format rows (at least 1,000,000) into ``features`` through
  ``TimescaleResource.replace_range`` (a new partition: the path the asset takes), next to a bare binary
  COPY of the same rows into an identical table; and the re-run of the same partition (nothing changes).

    python -m bench.features_bench [--symbols 100] [--bars 20000] [--database-url postgresql://127.0.0.1:5432/ats_bench]
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl
import psycopg
import talib

from ats_pipelines.defs.features.rows import feature_rows
from ats_pipelines.defs.features.technical import TECHNICAL, compute_technical
from ats_pipelines.resources.timescale import TimescaleResource
from bench.common import binary_copy_seconds, fresh_database

START = datetime(2024, 1, 2, tzinfo=UTC)
WRITE_ROWS = 1_000_000


def synthetic_bars(symbols: int, bars: int, seed: int = 11) -> pl.DataFrame:
    """Random-walk 1m bars, sorted by symbol and time, shaped like the asset's input."""
    rng = np.random.default_rng(seed)
    n = symbols * bars
    close = np.concatenate([rng.uniform(20, 500) * np.exp(np.cumsum(rng.normal(0, 0.0008, bars)))
                            for _ in range(symbols)])
    spread = np.abs(rng.normal(0, 0.0005, n)) * close
    return pl.DataFrame({
        "symbol": np.repeat([f"S{i:03d}" for i in range(symbols)], bars),
        "timestamp": pl.Series(np.tile(np.arange(bars, dtype=np.int64) * 60_000_000, symbols)
                               + int(START.timestamp() * 1e6)).cast(pl.Datetime("us", "UTC")),
        "high": close + spread, "low": close - spread, "close": close,
        "volume": np.floor(rng.gamma(2.0, 5_000, n)) + 1, "vwap": close + rng.normal(0, 0.0002, n) * close,
    })


def talib_loop(arrays: list[tuple[np.ndarray, ...]]) -> list[dict[str, np.ndarray]]:
    """The baseline: every indicator of every symbol, one TA-Lib call after another on one core."""
    sample = np.sqrt(20 / 19)
    results = []
    for high, low, close, volume, vwap in arrays:
        ret = talib.ROCP(close, 1)
        macd, signal, hist = talib.MACD(close, 12, 26, 9)
        upper, middle, lower = talib.BBANDS(close, 20, 2, 2, 0)
        log_return = np.full(len(close), np.nan)
        log_return[1:] = np.log(close[1:] / close[:-1])
        results.append({
            "return_1": ret, "log_return_1": log_return, "sma_20": talib.SMA(close, 20),
            "sma_50": talib.SMA(close, 50), "ema_12": talib.EMA(close, 12), "ema_26": talib.EMA(close, 26),
            "rsi_14": talib.RSI(close, 14), "macd": macd, "macd_signal": signal, "macd_hist": hist,
            "bb_upper": upper, "bb_middle": middle, "bb_lower": lower, "atr_14": talib.ATR(high, low, close, 14),
            "volatility_20": talib.STDDEV(ret, 20, 1) * sample, "vwap_deviation": close / vwap - 1,
            "volume_zscore_20": (volume - talib.SMA(volume, 20)) / (talib.STDDEV(volume, 20, 1) * sample),
        })
    return results


def best_seconds(runs: dict[str, callable], rounds: int) -> dict[str, float]:
    """Each callable once to warm up, then ``rounds`` alternating timed calls; the best time of each."""
    for fn in runs.values():
        fn()
    best = {name: float("inf") for name in runs}
    for _ in range(rounds):
        for name, fn in runs.items():
            started = time.perf_counter()
            fn()
            best[name] = min(best[name], time.perf_counter() - started)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--symbols", type=int, default=100)
    parser.add_argument("--bars", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--database-url", default="postgresql://127.0.0.1:5432/ats_bench")
    args = parser.parse_args()

    bars = synthetic_bars(args.symbols, args.bars)
    arrays = [tuple(part[c].to_numpy() for c in ("high", "low", "close", "volume", "vwap"))
              for part in bars.partition_by("symbol", maintain_order=True)]
    seconds = best_seconds({"ours": lambda: compute_technical(bars), "talib": lambda: talib_loop(arrays)},
                           args.rounds)
    total_bars = bars.height

    # Enough symbols' rows for WRITE_ROWS long-format rows, as the asset writes them.
    per_symbol = feature_rows(compute_technical(bars.filter(pl.col("symbol") == "S000")), TECHNICAL, "1m",
                              START).frame.height
    subset = bars.filter(pl.col("symbol").is_in([f"S{i:03d}" for i in range(-(-WRITE_ROWS // per_symbol))]))
    rows = feature_rows(compute_technical(subset), TECHNICAL, "1m", START).frame
    end = START + timedelta(days=30)

    url = args.database_url
    fresh_database(url)
    resource = TimescaleResource(database_url=url)
    with psycopg.connect(url, autocommit=True) as conn:
        resource.replace_range("features", rows, START, end, match={"timeframe": ["1m"]})
        _, copy_seconds = binary_copy_seconds(conn, "SELECT * FROM features", "features")
        conn.execute("TRUNCATE features")
        conn.execute("CHECKPOINT")
    started = time.perf_counter()
    first = resource.replace_range("features", rows, START, end, match={"timeframe": ["1m"]})
    write_seconds = time.perf_counter() - started
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CHECKPOINT")
    started = time.perf_counter()
    rerun = resource.replace_range("features", rows, START, end, match={"timeframe": ["1m"]})
    rerun_seconds = time.perf_counter() - started
    mode = resource.mode().kind
    resource.close()

    ours_rate, talib_rate = total_bars / seconds["ours"], total_bars / seconds["talib"]
    copy_rate, write_rate = rows.height / copy_seconds, rows.height / write_seconds
    print(json.dumps({
        "bench": "features",
        "symbols": args.symbols,
        "bars": total_bars,
        "features": len(TECHNICAL),
        "compute_bars_per_s": round(ours_rate),
        "baseline_talib_loop_bars_per_s": round(talib_rate),
        "compute_ratio": round(ours_rate / talib_rate, 3),
        "mode": mode,
        "rows_written": rows.height,
        "write_rows_per_s": round(write_rate),
        "write_path": first.path,
        "baseline_binary_copy_rows_per_s": round(copy_rate),
        "write_ratio": round(write_rate / copy_rate, 3),
        "rerun_rows_per_s": round(rows.height / rerun_seconds),
        "rerun_rows_changed": rerun.inserted + rerun.updated + rerun.deleted,
        "rerun_ratio": round(rows.height / rerun_seconds / copy_rate, 3),
    }))


if __name__ == "__main__":
    main()
