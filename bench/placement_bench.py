"""Placement benchmark: what the money path's safety costs per order. N signals go through ``place_orders``
(under the strategy's advisory lock) to the local fake Alpaca server: the book, the stop and the account
read, every order and its submission recorded in one transaction, then per order the stop read (Redis and
the database) and the submit (as many at once as the broker takes), the answers written back in one
transaction. The baseline, in the same run: N bare ``submit_order`` calls to the same server over the same
HTTP layer, one after the other. Then ``reconcile_orders`` over the N orders (one look-up each). Prints one
JSON line.

    python -m bench.placement_bench --database-url postgresql://127.0.0.1:5432/<yours> \
        --redis-url redis://127.0.0.1:6379/<yours> [--signals 300]
"""

from __future__ import annotations

import argparse
import json
import os
import time
import uuid
from datetime import UTC, datetime, timedelta

import polars as pl
import psycopg

from ats_pipelines.defs.trading.orders import place_orders, placement_lock, reconcile_orders
from ats_pipelines.defs.trading.risk import RiskLimits
from ats_pipelines.defs.trading.strategies import ensure_strategy
from ats_pipelines.fakes.alpaca_server import serve
from ats_pipelines.resources import RedisResource, TimescaleResource
from ats_pipelines.resources.alpaca import AlpacaResource
from ats_pipelines.resources.broker import OrderRequest
from bench.common import fresh_database

T0 = datetime(2024, 3, 7, 15, 0, tzinfo=UTC)
SYMBOLS = [f"S{i:03d}" for i in range(20)]
OPEN_LIMITS = RiskLimits(notional_per_signal=1_000, max_position_value=1e12, max_gross_exposure=1e12,
                         max_orders_per_day=10**9, max_signal_age_minutes=1e9, max_daily_loss=1e12, max_drawdown=1.0,
                         max_data_age_minutes=1e9)


def write_signals(url: str, timescale: TimescaleResource, count: int) -> None:
    """A model and ``count`` buy signals, one a minute over :data:`SYMBOLS`, with the bars they were scored on."""
    model_id = str(uuid.uuid4())
    rows = [(T0 + timedelta(minutes=i), SYMBOLS[i % len(SYMBOLS)]) for i in range(count)]
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("INSERT INTO models VALUES (%s, 'bench', 'xgboost', 't', '{sig}', '{}', '{}', now(), now(),"
                     " '1', 'active', '/m.ubj')", (model_id,))
        with conn.cursor() as cur:
            cur.executemany("INSERT INTO trading_signals VALUES (%s, %s, %s, 'buy', 0.7, %s, '1m', '{}', '{}')",
                            [(str(uuid.uuid4()), t, s, model_id) for t, s in rows])
    timescale.write("stock_aggs", pl.DataFrame([{
        "timestamp": t, "symbol": s, "open": 100.0, "high": 100.0, "low": 100.0, "close": 100.0, "volume": 1000,
        "timeframe": "1m", "adjusted": True} for t, s in rows]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default="postgresql://127.0.0.1:5432/ats_bench",
                        help="a database of yours: dropped and recreated")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/11",
                        help="a Redis database of yours (its stop flag is read)")
    parser.add_argument("--signals", type=int, default=300)
    args = parser.parse_args()
    os.environ["ALPACA_REQUESTS_PER_MINUTE"] = "1000000"
    fresh_database(args.database_url)
    timescale, redis = TimescaleResource(database_url=args.database_url), RedisResource(redis_url=args.redis_url)
    redis.delete("emergency:status")
    write_signals(args.database_url, timescale, args.signals)
    strategy = ensure_strategy(timescale, "bench", "bench", {})
    with serve() as server:
        server.prices, server.fill = dict.fromkeys(SYMBOLS, 100.0), False  # orders stay open: reconciled
        resource = AlpacaResource(api_key="demo-key-id", secret_key="demo-secret", base_url=server.base_url,
                                  requests_per_minute=1_000_000)
        with resource.broker() as broker:
            started = time.perf_counter()
            for i in range(args.signals):
                broker.submit_order(OrderRequest(f"baseline-{i}", SYMBOLS[i % len(SYMBOLS)], "buy", 10))
            baseline = time.perf_counter() - started
            started = time.perf_counter()
            with placement_lock(timescale, strategy, wait_seconds=0):
                report = place_orders(timescale, redis, broker, strategy_id=strategy, model_name="bench",
                                      window=(T0, T0 + timedelta(days=1)), limits=OPEN_LIMITS,
                                      now=T0 + timedelta(days=1))
                placed = time.perf_counter() - started
                started = time.perf_counter()
                reconcile_orders(timescale, broker, strategy_id=strategy)
                reconciled = time.perf_counter() - started
    if report.submitted != args.signals:
        raise SystemExit(f"only {report.submitted} of {args.signals} orders went out: {report.as_metadata()}")
    per = 1000 / args.signals
    print(json.dumps({
        "orders": args.signals, "placement_seconds": round(placed, 3), "placement_ms_per_order": round(placed * per, 2),
        "baseline_bare_submit_seconds": round(baseline, 3),
        "baseline_bare_submit_ms_per_order": round(baseline * per, 2),
        "safety_overhead_ms_per_order": round((placed - baseline) * per, 2),
        "reconcile_seconds": round(reconciled, 3), "reconcile_ms_per_order": round(reconciled * per, 2),
    }))
    timescale.close()
    redis.close()


if __name__ == "__main__":
    main()
