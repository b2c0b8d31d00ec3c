"""Backfill benchmark: ≥ 1,000,000 1-minute bars from the local fake Polygon server, through the real
stock_aggs asset code (one single-run backfill), into stock_aggs — next to a bare binary COPY of the
same rows into an identical indexed table, in the same run. Prints one JSON line.

The time is the whole Dagster run of the asset: HTTP pages, JSON parsing, validation, the idempotent
writes, the daily bars (adjusted and raw) and the asset checks (the 5m/15m/1h roll-ups are their own
asset). The fake server runs in its own process and is asked for every page once before the clock starts:
the real API's JSON encoding does not run on our machine, so it should not count against our code. The
server's remaining cost (serving the cached pages over HTTP) is measured alone: the same requests, pages
parsed, nothing written (``fetch_only_seconds``), so the note can say which part of the gap is whose.

    python -m bench.backfill_bench [--symbols 100] [--first 2024-01-02] [--last 2024-02-08] [--rounds 2]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from statistics import median

import dagster as dg
import psycopg
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

from ats_pipelines.defs.market_data.assets import stock_aggs
from ats_pipelines.defs.market_data.loads import window_ms
from ats_pipelines.defs.market_data.partitions import new_york_window
from ats_pipelines.demo import DEMO_API_KEY, fake_polygon
from ats_pipelines.resources import PolygonResource, TimescaleResource, UniverseResource
from bench.common import binary_copy_seconds, fresh_database


def partition_window_of(first: str, last: str) -> tuple[datetime, datetime]:
    """The UTC window of the daily partitions ``first...last``."""
    start = datetime.fromisoformat(first).replace(tzinfo=UTC)
    return start, datetime.fromisoformat(last).replace(tzinfo=UTC) + timedelta(days=1)


def server_pid(port: int) -> int:
    """The pid of the ``ats fake-polygon --port <port>`` process."""
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            args = cmdline.read_bytes().split(b"\0")
        except OSError:
            continue
        if b"fake-polygon" in args and str(port).encode() in args:
            return int(cmdline.parent.name)
    raise LookupError(f"no fake-polygon process on port {port}")


def cpu_seconds(pid: int) -> float:
    """User plus system CPU seconds the process has used (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def one_round(args: argparse.Namespace, base_url: str) -> dict[str, float]:
    """A fresh database, the backfill as one Dagster run, then the bare COPY of the same 1m rows."""
    fresh_database(args.database_url)
    symbols = [f"B{i:03d}" for i in range(args.symbols)]
    timescale = TimescaleResource(database_url=args.database_url)
    resources = {
        "timescale": timescale,
        "polygon": PolygonResource(api_key=DEMO_API_KEY, base_url=base_url, requests_per_minute=60_000),
        "universe": UniverseResource(stocks=",".join(symbols)),
    }
    start_ms, end_ms = window_ms(new_york_window(partition_window_of(args.first, args.last)))

    def fetch_all() -> int:
        """Every page the asset asks for, parsed; returns the number of bars."""
        with resources["polygon"].client() as client:
            return sum(len(page) for symbol in symbols
                       for timespan, adjusted in (("minute", True), ("day", True), ("day", False))
                       for page in client.aggregates(symbol, 1, timespan, start_ms, end_ms, adjusted=adjusted))

    fetch_all()  # warm the server's response cache
    started = time.perf_counter()
    fetch_all()
    fetch_seconds = time.perf_counter() - started
    tags = {ASSET_PARTITION_RANGE_START_TAG: args.first, ASSET_PARTITION_RANGE_END_TAG: args.last}
    server = server_pid(args.port)
    cpu_before = cpu_seconds(server)
    started = time.perf_counter()
    result = dg.materialize([stock_aggs], resources=resources, tags=tags, instance=dg.DagsterInstance.ephemeral())
    asset_seconds = time.perf_counter() - started
    server_cpu = cpu_seconds(server) - cpu_before  # what serving the run's pages cost the machine
    metadata = {k: v.value for k, v in result.get_asset_materialization_events()[0].materialization.metadata.items()}
    timescale.close()
    with psycopg.connect(args.database_url, autocommit=True) as conn:
        minute_bars = conn.execute("SELECT count(*) FROM stock_aggs WHERE timeframe = '1m'").fetchone()[0]
        copied, copy_seconds = binary_copy_seconds(conn, "SELECT * FROM stock_aggs WHERE timeframe = '1m'",
                                                   "stock_aggs")
    assert copied == minute_bars
    return {"minute_bars": minute_bars, "rows_written": metadata["rows_written"],
            "rows_rejected": metadata["rows_rejected"], "api_requests": metadata["api_requests"],
            "backfill_seconds": asset_seconds, "fetch_only_seconds": fetch_seconds, "copy_seconds": copy_seconds,
            "server_cpu_seconds": server_cpu}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--symbols", type=int, default=100)
    parser.add_argument("--first", default="2024-01-02")
    parser.add_argument("--last", default="2024-02-08")
    parser.add_argument("--rounds", type=int, default=2, help="figures are medians over this many rounds")
    parser.add_argument("--port", type=int, default=8766)
    parser.add_argument("--database-url", default="postgresql://127.0.0.1:5432/ats_bench")
    args = parser.parse_args()

    with fake_polygon(args.port) as base_url:
        rounds = [one_round(args, base_url) for _ in range(args.rounds)]
    first = rounds[0]

    def middle(name: str) -> float:
        return round(median(r[name] for r in rounds), 2)

    bars = first["minute_bars"]
    print(json.dumps({
        "bench": "backfill_stock_aggs",
        "mode": detect_mode_of(args.database_url),
        "symbols": args.symbols,
        "range": f"{args.first}...{args.last}",
        "rounds": args.rounds,
        "runs_per_round": 1,
        "minute_bars": bars,
        "rows_written": first["rows_written"],
        "rows_rejected": first["rows_rejected"],
        "api_requests": first["api_requests"],
        "backfill_seconds": middle("backfill_seconds"),
        "baseline_copy_seconds": middle("copy_seconds"),
        "backfill_rows_per_s": round(bars / median(r["backfill_seconds"] for r in rounds)),
        "baseline_binary_copy_rows_per_s": round(bars / median(r["copy_seconds"] for r in rounds)),
        "ratio": round(median(r["copy_seconds"] / r["backfill_seconds"] for r in rounds), 3),
        "gap_seconds": round(median(r["backfill_seconds"] - r["copy_seconds"] for r in rounds), 2),
        "server_cpu_seconds_during_backfill": middle("server_cpu_seconds"),
        "fetch_only_seconds": middle("fetch_only_seconds"),
    }))


def detect_mode_of(url: str) -> str:
    """plain or timescaledb: the mode the benchmark database ran in."""
    resource = TimescaleResource(database_url=url)
    try:
        return resource.mode().kind
    finally:
        resource.close()


if __name__ == "__main__":
    main()
