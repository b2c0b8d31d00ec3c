"""Live loop benchmark: from the receipt of a completed bar to the order's arrival at the broker, 100 symbols.

Two sessions of minute bars of 100 symbols are stored with their features and a small model is made active;
then each minute of the third session is stored and published (``publish_bars``) as the stream does, and the
live loop (``LiveLoop.handle``: features over the warm window, Redis, scoring, the signal rows, the
placement path with every risk check and the emergency stop read before each submit) trades it on the local
Alpaca-compatible server. Prints one JSON line:

* ``order_ms_p50/p99``: per order, from the loop's receipt of the bar's stream entry to the order's arrival
  at the fake broker (its own clock, same machine);
* ``bar_ms_p50/p99``: per bar, from receipt until the bar is fully handled (orders, features in Redis,
  reconciliation, equity) and acknowledged;
* ``baseline_bar_ms_p50/p99``: in the same run, a bare loop over the same bars: ``compute_technical`` over
  windows of the same length plus one ``predict`` of the model on the 100 rows, per bar (the floor of any
  live loop with these kernels; building the windows is not timed).

Two loops run over the same bars: one under the default limits, one with the sizing limits widened so that
most signals become orders (many orders a bar, more samples); the age, data and stop limits are the
defaults in both.

    python -m bench.live_bench [--symbols 100] [--bars 60] [--database-url postgresql://127.0.0.1:5432/ats_bench]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from datetime import date, timedelta

import numpy as np
import polars as pl
import redis

from ats_pipelines.defs.features.assets import features
from ats_pipelines.defs.features.technical import LEAD_IN_BARS, NAMES, compute_technical
from ats_pipelines.defs.models import registry
from ats_pipelines.defs.models.training import predict
from ats_pipelines.defs.trading.orders import client_order_id, order_id
from ats_pipelines.defs.trading.risk import RiskLimits
from ats_pipelines.fakes.alpaca_server import serve
from ats_pipelines.fakes.live_market import activate_model, session_bars
from ats_pipelines.live.bus import publish_bars
from ats_pipelines.live.clock import replay_clock
from ats_pipelines.live.loop import LiveLoop, LiveSettings
from ats_pipelines.resources import ModelStoreResource, RedisResource, TimescaleResource, UniverseResource
from ats_pipelines.resources.brokers import BrokerResource
from bench.common import fresh_database

DAY = date(2024, 3, 6)
MODEL = "live_bench_model"


def quantile_ms(values: list[float], q: float) -> float | None:
    return round(float(np.quantile(values, q)) * 1000, 2) if values else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--symbols", type=int, default=100)
    parser.add_argument("--bars", type=int, default=60, help="minutes of the third session fed to the loop")
    parser.add_argument("--database-url", default="postgresql://127.0.0.1:5432/ats_bench")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/14")
    args = parser.parse_args()
    import dagster as dg

    fresh_database(args.database_url)
    redis.Redis.from_url(args.redis_url).flushdb()
    db, cache = TimescaleResource(database_url=args.database_url), RedisResource(redis_url=args.redis_url)
    symbols = [f"S{i:03d}" for i in range(args.symbols)]
    bars = session_bars(symbols, date(2024, 3, 4), DAY)
    before = bars.filter(pl.col("timestamp").dt.date() < DAY)
    db.write("stock_aggs", before)
    dg.materialize([features], resources={"timescale": db, "universe": UniverseResource(stocks="")},
                   instance=dg.DagsterInstance.ephemeral(),
                   tags={"dagster/asset_partition_range_start": "2024-03-04",
                         "dagster/asset_partition_range_end": "2024-03-05"})
    store = ModelStoreResource(directory=tempfile.mkdtemp(prefix="live_bench_models_"))
    activate_model(db, store, MODEL, before["timestamp"].max())
    minutes = bars.filter(pl.col("timestamp").dt.date() == DAY).filter(
        pl.col("timestamp") >= pl.col("timestamp").min() + timedelta(minutes=30))  # the session, not pre-market
    minutes = minutes.filter(pl.col("timestamp") < minutes["timestamp"].min() + timedelta(minutes=args.bars))
    wide_limits = RiskLimits(notional_per_signal=1_000.0, max_position_value=1e9, max_gross_exposure=1e9,
                             max_orders_per_day=10**6)
    os.environ.update({"ALPACA_API_KEY_ID": "demo-key-id", "ALPACA_API_SECRET_KEY": "demo-secret",
                       "ALPACA_REQUESTS_PER_MINUTE": "1000000"})
    default = trade(db, cache, store, symbols, minutes, "bench_default", RiskLimits())
    wide = trade(db, cache, store, symbols, minutes, "bench_wide", wide_limits)
    baseline = baseline_seconds(db, store, minutes, symbols)
    print(json.dumps({
        "symbols": args.symbols, "bars": minutes["timestamp"].n_unique(),
        "default_limits_orders": len(default[0]), "default_limits_order_ms_p50": quantile_ms(default[0], 0.5),
        "default_limits_order_ms_p99": quantile_ms(default[0], 0.99),
        "wide_limits_orders": len(wide[0]), "wide_limits_order_ms_p50": quantile_ms(wide[0], 0.5),
        "wide_limits_order_ms_p99": quantile_ms(wide[0], 0.99),
        "bar_ms_p50": quantile_ms(default[1], 0.5), "bar_ms_p99": quantile_ms(default[1], 0.99),
        "baseline_bar_ms_p50": quantile_ms(baseline, 0.5), "baseline_bar_ms_p99": quantile_ms(baseline, 0.99),
        "target_order_ms_p99": 100,
    }))


def trade(db: TimescaleResource, cache: RedisResource, store: ModelStoreResource, symbols: list[str],
          minutes: pl.DataFrame, strategy: str, limits: RiskLimits) -> tuple[list[float], list[float]]:
    """Feed the minutes through a live loop trading ``strategy`` on a fresh fake broker; returns the seconds
    from receipt to each order's arrival, and from receipt to the end of each bar's placement."""
    order_seconds, bar_seconds = [], []
    with serve() as alpaca:
        broker = BrokerResource(kind="alpaca", alpaca_base_url=alpaca.base_url)
        clock = {"now": replay_clock(minutes["timestamp"].min())}
        loop = LiveLoop(db, cache, broker, store, symbols, LiveSettings(strategy, MODEL, limits=vars(limits)),
                        clock=lambda: clock["now"](), consumer=strategy)
        with loop:
            for (t,), minute in minutes.group_by("timestamp", maintain_order=True):
                db.write("stock_aggs", minute)
                publish_bars(cache, minute)
                clock["now"] = replay_clock(t + timedelta(minutes=1, milliseconds=20))  # just after the bar's end
                for entry in loop.bus.read(block_ms=100):
                    done = loop.handle(entry)
                    bar_seconds.append(time.time() - entry.received_at)
                    signals = db.read("SELECT signal_id::text FROM trading_signals WHERE timestamp = %(t)s",
                                      {"t": entry.timestamp})["signal_id"].to_list()
                    for signal in signals:
                        arrived = alpaca.arrivals.get(client_order_id(order_id(signal, loop.strategy_id)))
                        if arrived is not None:
                            order_seconds.append(arrived - entry.received_at)
                    assert done.report.stopped is None, done.report.stopped
    return order_seconds, bar_seconds


def baseline_seconds(db: TimescaleResource, store: ModelStoreResource, minutes: pl.DataFrame,
                     symbols: list[str]) -> list[float]:
    """The bare loop: per bar, TA-Lib over each symbol's window up to the bar and one predict on the rows."""
    model = registry.active_model(db, MODEL)
    booster = store.load(model.file_path, model.sha256)
    history = db.read("SELECT symbol, timestamp, high::float8, low::float8, close::float8, volume::float8,"
                      " vwap::float8 FROM stock_aggs WHERE symbol = ANY(%(s)s) ORDER BY symbol, timestamp",
                      {"s": symbols})
    seconds = []
    for i, t in enumerate(minutes["timestamp"].unique(maintain_order=True)):
        window = history.filter(pl.col("timestamp") <= t).group_by("symbol", maintain_order=True).tail(
            LEAD_IN_BARS + i + 1)  # the live window's length: the lead-in and the session so far
        started = time.perf_counter()
        wide = compute_technical(window).filter(pl.col("timestamp") == t)
        predict(booster, wide, list(NAMES))
        seconds.append(time.perf_counter() - started)
    return seconds


if __name__ == "__main__":
    main()
