"""The live decision loop against the real PostgreSQL and Redis: live features equal the features asset's,
live signals equal the batch asset's, a SIGKILLed loop resumes without skipping or repeating a bar, and
orders go out within the bar under the default limits."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import dagster as dg
import polars as pl
import pytest
from click.testing import CliRunner

from ats_pipelines.cli import main
from ats_pipelines.defs.features.assets import features
from ats_pipelines.defs.features.technical import NAMES
from ats_pipelines.defs.models import registry
from ats_pipelines.defs.models.assets import trading_signals
from ats_pipelines.defs.models.signals import signal_rows
from ats_pipelines.defs.trading.orders import client_order_id
from ats_pipelines.fakes.live_market import activate_model, session_bars
from ats_pipelines.fakes.polygon_ws_server import Replay, minute_bar_events
from ats_pipelines.fakes.polygon_ws_server import serve as serve_ws
from ats_pipelines.live.bus import BarConsumer, publish_bars
from ats_pipelines.live.dagster_events import report_to_dagster
from ats_pipelines.live.features import LiveFeatures, write_features
from ats_pipelines.live.loop import LiveLoop, LiveSettings
from ats_pipelines.market_calendar import sessions
from ats_pipelines.resources import ModelStoreResource, redis_keys
from ats_pipelines.resources.brokers import BrokerResource
from ats_pipelines.stream.routes import ROUTES
from tests.conftest import REPO_ROOT, TEST_REDIS_URL, feature_resources, metadata, run
from tests.stream_harness import service_for, streaming, wait_until

SYMBOLS = ["AAA", "BBB", "CCC"]
DAY = date(2024, 3, 6)  # a Wednesday; the two sessions before it give the lead-in
MODEL = "next_bar_direction_xgb"


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
    run([features], feature_resources(db), DAY.isoformat())
    stored = {k: v for k, v in stored_features(sql_conn, DAY).items() if k[1] <= fed["timestamp"].max()}
    assert len(stored) > 3 * 120 * 10 and set(values) == set(stored)
    assert max(abs(values[k] - v) for k, v in stored.items()) <= 1e-9
    newest = fed["timestamp"].max()
    for symbol in SYMBOLS:
        assert float(cache.get(redis_keys.feature(symbol, "rsi_14", "1m"))) == stored[(symbol, newest, "rsi_14")]
        assert len(cache.history(redis_keys.feature_history(symbol, "sma_20_vs_close", "1m"))) == 100


class StepClock:
    """The live clock of a test: each bar is received ``late`` after its end, then time runs at wall speed."""

    def __init__(self) -> None:
        self.at, self.origin = datetime(2024, 1, 1, tzinfo=UTC), time.monotonic()

    def arrive(self, bar_end: datetime, late: timedelta = timedelta(milliseconds=50)) -> None:
        self.at, self.origin = bar_end + late, time.monotonic()

    def __call__(self) -> datetime:
        return self.at + timedelta(seconds=time.monotonic() - self.origin)


def feed(db, cache, loop: LiveLoop, clock: StepClock, minutes: pl.DataFrame, late=timedelta(milliseconds=50),
         published: dict | None = None):
    """Store, publish and handle each minute's bars in turn, the loop's clock just past each bar's end
    (``published``: bar time -> wall time of the publish)."""
    handled = []
    for (t,), minute in minutes.group_by("timestamp", maintain_order=True):
        db.write("stock_aggs", minute)
        publish_bars(cache, minute)
        if published is not None:
            published[t] = time.time()
        clock.arrive(t + timedelta(minutes=1), late)
        handled += [loop.handle(entry) for entry in loop.bus.read(block_ms=10)]
    return handled


@pytest.fixture
def store(tmp_path) -> ModelStoreResource:
    return ModelStoreResource(directory=str(tmp_path / "models"))


def market_before(db, day: date) -> tuple[pl.DataFrame, datetime]:
    """Bars of the sessions before ``day`` stored with their features; the day's bars (to feed) and the last
    bar time before it."""
    bars = session_bars(SYMBOLS, date(2024, 3, 4), day)
    before = bars.filter(pl.col("timestamp").dt.date() < day)
    db.write("stock_aggs", before)
    run([features], feature_resources(db), "2024-03-04", (day - timedelta(days=1)).isoformat())
    return bars.filter(pl.col("timestamp").dt.date() == day), before["timestamp"].max()


def test_live_signals_are_the_batch_rows_and_orders_go_out_within_the_bar_under_default_limits(
        db, cache, sql_conn, store, alpaca):
    today, trained_through = market_before(db, DAY)
    model_id = activate_model(db, store, MODEL, trained_through)
    clock = StepClock()
    broker = BrokerResource(kind="alpaca", alpaca_base_url=alpaca.base_url)
    with LiveLoop(db, cache, broker, store, SYMBOLS, LiveSettings(model_name=MODEL), clock=clock,
                  consumer="t") as loop:
        published: dict[datetime, float] = {}
        handled = feed(db, cache, loop, clock, today.head(3 * 61), published=published)
        stale = feed(db, cache, loop, clock, today.slice(3 * 61, 3), late=timedelta(minutes=61))
    assert len(handled) == 61 and handled[0].features == 0  # the pre-market bar carries no features
    live = sql_conn.execute("SELECT signal_id::text, model_id::text FROM trading_signals").fetchall()
    assert live and {m for _, m in live} == {model_id}
    # The after-close batch run computes the same rows and so writes nothing.
    run([features], feature_resources(db), DAY.isoformat())
    model = registry.active_model(db, MODEL)
    window = (datetime.combine(DAY, datetime.min.time(), UTC), datetime.combine(DAY, datetime.min.time(), UTC)
              + timedelta(days=1))
    batch, _ = signal_rows(db, store, model, window, 0.6)
    assert sorted(batch["signal_id"]) == sorted(s for s, _ in live)
    result = run([trading_signals], {"timescale": db, "model_store": store}, DAY.isoformat(),
                 run_config={"ops": {"trading_signals": {"config": {"model_names": [MODEL]}}}})
    md = metadata(result, "trading_signals")
    assert (md["rows_inserted"], md["rows_updated"]) == (0, 0) and md["buy"] + md["sell"] == len(live)
    # Default limits: orders went out at once, each once, before the bar's successor ended.
    submitted = sum(h.report.submitted for h in handled)
    orders = sql_conn.execute("SELECT o.order_id::text, s.timestamp FROM orders o JOIN trading_signals s"
                              " USING (signal_id)").fetchall()
    assert submitted > 0 and len(orders) == submitted == len(alpaca.arrivals)
    assert not any("minutes old" in r for h in handled for r in h.report.blocked.values())
    for order, bar in orders:  # received while the bar's successor was still forming
        assert 0 < alpaca.arrivals[client_order_id(order)] - published[bar] < 60
    # A bar received 61 minutes after its end: its signals are blocked with the reason.
    assert stale[0].signals > 0 and stale[0].report.submitted == 0
    assert set(stale[0].report.blocked.values()) == {"signal is 61 minutes old (limit 60)"}
    equity = sql_conn.execute("SELECT count(*) FROM trading_metrics WHERE metric_name = 'equity'").fetchone()[0]
    assert equity == 62


def start_loop(tmp_path, name: str, store, alpaca, replay_from: datetime) -> tuple[subprocess.Popen, Path]:
    """``ats live`` in its own process on the test databases, the fake broker and a replay clock at 240x."""
    log = tmp_path / f"{name}.log"
    env = {**os.environ, "ATS_DATABASE_URL": db_url(), "ATS_REDIS_URL": TEST_REDIS_URL,
           "ATS_UNIVERSE": ",".join(SYMBOLS), "ATS_MODEL_DIR": store.directory, "ATS_BROKER": "alpaca",
           "ALPACA_BASE_URL": alpaca.base_url, "ALPACA_API_KEY_ID": "demo-key-id",
           "ALPACA_API_SECRET_KEY": "demo-secret", "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "ats_pipelines.cli", "live", "--consumer", "restart", "--replay-from",
         replay_from.replace(tzinfo=None).isoformat(), "--replay-speed", "240"],
        env=env, stdout=log.open("w"), stderr=subprocess.STDOUT, cwd=REPO_ROOT)
    deadline = time.monotonic() + 60
    while "live loop on" not in log.read_text():
        assert process.poll() is None and time.monotonic() < deadline, log.read_text()
        time.sleep(0.05)
    return process, log


def db_url() -> str:
    return os.environ.get("ATS_TEST_DATABASE_URL", "postgresql://127.0.0.1:5432/ats_test")


def publish_paced(db, cache, minutes: pl.DataFrame, seconds_per_bar: float) -> datetime:
    """Store and publish each minute in turn (the stream's order), one every ``seconds_per_bar``; returns the
    last bar's end."""
    for (_,), minute in minutes.group_by("timestamp", maintain_order=True):
        db.write("stock_aggs", minute)
        publish_bars(cache, minute)
        time.sleep(seconds_per_bar)
    return minutes["timestamp"].max() + timedelta(minutes=1)


def test_a_sigkilled_loop_resumes_without_skipping_or_repeating_a_bar(db, cache, sql_conn, store, alpaca, tmp_path):
    today, trained_through = market_before(db, DAY)
    activate_model(db, store, MODEL, trained_through)
    fed = today.head(3 * 41)  # the pre-market bar and 40 minutes
    paced, burst, second = fed.head(3 * 16), fed.slice(3 * 16, 3 * 6), fed.slice(3 * 22)
    consumer = BarConsumer(cache, consumer="restart")  # the group exists before the first bar
    process, log = start_loop(tmp_path, "first", store, alpaca, paced["timestamp"].min() + timedelta(minutes=1))
    try:
        publish_paced(db, cache, paced, 0.25)
        publish_paced(db, cache, burst, 0)  # six bars at once: the loop is busy with them when it is killed
        time.sleep(0.1)
    finally:
        process.kill()  # SIGKILL: no flush, no acknowledgement of the bar in hand
        process.wait()
    handled = sql_conn.execute("SELECT count(*) FROM trading_metrics WHERE metric_name = 'equity'").fetchone()[0]
    assert 16 <= handled < 22 and consumer.pending() > 0, log.read_text()[-3000:]
    end = publish_paced(db, cache, second, 0)  # ingestion goes on while the loop is down
    process, log = start_loop(tmp_path, "second", store, alpaca, end)
    try:
        key = redis_keys.LIVE_BARS.build(timeframe="1m")
        deadline = time.monotonic() + 120
        while cache.client.xinfo_groups(key)[0]["lag"] or cache.client.xpending(key, "live")["pending"]:
            assert process.poll() is None and time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.1)
    finally:
        process.terminate()
        process.wait(timeout=30)
    # Every in-session bar was handled: its features are in Redis, its equity point recorded once.
    session = fed.filter(pl.col("timestamp").dt.time() >= datetime(2024, 1, 1, 14, 30).time())["timestamp"].unique()
    assert session.len() == 40
    for symbol in SYMBOLS:
        times = {s for _, s in cache.history(redis_keys.feature_history(symbol, "return_1", "1m"))}
        assert times == {t.timestamp() for t in session}
    equity = sql_conn.execute("SELECT count(*), count(DISTINCT timestamp) FROM trading_metrics"
                              " WHERE metric_name = 'equity'").fetchone()
    assert equity == (41, 41)  # the pre-market bar too: every entry handled once
    # Signals: exactly the batch's; orders: at most one per signal, each sent to the broker at most once.
    run([features], feature_resources(db), DAY.isoformat())
    window = (datetime.combine(DAY, datetime.min.time(), UTC), datetime.combine(DAY, datetime.min.time(), UTC)
              + timedelta(days=1))
    batch, _ = signal_rows(db, store, registry.active_model(db, MODEL), window, 0.6)
    live = [r[0] for r in sql_conn.execute("SELECT signal_id::text FROM trading_signals")]
    assert sorted(live) == sorted(batch["signal_id"])
    orders = sql_conn.execute("SELECT o.order_id::text, o.status, s.timestamp FROM orders o"
                              " JOIN trading_signals s USING (signal_id)").fetchall()
    assert orders and sql_conn.execute("SELECT count(*) FROM (SELECT signal_id FROM orders GROUP BY signal_id"
                                       " HAVING count(*) > 1) d").fetchone()[0] == 0
    sent = {client_order_id(o) for o, _, _ in orders} & set(alpaca.arrivals)
    assert sent == set(alpaca.arrivals)
    unsent_bars = {bar for o, _, bar in orders if client_order_id(o) not in sent}
    assert len(unsent_bars) <= 1  # at most the orders of the bar in hand at the kill (recorded together)
    assert "rejected" not in {s for _, s, _ in orders}


def test_a_promoted_model_scores_from_the_next_bar_and_a_tampered_one_scores_nothing(db, cache, sql_conn, store,
                                                                                        alpaca):
    today, trained_through = market_before(db, DAY)
    first = activate_model(db, store, MODEL, trained_through)
    clock = StepClock()
    broker = BrokerResource(kind="alpaca", alpaca_base_url=alpaca.base_url)
    minutes = today.filter(pl.col("timestamp").dt.hour() >= 15).head(3 * 6)
    with LiveLoop(db, cache, broker, store, SYMBOLS, LiveSettings(model_name=MODEL), clock=clock,
                  consumer="t") as loop:
        feed(db, cache, loop, clock, minutes.head(3 * 2))
        second = activate_model(db, store, MODEL, trained_through, seed=2)  # promoted while the loop runs
        feed(db, cache, loop, clock, minutes.slice(3 * 2, 3 * 2))
        third = activate_model(db, store, MODEL, trained_through, seed=3)
        path = sql_conn.execute("SELECT file_path FROM models WHERE model_id = %s", (third,)).fetchone()[0]
        with open(path, "r+b") as f:
            f.seek(50)
            f.write(b"\x00")
        tampered = feed(db, cache, loop, clock, minutes.slice(3 * 4, 3 * 2))
    by_bar = dict(sql_conn.execute("SELECT timestamp, array_agg(DISTINCT model_id::text) FROM trading_signals"
                                   " GROUP BY timestamp").fetchall())
    times = minutes["timestamp"].unique(maintain_order=True).to_list()
    assert [by_bar.get(t) for t in times[:4]] == [[first], [first], [second], [second]]
    assert times[4] not in by_bar and times[5] not in by_bar and all(h.signals == 0 for h in tampered)
    assert sql_conn.execute("SELECT count(*) FROM alerts WHERE alert_type = 'model_integrity'").fetchone()[0] == 1


def test_the_live_simulated_broker_fills_at_the_next_open_on_the_wall_clock(db, cache, sql_conn, store):
    today, trained_through = market_before(db, DAY)
    activate_model(db, store, MODEL, trained_through)
    clock = StepClock()
    broker = BrokerResource(kind="simulated", max_volume_share=1.0)
    with LiveLoop(db, cache, broker, store, SYMBOLS, LiveSettings(model_name=MODEL), clock=clock,
                  consumer="t") as loop:
        previous_close = datetime(2024, 3, 5, 21, 0, tzinfo=UTC)
        db.write("trading_metrics", pl.DataFrame({
            "timestamp": [previous_close - timedelta(hours=3), previous_close], "metric_name": ["equity"] * 2,
            "metric_value": [101_000.0, 99_000.0], "strategy_id": [loop.strategy_id] * 2, "timeframe": ["1m"] * 2}))
        handled = feed(db, cache, loop, clock, today.head(3 * 31))
        account = loop.broker.account()
    assert account.last_equity == 99_000.0  # the day's P&L starts at the previous session's close
    bars = {(s, t): (o, v) for s, t, o, v in today.select("symbol", "timestamp", "open", "volume").iter_rows()}
    fills = sql_conn.execute("SELECT o.symbol, s.timestamp, o.side, o.quantity::float8, o.status,"
                             " o.filled_price::float8 FROM orders o JOIN trading_signals s USING (signal_id)"
                             ).fetchall()
    assert sum(h.report.submitted for h in handled) == len(fills) > 0
    last_bar, whole = today.head(3 * 31)["timestamp"].max(), 0
    for symbol, bar, side, quantity, status, price in fills:
        fill_bar = bar + timedelta(minutes=2)  # the first bar that opens after the order went out at bar's end
        if fill_bar > last_bar:
            assert status == "accepted" and price is None  # that bar has not come yet: no price from the past
            continue
        open_price, volume = bars[(symbol, fill_bar)]
        if volume >= quantity:  # the whole order fits in that bar
            whole += 1
            slip = 1 + (5e-4 if side == "buy" else -5e-4)
            assert status == "filled" and price == pytest.approx(round(open_price * slip, 2), abs=0.006)
    assert whole > 0


def test_publish_bars_takes_the_streams_mapped_rows_one_entry_per_minute_and_leaves_crypto_out(cache):
    am, xa = ROUTES["stocks"]["AM"], ROUTES["crypto"]["XA"]
    events = [{"ev": "AM", "sym": s, "v": 1000, "av": 0, "op": 100, "vw": None if s == "BBB" else 100.5, "o": 100,
               "c": 101, "h": 102, "l": 99, "a": 100.5, "z": 10, "s": start, "e": start + 60_000}
              for start in (1_709_821_800_000, 1_709_821_860_000) for s in ("AAA", "BBB")]
    stocks = am.column_map.map(events, flavour="stream", constants=am.constants).rows
    crypto = xa.column_map.map([{"ev": "XA", "pair": "BTC-USD", "v": 1.5, "vw": 6e4, "o": 6e4, "c": 6e4, "h": 6e4,
                                 "l": 6e4, "s": 1_709_821_800_000, "e": 1_709_821_860_000, "z": 3}],
                               flavour="stream", constants=xa.constants).rows
    consumer = BarConsumer(cache, consumer="c")
    assert publish_bars(cache, stocks) == 2 and publish_bars(cache, crypto) == 0
    entries = consumer.read(block_ms=10)
    assert [e.timestamp for e in entries] == sorted(stocks["timestamp"].unique().to_list())
    assert entries[0].bars.filter(pl.col("symbol") == "BBB")["vwap"].to_list() == [None]
    assert entries[0].bars.select("symbol", "close").rows() == [("AAA", 101.0), ("BBB", 101.0)]
    assert consumer.pending() == 2  # delivered, not yet acknowledged
    for entry in entries:
        consumer.ack(entry)
    assert consumer.pending() == 0 and consumer.read(block_ms=10) == []


def test_after_a_gap_the_stream_filled_from_rest_live_features_still_equal_the_stored_ones(db, cache, sql_conn):
    bars = session_bars(SYMBOLS, date(2024, 3, 4), DAY)
    db.write("stock_aggs", bars.filter(pl.col("timestamp").dt.date() < DAY))
    fed = bars.filter(pl.col("timestamp").dt.date() == DAY).head(3 * 41)
    gap = fed["timestamp"].unique().sort().slice(10, 3).to_list()  # three minutes AAA's bars missed the stream
    live = LiveFeatures(db, SYMBOLS)
    values: dict[tuple, float] = {}
    for (t,), minute in fed.group_by("timestamp", maintain_order=True):
        db.write("stock_aggs", minute)  # stored either way (the stream's REST gap fill)
        published = minute.filter(pl.col("symbol") != "AAA") if t in gap else minute
        for row in live.update(t, published.drop("timestamp")).iter_rows(named=True):
            values.update({(row["symbol"], row["timestamp"], n): row[n] for n in NAMES if row[n] == row[n]})
    run([features], feature_resources(db), DAY.isoformat())
    stored = {k: v for k, v in stored_features(sql_conn, DAY).items()
              if k[1] <= fed["timestamp"].max() and not (k[0] == "AAA" and k[1] in gap)}
    assert set(values) == set(stored)
    assert max(abs(values[k] - v) for k, v in stored.items()) <= 1e-9


def test_the_replayed_feed_through_ats_stream_and_ats_live_trades_under_default_limits_and_shows_positions(
        db, cache, sql_conn, store):
    """The demo's live path in one process: the fake live feed replays a recorded session (the fake REST
    server's bars) on a replay clock, the stream stores each minute bar and hands it on, the loop trades it on
    the same clock with the simulated broker and the default limits; orders fill and show as positions."""
    symbols, day = ["AAPL", "SPY"], date(2024, 3, 14)  # a session whose first minutes the model calls both ways
    am = ROUTES["stocks"]["AM"]
    for previous in (date(2024, 3, 12), date(2024, 3, 13)):  # the warm window and the model's training data
        db.write("stock_aggs", pl.concat([am.column_map.map(minute_bar_events(s, previous), flavour="stream",
                                                            constants=am.constants).rows for s in symbols]))
    run([features], feature_resources(db), "2024-03-12", "2024-03-13")
    activate_model(db, store, MODEL, datetime(2024, 3, 14, tzinfo=UTC))
    opens = sessions(day, day)[0].open
    replay = Replay(opens - timedelta(minutes=3), speed=60.0, origin=time.time() + 3)
    stop, last_bar = threading.Event(), opens + timedelta(minutes=20)
    instance = dg.DagsterInstance.ephemeral()
    with serve_ws(live_feed=True, replay=replay) as feed_server, \
            streaming(service_for(feed_server, db, cache, stocks=symbols)), \
            LiveLoop(db, cache, BrokerResource(kind="simulated"), store, symbols, LiveSettings(model_name=MODEL),
                     clock=replay.clock(), consumer="demo", on_book_change=report_to_dagster(instance)) as loop:
        thread = threading.Thread(target=loop.run, args=(stop,), kwargs={"block_ms": 100})
        thread.start()
        try:
            wait_until(lambda: (cache.client.hget(redis_keys.component_status("live"), "last_bar") or "")
                       >= last_bar.isoformat(), timeout=120)
        finally:
            stop.set()
            thread.join(30)
    orders = sql_conn.execute(
        "SELECT o.symbol, o.side, o.status, s.timestamp FROM orders o JOIN trading_signals s USING (signal_id)"
        " ORDER BY s.timestamp").fetchall()
    assert orders and all(opens <= bar and bar.date() == day for *_, bar in orders)  # regular session only
    blocked = {r for r, in sql_conn.execute("SELECT message FROM alerts WHERE alert_type = 'risk_limit'")}
    assert not any("minutes old" in r for r in blocked)  # traded as it came: no signal too old
    filled = {s for s, side, status, _ in orders if side == "buy" and status == "filled"}
    held = dict(sql_conn.execute("SELECT symbol, quantity::float8 FROM positions WHERE status = 'open'").fetchall())
    assert filled and set(held) <= set(symbols) and held and all(q > 0 for q in held.values())
    equity = sql_conn.execute("SELECT count(*) FROM trading_metrics WHERE metric_name = 'equity'"
                              " AND timestamp >= %s", (opens,)).fetchone()[0]
    assert equity >= 20  # one point per handled bar of the session
    shown_in_ui = instance.get_latest_materialization_event(dg.AssetKey("positions")).asset_materialization
    assert shown_in_ui.metadata["open_positions"].value == len(held)
    assert instance.get_latest_materialization_event(dg.AssetKey("orders")).asset_materialization.partition == f"{day}"
    shown = CliRunner().invoke(main, ["book"], env={"ATS_DATABASE_URL": db_url(), "ATS_REDIS_URL": TEST_REDIS_URL,
                                                    "COLUMNS": "160"})
    assert shown.exit_code == 0, shown.output
    lines = shown.output.splitlines()
    assert any("last_bar" in line and f"{day}T" in line for line in lines)
    for symbol, quantity in held.items():  # each open position with its quantity and P&L
        assert any(f" {symbol} " in line and f" {quantity:g} " in line and "%" in line for line in lines)
