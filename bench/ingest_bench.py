"""Ingest benchmark: TimescaleResource.write of stock_aggs rows next to a bare binary COPY of the same rows.

Prints one JSON line. The baseline is the fastest COPY we can write: the rows pre-serialised in
PostgreSQL's binary COPY format (produced by the server itself), streamed into an identical table with
the same indexes. Ours is timed from the Polars DataFrame, serialisation included.

    python bench/ingest_bench.py [--rows 1000000] [--database-url postgresql://127.0.0.1:5432/ats_bench]
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import UTC, datetime

import polars as pl
import psycopg

from ats_pipelines.resources.timescale import TimescaleResource
from bench.common import binary_copy_seconds, fresh_database


def synthetic_bars(rows: int, symbols: int = 100, seed: int = 7) -> pl.DataFrame:
    """``rows`` one-minute bars over ``symbols`` symbols, shaped like stock_aggs."""
    per_symbol = rows // symbols
    start = datetime(2024, 1, 2, 14, 30, tzinfo=UTC)
    base = pl.DataFrame({"i": pl.int_range(0, per_symbol * symbols, eager=True)})
    return base.select(
        (pl.lit(start) + pl.duration(minutes=pl.col("i") % per_symbol)).alias("timestamp"),
        pl.format("S{}", (pl.col("i") // per_symbol)).alias("symbol"),
        (100 + (pl.col("i") * 7919 % 1000) / 100).alias("open"),
        (101 + (pl.col("i") * 104729 % 1000) / 100).alias("high"),
        (99 + (pl.col("i") * 1299709 % 100) / 100).alias("low"),
        (100 + (pl.col("i") * 15485863 % 1000) / 100).alias("close"),
        (pl.col("i") * 31 % 100000 + 100).alias("volume"),
        (100 + (pl.col("i") * 17 % 1000) / 100).alias("vwap"),
        (pl.col("i") * 13 % 5000).cast(pl.Int32).alias("transactions"),
        pl.lit("1m").alias("timeframe"),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--database-url", default="postgresql://127.0.0.1:5432/ats_bench")
    args = parser.parse_args()

    url = args.database_url
    fresh_database(url)

    df = synthetic_bars(args.rows)
    resource = TimescaleResource(database_url=url)

    with psycopg.connect(url, autocommit=True) as conn:
        resource.write("stock_aggs", df)  # the server serialises the same rows for the baseline
        _, copy_seconds = binary_copy_seconds(conn, "SELECT * FROM stock_aggs", "stock_aggs")
        conn.execute("TRUNCATE stock_aggs")
        conn.execute("CHECKPOINT")

    t0 = time.perf_counter()
    first = resource.write("stock_aggs", df)
    first_seconds = time.perf_counter() - t0
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CHECKPOINT")

    t0 = time.perf_counter()
    reload = resource.write("stock_aggs", df)
    reload_seconds = time.perf_counter() - t0

    with psycopg.connect(url) as conn:
        stored = conn.execute("SELECT count(*) FROM stock_aggs").fetchone()[0]

    # The same first load when the range already holds a row, so the merge path has to run.
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("TRUNCATE stock_aggs")
        conn.execute("CHECKPOINT")
    resource.write("stock_aggs", df.head(1))
    t0 = time.perf_counter()
    merged = resource.write("stock_aggs", df)
    merge_seconds = time.perf_counter() - t0
    mode = resource.mode().kind
    resource.close()

    copy_rate = args.rows / copy_seconds
    first_rate = args.rows / first_seconds
    reload_rate = args.rows / reload_seconds
    merge_rate = args.rows / merge_seconds
    print(json.dumps({
        "bench": "ingest_stock_aggs",
        "rows": args.rows,
        "mode": mode,
        "baseline_binary_copy_rows_per_s": round(copy_rate),
        "write_first_load_rows_per_s": round(first_rate),
        "write_first_load_path": first.path,
        "write_reload_rows_per_s": round(reload_rate),
        "write_reload_path": reload.path,
        "reload_rows_changed": reload.inserted + reload.updated,
        "write_first_load_via_merge_rows_per_s": round(merge_rate),
        "write_first_load_via_merge_path": merged.path,
        "first_load_ratio": round(first_rate / copy_rate, 3),
        "reload_ratio": round(reload_rate / copy_rate, 3),
        "first_load_via_merge_ratio": round(merge_rate / copy_rate, 3),
        "rows_stored": stored,
    }))


if __name__ == "__main__":
    main()
