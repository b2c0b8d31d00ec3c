"""Backfill benchmark: ≥ 1,000,000 1-minute bars from the local fake Polygon server, through the real
stock_aggs asset code (one single-run backfill), into stock_aggs — next to a bare binary COPY of the
same rows into an identical indexed table, in the same run. Prints one JSON line.

The time is the whole Dagster run of the asset: HTTP pages, JSON parsing, validation, the idempotent
writes, the daily bars and the asset checks (the 5m/15m/1h roll-ups are their own asset). The fake server
runs in its own process and is asked for every page once before the clock starts: the real API's JSON
encoding does not run on our machine, so it should not count against our code.

    python -m bench.backfill_bench [--symbols 100] [--first 2024-01-02] [--last 2024-02-08]
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import UTC, datetime, timedelta

import dagster as dg
import psycopg
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

from ats_pipelines.defs.market_data.assets import stock_aggs
from ats_pipelines.defs.market_data.loads import window_ms
from ats_pipelines.demo import DEMO_API_KEY, fake_polygon
from ats_pipelines.resources import PolygonResource, TimescaleResource, UniverseResource
from bench.common import binary_copy_seconds, fresh_database


def partition_window_of(first: str, last: str) -> tuple[datetime, datetime]:
    """The UTC window of the daily partitions ``first...last``."""
    start = datetime.fromisoformat(first).replace(tzinfo=UTC)
    return start, datetime.fromisoformat(last).replace(tzinfo=UTC) + timedelta(days=1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--symbols", type=int, default=100)
    parser.add_argument("--first", default="2024-01-02")
    parser.add_argument("--last", default="2024-02-08")
    parser.add_argument("--port", type=int, default=8766)
    parser.add_argument("--database-url", default="postgresql://127.0.0.1:5432/ats_bench")
    args = parser.parse_args()

    fresh_database(args.database_url)
    symbols = ",".join(f"B{i:03d}" for i in range(args.symbols))
    timescale = TimescaleResource(database_url=args.database_url)
    with fake_polygon(args.port) as base_url:
        resources = {
            "timescale": timescale,
            "polygon": PolygonResource(api_key=DEMO_API_KEY, base_url=base_url, requests_per_minute=60_000),
            "universe": UniverseResource(stocks=symbols),
        }
        with resources["polygon"].client() as client:  # warm the server's response cache
            start_ms, end_ms = window_ms(partition_window_of(args.first, args.last))
            for symbol in symbols.split(","):
                for timespan in ("minute", "day"):
                    list(client.aggregates(symbol, 1, timespan, start_ms, end_ms))
        tags = {ASSET_PARTITION_RANGE_START_TAG: args.first, ASSET_PARTITION_RANGE_END_TAG: args.last}
        started = time.perf_counter()
        result = dg.materialize([stock_aggs], resources=resources, tags=tags,
                                instance=dg.DagsterInstance.ephemeral())
        asset_seconds = time.perf_counter() - started
    metadata = {k: v.value for k, v in result.get_asset_materialization_events()[0].materialization.metadata.items()}
    mode = timescale.mode().kind
    timescale.close()

    with psycopg.connect(args.database_url, autocommit=True) as conn:
        minute_bars = conn.execute("SELECT count(*) FROM stock_aggs WHERE timeframe = '1m'").fetchone()[0]
        copied, copy_seconds = binary_copy_seconds(
            conn, "SELECT * FROM stock_aggs WHERE timeframe = '1m'", "stock_aggs")
    assert copied == minute_bars
    asset_rate, copy_rate = minute_bars / asset_seconds, minute_bars / copy_seconds
    print(json.dumps({
        "bench": "backfill_stock_aggs",
        "mode": mode,
        "symbols": args.symbols,
        "range": f"{args.first}...{args.last}",
        "runs": 1,
        "minute_bars": minute_bars,
        "rows_written": metadata["rows_written"],
        "rows_rejected": metadata["rows_rejected"],
        "api_requests": metadata["api_requests"],
        "backfill_seconds": round(asset_seconds, 2),
        "asset_step_seconds": metadata["seconds"],
        "backfill_rows_per_s": round(asset_rate),
        "baseline_binary_copy_rows_per_s": round(copy_rate),
        "ratio": round(asset_rate / copy_rate, 3),
    }))


if __name__ == "__main__":
    main()
