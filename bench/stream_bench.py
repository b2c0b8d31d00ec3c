"""Stream benchmark: ``ats stream`` ingesting a burst from a local server that speaks Polygon's protocol.

Prints one JSON line: messages/s (from the first frame sent until the stream's status counts every
message, valid or rejected), the receipt-to-Redis lag at p50 and p99 (as the stream reports it), and the
time until the last row is in the database. The stream runs as its own process, as in production; the
server replays pre-encoded frames of mixed trades, quotes and minute aggregates (100 events a frame) over
100 symbols, with ``--malformed`` (3 %) of the events poison of every kind the stream must reject: wrong
JSON types, missing ids and symbols, unknown event types, events that are not objects.

    python -m bench.stream_bench [--messages 200000] [--database-url postgresql://127.0.0.1:5432/ats_bench]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time

import orjson
import psycopg
import redis

from ats_pipelines.fakes.polygon_ws_server import serve
from bench.common import fresh_database

T0_MS = 1_709_821_800_000  # 2024-03-07 14:30 UTC


FRAME_EVENTS = 100
PRICE_FIELD = {"T": "p", "Q": "bp", "AM": "o"}
KEY_FIELD = {"T": "i", "Q": "q", "AM": "s"}  # trade id, quote sequence, bar start
POISON = [  # what replaces a good event, in turn
    lambda e: {**e, PRICE_FIELD[e["ev"]]: True},  # a boolean price
    lambda e: {**e, "sym": None},  # no symbol
    lambda e: {k: v for k, v in e.items() if k != KEY_FIELD[e["ev"]]},  # no key
    lambda e: {**e, "ev": "ZZ"},  # an unknown event type
    lambda e: [e],  # not an object
]


def burst(messages: int, symbols: list[str], malformed: float, per_frame: int = FRAME_EVENTS
          ) -> tuple[list[str], int]:
    """Pre-encoded frames and how many of their events are valid; every valid event has its own key (trade
    id, quote sequence, bar minute); every ``1 / malformed``-th event is poison."""
    events = []
    every = round(1 / malformed) if malformed else 0
    poisoned = 0
    for i in range(messages):
        symbol, kind, n = symbols[i % len(symbols)], i // len(symbols) % 3, i // (3 * len(symbols))
        t = T0_MS + n * 60_000
        if kind == 0:
            events.append({"ev": "T", "sym": symbol, "x": 4, "i": str(i), "z": 3, "p": 100.5, "s": 10, "t": t, "q": i})
        elif kind == 1:
            events.append({"ev": "Q", "sym": symbol, "bx": 19, "bp": 100.4, "bs": 2, "ax": 11, "ap": 100.6, "as": 3,
                           "t": t, "q": i, "z": 3})
        else:
            events.append({"ev": "AM", "sym": symbol, "v": 1000, "av": 0, "op": 100, "vw": 100.5, "o": 100, "c": 101,
                           "h": 102, "l": 99, "a": 100.5, "z": 10, "s": t, "e": t + 60_000})
        if every and i % every == every - 1:
            events[-1] = POISON[poisoned % len(POISON)](events[-1])
            poisoned += 1
    frames = [orjson.dumps(events[i: i + per_frame]).decode() for i in range(0, len(events), per_frame)]
    return frames, messages - poisoned


def stream_run(server, args, frames: list[str], valid: int, per_second: float | None, rows_before: int
               ) -> dict[str, float]:
    """Start ``ats stream``, send ``frames`` (all at once, or ``per_second`` frames a second), and measure."""
    cache = redis.Redis.from_url(args.redis_url, decode_responses=True)
    cache.flushdb()
    messages = len(frames) * FRAME_EVENTS
    env = {**os.environ, "ATS_DATABASE_URL": args.database_url, "ATS_REDIS_URL": args.redis_url,
           "POLYGON_WS_URL": server.url, "POLYGON_API_KEY": "demo-key", "ATS_UNIVERSE": ",".join(args.symbol_list),
           "ATS_CRYPTO_UNIVERSE": ""}
    process = subprocess.Popen([sys.executable, "-m", "ats_pipelines.cli", "stream", "--flush-seconds", "0.2"],
                               env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while server.clients("stocks") < 1:
            time.sleep(0.05)
        started = time.perf_counter()
        if per_second is None:
            server.publish("stocks", frames)
        else:
            for i in range(0, len(frames), 5):
                server.publish("stocks", frames[i: i + 5])
                time.sleep(max(0.0, started + (i + 5) / per_second - time.perf_counter()))
        status: dict[str, str] = {}
        while sum(int((status := cache.hgetall("component:stream:status")).get(counter) or 0)
                  for counter in ("messages", "rejected")) < messages:
            time.sleep(0.01)
        received = time.perf_counter() - started
        with psycopg.connect(args.database_url, autocommit=True) as conn:
            while conn.execute("SELECT (SELECT count(*) FROM trades) + (SELECT count(*) FROM quotes)"
                               " + (SELECT count(*) FROM stock_aggs)").fetchone()[0] < rows_before + valid:
                time.sleep(0.02)
        stored = time.perf_counter() - started
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(60)
        server_clients_gone(server)
    return {"messages_per_s": round(messages / received), "lag_p50_ms": float(status.get("lag_p50_ms") or "nan"),
            "lag_p99_ms": float(status.get("lag_p99_ms") or "nan"), "seconds_until_last_row_stored": round(stored, 3),
            "rejected": int(status.get("rejected") or 0), "valid": int(status.get("messages") or 0)}


def server_clients_gone(server) -> None:
    while server.clients("stocks"):
        time.sleep(0.05)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=200_000)
    parser.add_argument("--paced-rate", type=int, default=50_000, help="messages/s of the paced run")
    parser.add_argument("--symbols", type=int, default=100)
    parser.add_argument("--malformed", type=float, default=0.03, help="share of poison events")
    parser.add_argument("--database-url", default="postgresql://127.0.0.1:5432/ats_bench")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/12")
    args = parser.parse_args()
    args.symbol_list = [f"S{i:03d}" for i in range(args.symbols)]

    fresh_database(args.database_url)
    first, first_valid = burst(args.messages, args.symbol_list, args.malformed)
    second, second_valid = burst(2 * args.messages, args.symbol_list, args.malformed)
    second = second[len(second) // 2:]  # the same kinds of events, at later keys
    second_valid -= first_valid
    with serve() as server:
        burst_figures = stream_run(server, args, first, first_valid, None, 0)
        paced = stream_run(server, args, second, second_valid, args.paced_rate / FRAME_EVENTS, first_valid)
    print(json.dumps({
        "bench": "stream",
        "messages": args.messages,
        "symbols": args.symbols,
        "burst_messages_per_s": burst_figures["messages_per_s"],
        "target_messages_per_s": 50_000,
        "burst_lag_p50_ms": burst_figures["lag_p50_ms"],
        "burst_lag_p99_ms": burst_figures["lag_p99_ms"],
        "burst_seconds_until_last_row_stored": burst_figures["seconds_until_last_row_stored"],
        "paced_rate_messages_per_s": args.paced_rate,
        "paced_lag_p50_ms": paced["lag_p50_ms"],
        "paced_lag_p99_ms": paced["lag_p99_ms"],
        "target_lag_p99_ms": 50,
        "paced_seconds_until_last_row_stored": paced["seconds_until_last_row_stored"],
        "malformed_share": args.malformed,
        "rejected": burst_figures["rejected"] + paced["rejected"],
        "valid": burst_figures["valid"] + paced["valid"],
    }))


if __name__ == "__main__":
    main()
