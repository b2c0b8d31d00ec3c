"""Cache benchmark: a full feature-cache refresh from the database to Redis, next to redis-benchmark.

Prints one JSON line. Setup (not timed): 5,000 symbols × 20 features × ``--history`` 1m values in the
features table. Timed: ``refresh_features`` over the whole window (the read from PostgreSQL, latest-value
keys with a TTL, and bounded histories replaced atomically), as keys/s; beside it
``redis-benchmark -P 16 -t set`` against the same server, run by this script in the same run.

    python -m bench.cache_bench [--symbols 5000] [--features 20] [--history 20]
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import time
from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl

from ats_pipelines.defs.cache.refresh import refresh_features
from ats_pipelines.resources import RedisResource, TimescaleResource
from bench.common import fresh_database

START = datetime(2024, 1, 2, 14, 30, tzinfo=UTC)


def redis_benchmark(host: str, port: int, db: int, requests: int) -> float:
    """SET requests/s of redis-benchmark with 16-command pipelines (the server's limit on this machine)."""
    out = subprocess.run(["redis-benchmark", "-h", host, "-p", str(port), "--dbnum", str(db), "-P", "16", "-t", "set",
                          "-n", str(requests), "-q"], capture_output=True, text=True, check=True).stdout
    return float(re.findall(r"([\d.]+) requests per second", out)[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--symbols", type=int, default=5_000)
    parser.add_argument("--features", type=int, default=20)
    parser.add_argument("--history", type=int, default=20)
    parser.add_argument("--database-url", default="postgresql://127.0.0.1:5432/ats_bench")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/13")
    args = parser.parse_args()

    fresh_database(args.database_url)
    timescale = TimescaleResource(database_url=args.database_url)
    redis = RedisResource(redis_url=args.redis_url)
    n = args.symbols * args.features * args.history
    i = np.arange(n)
    timescale.write("features", pl.DataFrame({
        "timestamp": pl.Series(int(START.timestamp() * 1e6) + (i % args.history) * 60_000_000).cast(
            pl.Datetime("us", "UTC")),
        "symbol": pl.Series([f"S{k:05d}" for k in range(args.symbols)]).gather(i // (args.features * args.history)),
        "feature_name": pl.Series([f"f{k:02d}" for k in range(args.features)]).gather(i // args.history
                                                                                      % args.features),
        "feature_value": np.round(np.sin(i) * 100, 6), "timeframe": "1m", "feature_group": "trend",
    }))
    timescale.refresh_statistics("features")
    window = (START, START + timedelta(days=1))
    redis.client.flushdb()
    refresh_features(timescale, redis, window, args.history, 3_600)  # warm the caches of both servers
    redis.client.flushdb()
    started = time.perf_counter()
    done = refresh_features(timescale, redis, window, args.history, 3_600)
    seconds = time.perf_counter() - started
    kwargs = redis.client.connection_pool.connection_kwargs
    baseline = redis_benchmark(kwargs.get("host", "127.0.0.1"), kwargs.get("port", 6379), kwargs.get("db", 0),
                               2_000_000)
    redis.client.flushdb()
    timescale.close()
    print(json.dumps({
        "bench": "cache_refresh_features",
        "symbols": args.symbols,
        "features": args.features,
        "history": args.history,
        "rows_read": done.rows_read,
        "keys": done.keys,
        "redis_commands": done.commands,
        "seconds": round(seconds, 3),
        "keys_per_s": round(done.keys / seconds),
        "redis_commands_per_s": round(done.commands / seconds),
        "baseline_redis_benchmark_set_per_s": round(baseline),
        "ratio_keys": round(done.keys / seconds / baseline, 3),
        "ratio_commands": round(done.commands / seconds / baseline, 3),
    }))


if __name__ == "__main__":
    main()
