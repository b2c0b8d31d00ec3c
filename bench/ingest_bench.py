"""Ingest benchmark: TimescaleResource.write of stock_aggs rows next to a bare binary COPY of the same rows.

Prints one JSON line. The baseline is the fastest COPY we can write: the rows pre-serialised in
PostgreSQL's binary COPY format (produced by the server itself), streamed into an identical table with
the same indexes. Ours is timed from the Polars DataFrame, serialisation included.

Cases: a first load (empty range), a re-load of the same rows, a first load whose range holds one stray row,
and an overlapping load (the earlier half of every symbol's minutes stored; the batch brings all of them).
Each ratio is the median over ``--rounds`` rounds of baseline seconds / our seconds, taken in the same round.

    python -m bench.ingest_bench [--rows 1000000] [--rounds 3] [--database-url postgresql://127.0.0.1:5432/ats_bench]
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import UTC, datetime
from statistics import median

import polars as pl
import psycopg

from ats_pipelines.db.writer import WriteResult
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
    parser.add_argument("--rounds", type=int, default=3, help="each figure is the median of this many rounds")
    parser.add_argument("--database-url", default="postgresql://127.0.0.1:5432/ats_bench")
    args = parser.parse_args()

    url = args.database_url
    fresh_database(url)
    df = synthetic_bars(args.rows)
    resource = TimescaleResource(database_url=url)
    middle = df["timestamp"].min() + (df["timestamp"].max() - df["timestamp"].min()) / 2
    first_half = df.filter(pl.col("timestamp") < middle)

    def holding(stored: pl.DataFrame | None) -> None:
        """Leave stock_aggs holding exactly ``stored`` (nothing for None), vacuumed and checkpointed."""
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("TRUNCATE stock_aggs")
            if stored is not None:
                resource.write("stock_aggs", stored)
                conn.execute("VACUUM ANALYZE stock_aggs")
            conn.execute("CHECKPOINT")

    def timed_write() -> tuple[float, WriteResult]:
        started = time.perf_counter()
        result = resource.write("stock_aggs", df)
        return time.perf_counter() - started, result

    rounds: list[dict[str, float]] = []
    results: dict[str, WriteResult] = {}
    for _ in range(args.rounds):  # interleaved, so each ratio compares figures taken a few seconds apart
        seconds: dict[str, float] = {}
        holding(df)  # the server serialises the same rows for the baseline
        with psycopg.connect(url, autocommit=True) as conn:
            _, seconds["baseline"] = binary_copy_seconds(conn, "SELECT * FROM stock_aggs", "stock_aggs")
        for case, stored in (("first_load", None), ("reload", df), ("first_load_via_merge", df.head(1)),
                             ("overlapping_load", first_half)):
            holding(stored)
            seconds[case], results[case] = timed_write()
        rounds.append(seconds)
    with psycopg.connect(url) as conn:
        stored_after_overlap = conn.execute("SELECT count(*) FROM stock_aggs").fetchone()[0]
    mode = resource.mode().kind
    resource.close()

    def rate(case: str) -> int:
        return round(args.rows / median(r[case] for r in rounds))

    figures: dict[str, object] = {"bench": "ingest_stock_aggs", "rows": args.rows, "mode": mode,
                                  "rounds": args.rounds, "baseline_binary_copy_rows_per_s": rate("baseline")}
    for case in ("first_load", "reload", "first_load_via_merge", "overlapping_load"):
        figures[f"write_{case}_rows_per_s"] = rate(case)
        figures[f"write_{case}_path"] = results[case].path
        figures[f"{case}_ratio"] = round(median(r["baseline"] / r[case] for r in rounds), 3)
    print(json.dumps({
        **figures,
        "reload_rows_changed": results["reload"].inserted + results["reload"].updated,
        "overlapping_load_rows_inserted": results["overlapping_load"].inserted,
        "rows_stored_after_overlapping_load": stored_after_overlap,
    }))


if __name__ == "__main__":
    main()
