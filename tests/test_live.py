"""The live decision loop against the real PostgreSQL and Redis: live features equal the features asset's,
live signals equal the batch asset's, a SIGKILLed loop resumes without skipping or repeating a bar, and
orders go out within the bar under the default limits."""

from __future__ import annotations

from datetime import date

import polars as pl

from ats_pipelines.defs.features.assets import features
from ats_pipelines.defs.features.technical import NAMES
from ats_pipelines.live.bus import BarConsumer, publish_bars
from ats_pipelines.live.features import LiveFeatures, write_features
from ats_pipelines.resources import redis_keys
from tests.conftest import run
from tests.live_fixtures import session_bars

SYMBOLS = ["AAA", "BBB", "CCC"]
DAY = date(2024, 3, 6)  # a Wednesday; the two sessions before it give the lead-in


def stored_features(sql_conn, day: date) -> dict[tuple, float]:
    rows = sql_conn.execute("SELECT symbol, timestamp, feature_name, feature_value::float8 FROM features"
                            " WHERE timeframe = '1m' AND timestamp::date = %s", (day,)).fetchall()
    return {(s, t, f): v for s, t, f, v in rows}


def test_live_features_equal_what_the_features_asset_stores(db, cache, sql_conn):
    bars = session_bars(SYMBOLS, date(2024, 3, 4), DAY)
    before, today = bars.filter(pl.col("timestamp").dt.date() < DAY), bars.filter(pl.col("timestamp").dt.date() == DAY)
    db.write("stock_aggs", before)
    live = LiveFeatures(db, SYMBOLS)
    consumer = BarConsumer(cache, consumer="parity")
    fed = today.head(3 * 121)  # the pre-market bar (left out) and the first 120 minutes
    values: dict[tuple, float] = {}
    for (_,), minute in fed.group_by("timestamp", maintain_order=True):
        db.write("stock_aggs", minute)  # as the stream does: stored first, then published
        publish_bars(cache, minute)
        for entry in consumer.read(block_ms=10):
            wide = live.update(entry.timestamp, entry.bars)
            write_features(cache, wide, "1m")
            consumer.ack(entry)
            for row in wide.iter_rows(named=True):
                values.update({(row["symbol"], row["timestamp"], n): row[n] for n in NAMES if row[n] == row[n]})
    assert consumer.pending() == 0
    run([features], {"timescale": db}, DAY.isoformat())
    stored = {k: v for k, v in stored_features(sql_conn, DAY).items() if k[1] <= fed["timestamp"].max()}
    assert len(stored) > 3 * 120 * 10 and set(values) == set(stored)
    assert max(abs(values[k] - v) for k, v in stored.items()) <= 1e-9
    newest = fed["timestamp"].max()
    for symbol in SYMBOLS:
        assert float(cache.get(redis_keys.feature(symbol, "rsi_14", "1m"))) == stored[(symbol, newest, "rsi_14")]
        assert len(cache.history(redis_keys.feature_history(symbol, "sma_20", "1m"))) == 100
