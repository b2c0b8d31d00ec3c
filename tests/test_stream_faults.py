"""`ats stream` under faults, against the fake Polygon feed and the real Redis and PostgreSQL: poison input of
every kind, a database outage, a constraint the server refuses, gap fills after a reconnect and after a
restart, fractional crypto sizes, and hot values that say how old they are."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, date, datetime
from decimal import Decimal

import psycopg
import pytest

from ats_pipelines.fakes import polygon_data
from ats_pipelines.fakes.polygon_ws_server import minute_bar_events, serve
from ats_pipelines.resources import TimescaleResource
from tests.conftest import TEST_REDIS_URL
from tests.stream_harness import service_for, streaming, wait_until

DAY = date(2024, 3, 7)


@pytest.fixture
def ws_server():
    with serve() as server:
        yield server


def stored_bars(sql_conn, symbol: str) -> list[tuple[datetime, float]]:
    return sql_conn.execute("SELECT timestamp, close::float8 FROM stock_aggs WHERE symbol = %s AND timeframe = '1m'"
                            " ORDER BY timestamp", [symbol]).fetchall()


def served_bars(symbol: str, count: int) -> list[tuple[datetime, float]]:
    served = polygon_data.minute_bars(symbol, DAY)
    return [(datetime.fromtimestamp(t / 1000, UTC), float(c)) for t, c in zip(served.t[:count], served.c[:count],
                                                                              strict=True)]


def trade(symbol: str, trade_id: str, t: int, **fields) -> dict:
    return {"ev": "T", "sym": symbol, "x": 4, "i": trade_id, "z": 3, "p": 171.5, "s": 100, "t": t, "q": 7, **fields}


def test_every_poison_item_is_rejected_and_counted_and_what_follows_lands(db, cache, sql_conn, ws_server):
    bars = minute_bar_events("AAPL", DAY)[:3]
    t = bars[0]["s"]
    good_xt = {"ev": "XT", "pair": "BTC-USD", "p": 64000.5, "s": 0.5, "t": t, "c": [2], "i": 1, "x": 1, "r": t}
    good_xq = {"ev": "XQ", "pair": "ETH-USD", "bp": 3000, "bs": 1.5, "ap": 3001, "as": 0.5, "t": t, "x": 1}
    huge_event = {**bars[0], "sym": "A" * 1_000_000}
    stocks_poison = [
        "not json at all", '{"a": [', '"a string"', "[]", "7", "x" * 1_000_000,  # 6 frames
        [None, 5, "text", [1]],  # 4 events that are not objects
        [{"ev": "ZZ", "sym": "AAPL"}, {"sym": "AAPL", "p": 1}, {"ev": None}],  # 3 unknown or missing types
        [trade("AAPL", "t1", t, sym=None), trade("AAPL", "t2", t, sym=7), {k: v for k, v in
                                                                          trade("AAPL", "t3", t).items() if k != "sym"},
         {k: v for k, v in trade("AAPL", "t4", t).items() if k != "i"}, trade("AAPL", "t5", t, s=True),
         trade("AAPL", "t6", t, p="12.5"), trade("AAPL", "t7", t, x=4.5)],  # 7 trades
        [{**bars[0], "v": True}, {**bars[0], "o": "abc"}, {**bars[0], "s": float(bars[0]["s"])}, huge_event],  # 4 AM
        [{"ev": "Q", "sym": "AAPL", "bp": 1, "ap": "n/a", "bs": 1, "as": 1, "t": t, "q": 1}],  # 1 Q
    ]
    crypto_poison = [
        [{**good_xq, "pair": None}, {**good_xq, "pair": 5}, {**good_xq, "ap": "n/a"}],  # 3 XQ
        [{**good_xt, "pair": None}, {k: v for k, v in good_xt.items() if k != "i"}, {**good_xt, "i": True},
         {**good_xt, "s": "0.5"}],  # 4 XT
    ]
    service = service_for(ws_server, db, cache, crypto=["X:BTCUSD", "X:ETHUSD"])
    with streaming(service) as errors:
        wait_until(lambda: ws_server.clients("stocks") == 1 and ws_server.clients("crypto") == 1)
        ws_server.publish("stocks", stocks_poison + [[bars[1], trade("AAPL", "good", t)]])
        ws_server.publish("crypto", crypto_poison + [[good_xt, good_xq]])
        wait_until(lambda: service.stats.messages == 4 and service.buffer.empty)
    assert errors == []
    assert dict(service.buffer.stats.rejected) == {"frame": 6, "unknown": 7, "T": 7, "AM": 4, "Q": 1, "XQ": 3,
                                                   "XT": 4}
    status = cache.get_hash("component:stream:status")
    assert int(status["rejected"]) == 32 and int(status["messages"]) == 4 and int(status["rejected_XT"]) == 4
    # The quarantine holds one row per distinct rejected item, each with its reason.
    assert sql_conn.execute("SELECT count(*) FROM ingest_rejects WHERE source = 'polygon_ws'").fetchone()[0] == 32
    reasons = [r[0] for r in sql_conn.execute("SELECT reason FROM ingest_rejects")]
    assert any("field 'v' has a bool" in r for r in reasons) and any("missing 'i'" in r for r in reasons)
    assert any("unknown event type 'ZZ'" in r for r in reasons) and any("empty frame" in r for r in reasons)
    assert any("field 'pair' has a int" in r for r in reasons)
    assert any("symbol longer than" in r or "symbol not in the universe" in r for r in reasons)  # the 1 MB symbol
    # Only what passed reached Redis and the tables.
    assert sorted(k for k in cache.client.keys("ws:*")) == [
        "ws:agg:AAPL:1m", "ws:last_quote:X:ETHUSD", "ws:last_trade:AAPL", "ws:last_trade:X:BTCUSD"]
    assert json.loads(cache.get("ws:agg:AAPL:1m"))["s"] == bars[1]["s"]
    assert stored_bars(sql_conn, "AAPL") == [(datetime.fromtimestamp(bars[1]["s"] / 1000, UTC), bars[1]["c"])]
    assert sorted(r[0] for r in sql_conn.execute("SELECT trade_id FROM trades")) == ["1", "good"]


def test_hot_values_say_when_the_event_happened_and_when_it_was_received(db, cache, ws_server):
    bar = minute_bar_events("AAPL", DAY)[0]
    service = service_for(ws_server, db, cache)
    before = int(time.time() * 1000)
    with streaming(service):
        wait_until(lambda: ws_server.clients("stocks") == 1)
        ws_server.publish("stocks", [[bar, trade("AAPL", "1", bar["s"] + 1_500)]])
        wait_until(lambda: cache.get("ws:last_trade:AAPL") and cache.get("ws:agg:AAPL:1m"))
    agg, last = json.loads(cache.get("ws:agg:AAPL:1m")), json.loads(cache.get("ws:last_trade:AAPL"))
    assert agg["event_ms"] == bar["s"] + 60_000 and last["event_ms"] == bar["s"] + 1_500  # a bar's time is its end
    assert before <= agg["received_ms"] <= int(time.time() * 1000) and agg["c"] == bar["c"]


def test_a_fractional_crypto_size_is_stored_exactly(db, cache, sql_conn, ws_server):
    t = minute_bar_events("AAPL", DAY)[0]["s"]
    service = service_for(ws_server, db, cache, stocks=(), crypto=["X:BTCUSD"])
    with streaming(service):
        wait_until(lambda: ws_server.clients("crypto") == 1)
        ws_server.publish("crypto", [[{"ev": "XT", "pair": "BTC-USD", "p": 64000.5, "s": 0.06, "t": t, "c": [2],
                                       "i": "9911", "x": 1, "r": t}]])
        wait_until(lambda: cache.get("ws:last_trade:X:BTCUSD") is not None)
    assert sql_conn.execute("SELECT size FROM trades").fetchall() == [(Decimal("0.06"),)]


def _block_database(url: str, blocked: bool) -> None:
    """Refuse (or allow again) every connection to the test database and end the open ones: an outage."""
    base, name = url.rsplit("/", 1)
    with psycopg.connect(base + "/postgres", autocommit=True) as admin:
        admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS {"false" if blocked else "true"}')
        if blocked:
            admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", [name])


def test_a_database_outage_mid_stream_loses_nothing_and_raises_one_alert(database_url, db, cache, ws_server):
    bars = minute_bar_events("AAPL", DAY)[:40]
    stream_db = TimescaleResource(database_url=database_url, connect_timeout_seconds=1)
    service = service_for(ws_server, stream_db, cache, write_alert_after_seconds=1.0)
    try:
        with streaming(service) as errors:
            wait_until(lambda: ws_server.clients("stocks") == 1)
            ws_server.publish("stocks", [[b] for b in bars[:10]])
            wait_until(lambda: service.buffer.stats.rows_written == 10)
            _block_database(database_url, True)
            try:
                for i in range(10, 40):  # three seconds of bars and trades while the database is away
                    ws_server.publish("stocks", [[bars[i], trade("AAPL", f"t{i}", bars[i]["s"] + 10)]])
                    time.sleep(0.1)
                wait_until(lambda: service.buffer.stats.write_failures >= 2)
                assert cache.get_hash("component:stream:status")["status"] == "degraded"
            finally:
                _block_database(database_url, False)
            wait_until(lambda: service.buffer.stats.rows_written == 70 and service.buffer.rows == 0, timeout=30)
    finally:
        stream_db.close()
    assert errors == []
    with psycopg.connect(database_url, autocommit=True) as conn:
        assert stored_bars(conn, "AAPL") == served_bars("AAPL", 40)
        assert conn.execute("SELECT count(*), count(DISTINCT trade_id) FROM trades").fetchone() == (30, 30)
        alerts = conn.execute("SELECT alert_type, severity FROM alerts WHERE component = 'stream'").fetchall()
    assert alerts == [("stream_write_failing", "error")]


def test_a_row_the_database_refuses_is_retried_then_quarantined_alone(db, cache, sql_conn, ws_server):
    t = minute_bar_events("AAPL", DAY)[0]["s"]
    sql_conn.execute("ALTER TABLE trades ADD CONSTRAINT trades_price_test CHECK (price < 1000)")
    try:
        service = service_for(ws_server, db, cache)
        with streaming(service) as errors:
            wait_until(lambda: ws_server.clients("stocks") == 1)
            ws_server.publish("stocks", [[trade("AAPL", "a", t), trade("AAPL", "b", t + 1, p=5000.0),
                                          trade("AAPL", "c", t + 2)]])
            wait_until(lambda: service.buffer.stats.rows_refused == 1, timeout=30)
    finally:
        sql_conn.execute("ALTER TABLE trades DROP CONSTRAINT trades_price_test")
    assert errors == [] and service.buffer.stats.write_failures >= service.buffer.isolate_after
    assert sorted(r[0] for r in sql_conn.execute("SELECT trade_id FROM trades")) == ["a", "c"]
    reason, record = sql_conn.execute("SELECT reason, record FROM ingest_rejects").fetchone()
    assert "trades_price_test" in reason and record["trade_id"] == "b"


def test_the_gap_fill_after_a_reconnect_is_per_symbol_and_includes_the_first_live_bar(db, cache, sql_conn, ws_server,
                                                                                        fake_polygon):
    aapl, msft = minute_bar_events("AAPL", DAY)[:14], minute_bar_events("MSFT", DAY)[:14]
    service = service_for(ws_server, db, cache, fake_polygon, stocks=("AAPL", "MSFT"))
    with streaming(service):
        wait_until(lambda: ws_server.clients("stocks") == 1)
        ws_server.publish("stocks", [[a, m] for a, m in zip(aapl[:5], msft[:5], strict=True)])
        wait_until(lambda: service.gaps._seen.get("MSFT") == msft[4]["s"])
        ws_server.drop("stocks")
        wait_until(lambda: len(ws_server.subscriptions) == 2 and ws_server.clients("stocks") == 1)
        # AAPL's bar 9 comes live; MSFT's bar 9 went out before its subscription took effect: its first is 10.
        ws_server.publish("stocks", [[aapl[9]], *[[a, m] for a, m in zip(aapl[10:], msft[10:], strict=True)]])
        wait_until(lambda: service.gaps.stats.fills == 2 and service.gaps.pending == 0)
    assert stored_bars(sql_conn, "AAPL") == served_bars("AAPL", 14)
    assert stored_bars(sql_conn, "MSFT") == served_bars("MSFT", 14)
    watermarks = dict(sql_conn.execute("SELECT symbol, bars_complete_through FROM stream_bar_watermarks"))
    assert watermarks == {s: datetime.fromtimestamp(bars[13]["s"] / 1000, UTC) for s, bars in
                          (("AAPL", aapl), ("MSFT", msft))}


def test_a_restarted_stream_fills_from_where_its_predecessor_stopped(db, cache, sql_conn, ws_server, fake_polygon):
    bars = minute_bar_events("AAPL", DAY)[:12]
    first = service_for(ws_server, db, cache, fake_polygon)
    with streaming(first):
        wait_until(lambda: ws_server.clients("stocks") == 1)
        ws_server.publish("stocks", [[b] for b in bars[:5]])
        wait_until(lambda: first.buffer.stats.rows_written == 5)
    wait_until(lambda: ws_server.clients("stocks") == 0)
    assert sql_conn.execute("SELECT bars_complete_through FROM stream_bar_watermarks").fetchone()[0] == \
        datetime.fromtimestamp(bars[4]["s"] / 1000, UTC)
    second = service_for(ws_server, db, cache, fake_polygon)  # a new process: it knows only the database
    with streaming(second):
        wait_until(lambda: ws_server.clients("stocks") == 1)
        ws_server.publish("stocks", [[b] for b in bars[9:]])  # bars 5..8 came while nothing was running
        wait_until(lambda: second.gaps.stats.fills == 1 and second.gaps.pending == 0)
    assert stored_bars(sql_conn, "AAPL") == served_bars("AAPL", 12)
    assert second.gaps.stats.bars_filled >= 4  # bars 5..8 came from REST


def test_a_stream_killed_mid_session_misses_no_bar_once_restarted(database_url, db, sql_conn, ws_server, fake_polygon):
    """SIGKILL: the buffered rows die with the process; the watermark never passed them, so the next process
    fetches them from REST along with the bars sent while nothing ran."""
    bars = minute_bar_events("AAPL", DAY)[:14]
    env = {**os.environ, "ATS_DATABASE_URL": database_url, "ATS_REDIS_URL": TEST_REDIS_URL,
           "POLYGON_WS_URL": ws_server.url, "POLYGON_BASE_URL": fake_polygon.base_url, "POLYGON_API_KEY": "demo-key",
           "ATS_UNIVERSE": "AAPL", "ATS_CRYPTO_UNIVERSE": ""}

    def start(flush_seconds: str) -> subprocess.Popen:
        process = subprocess.Popen([sys.executable, "-m", "ats_pipelines.cli", "stream", "--flush-seconds",
                                    flush_seconds], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_until(lambda: ws_server.clients("stocks") == 1, timeout=60)
        return process

    first = start("0.2")
    try:
        ws_server.publish("stocks", [[b] for b in bars[:5]])
        wait_until(lambda: len(stored_bars(sql_conn, "AAPL")) == 5)
        wait_until(lambda: sql_conn.execute("SELECT count(*) FROM stream_bar_watermarks").fetchone()[0] == 1)
        first.send_signal(signal.SIGSTOP)  # frozen: bars 5..6 reach its socket but are never written
        ws_server.publish("stocks", [[b] for b in bars[5:7]])
        first.kill()
        first.wait(30)
    finally:
        first.kill()
    wait_until(lambda: ws_server.clients("stocks") == 0)
    assert len(stored_bars(sql_conn, "AAPL")) == 5
    second = start("0.2")
    try:
        ws_server.publish("stocks", [[b] for b in bars[10:]])  # bars 7..9 came while nothing ran
        wait_until(lambda: len(stored_bars(sql_conn, "AAPL")) == 14, timeout=30)
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(60)
    assert stored_bars(sql_conn, "AAPL") == served_bars("AAPL", 14)


def test_a_database_down_from_the_start_never_stalls_redis_and_its_rows_land_later(database_url, db, cache,
                                                                                  ws_server):
    """Nothing on the event loop waits for the database: the catalog is read in the background."""
    bars = minute_bar_events("AAPL", DAY)[:3]
    _block_database(database_url, True)
    stream_db = TimescaleResource(database_url=database_url, connect_timeout_seconds=30)
    service = service_for(ws_server, stream_db, cache)
    try:
        with streaming(service) as errors:
            wait_until(lambda: ws_server.clients("stocks") == 1)
            ws_server.publish("stocks", [[b, trade("AAPL", f"t{i}", b["s"] + 5)] for i, b in enumerate(bars)])
            wait_until(lambda: json.loads(cache.get("ws:agg:AAPL:1m") or "{}").get("s") == bars[2]["s"], timeout=10)
            assert service.buffer.stats.rows_written == 0  # the database is still away
            _block_database(database_url, False)
            wait_until(lambda: service.buffer.stats.rows_written == 6, timeout=60)
    finally:
        _block_database(database_url, False)
        stream_db.close()
    assert errors == []


def test_a_disconnect_status_keeps_the_events_of_its_frame(db, cache, sql_conn, ws_server):
    t = minute_bar_events("AAPL", DAY)[0]["s"]
    service = service_for(ws_server, db, cache)
    with streaming(service):
        wait_until(lambda: ws_server.clients("stocks") == 1)
        ws_server.publish("stocks", [[trade("AAPL", "a", t), {"ev": "status", "status": "slow_consumer",
                                                                "message": "slow"}, trade("AAPL", "b", t + 1)]])
        wait_until(lambda: service.stats.reconnects == 1 and ws_server.clients("stocks") == 1)
    assert sorted(r[0] for r in sql_conn.execute("SELECT trade_id FROM trades")) == ["a", "b"]


def test_a_resent_bar_after_a_reconnect_does_not_close_the_gap(db, cache, sql_conn, ws_server, fake_polygon):
    bars = minute_bar_events("AAPL", DAY)[:12]
    service = service_for(ws_server, db, cache, fake_polygon)
    with streaming(service):
        wait_until(lambda: ws_server.clients("stocks") == 1)
        ws_server.publish("stocks", [[b] for b in bars[:5]])
        wait_until(lambda: service.gaps._seen.get("AAPL") == bars[4]["s"])
        ws_server.drop("stocks")
        wait_until(lambda: len(ws_server.subscriptions) == 2 and ws_server.clients("stocks") == 1)
        ws_server.publish("stocks", [[bars[4]], [bars[9]], [bars[10]], [bars[11]]])  # bar 4 again, first
        wait_until(lambda: service.gaps.stats.fills == 1 and service.gaps.pending == 0)
    assert stored_bars(sql_conn, "AAPL") == served_bars("AAPL", 12)


def test_only_the_universe_is_stored_and_redis_and_the_live_bus_only_move_forward(db, cache, sql_conn, ws_server):
    from ats_pipelines.live.bus import GROUP
    from ats_pipelines.stream.routes import topics

    bars = minute_bar_events("AAPL", DAY)[:4]
    service = service_for(ws_server, db, cache)
    with streaming(service):
        wait_until(lambda: ws_server.clients("stocks") == 1)
        for frame in ([bars[1]], [bars[1]], [bars[3]], [bars[2]], [{**bars[3], "sym": "TSLA"}]):
            ws_server.publish("stocks", [frame])
            time.sleep(0.3)  # one flush each
        wait_until(lambda: service.buffer.stats.rejected["AM"] == 1 and service.buffer.empty)
    assert [s for s, in sql_conn.execute("SELECT DISTINCT symbol FROM stock_aggs")] == ["AAPL"]
    assert json.loads(cache.get("ws:agg:AAPL:1m"))["s"] == bars[3]["s"]  # bar 2 came late: it does not replace 3
    entries = cache.client.xrange("live:bars:1m")
    assert [int(fields["timestamp"]) // 1000 for _, fields in entries] == [bars[1]["s"], bars[3]["s"]]
    assert cache.client.xinfo_groups("live:bars:1m")[0]["name"] == GROUP
    assert topics("crypto", ["X:ETHUSDT", "X:BTCUSD"]) == (
        "XT.ETH-USDT,XT.BTC-USD,XQ.ETH-USDT,XQ.BTC-USD,XA.ETH-USDT,XA.BTC-USD")
