"""`ats stream` against a local server speaking Polygon's WebSocket protocol, the real Redis and PostgreSQL:
handshake, mixed frames, a drop mid-stream with the gap filled from REST, malformed input, auth_failed,
max_connections, and SIGTERM with rows still buffered."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, date, datetime

import dagster as dg
import pytest

from ats_pipelines.fakes import polygon_data
from ats_pipelines.fakes.polygon_ws_server import minute_bar_events, serve
from ats_pipelines.stream.service import StreamAuthError
from tests.conftest import TEST_REDIS_URL
from tests.stream_harness import service_for, streaming, wait_until

DAY = date(2024, 3, 7)


@pytest.fixture
def ws_server():
    with serve() as server:
        yield server


def test_handshake_mixed_frames_land_in_redis_and_the_tables(db, cache, sql_conn, ws_server):
    service = service_for(ws_server, db, cache, crypto=["X:BTCUSD"])
    bar = minute_bar_events("AAPL", DAY)[0]
    with streaming(service):
        wait_until(lambda: ws_server.clients("stocks") == 1 and ws_server.clients("crypto") == 1)
        ws_server.publish("stocks", [[
            {"ev": "T", "sym": "AAPL", "x": 4, "i": "52983525029461", "z": 3, "p": 171.5, "s": 100, "c": [12, 37],
             "t": bar["s"] + 1_000, "q": 1063},
            {"ev": "Q", "sym": "AAPL", "bx": 19, "bp": 171.49, "bs": 2, "ax": 11, "ap": 171.52, "as": 3, "c": 1,
             "t": bar["s"] + 1_500, "q": 2001, "z": 3},
            {"ev": "status", "status": "success", "message": "subscribed to: T.AAPL"},
            bar,
        ]])
        ws_server.publish("crypto", [[
            {"ev": "XT", "pair": "BTC-USD", "p": 64000.5, "s": 2, "t": bar["s"], "c": [2], "i": 9911, "x": 1,
             "r": bar["s"] + 5},
            {"ev": "XQ", "pair": "BTC-USD", "bp": 64000, "bs": 1.5, "ap": 64001, "as": 0.5, "t": bar["s"], "x": 1},
        ]])
        wait_until(lambda: cache.get("ws:last_trade:X:BTCUSD") is not None and cache.get("ws:agg:AAPL:1m"))
    assert ("stocks", "T.AAPL,Q.AAPL,AM.AAPL") in ws_server.subscriptions
    assert ("crypto", "XT.BTC-USD,XQ.BTC-USD,XA.BTC-USD") in ws_server.subscriptions
    assert json.loads(cache.get("ws:last_trade:AAPL"))["p"] == 171.5
    assert json.loads(cache.get("ws:last_quote:AAPL"))["ap"] == 171.52
    assert json.loads(cache.get("ws:agg:AAPL:1m"))["c"] == bar["c"]
    assert json.loads(cache.get("ws:last_quote:X:BTCUSD"))["bp"] == 64000
    trades = sql_conn.execute("SELECT symbol, price::float8, size, exchange, trade_id, conditions FROM trades"
                              " ORDER BY symbol").fetchall()
    assert trades == [("AAPL", 171.5, 100, "4", "52983525029461", ["12", "37"]),
                      ("X:BTCUSD", 64000.5, 2, "1", "9911", ["2"])]
    assert sql_conn.execute("SELECT symbol, exchange, sequence_number FROM quotes").fetchall() == [
        ("AAPL", "19/11", 2001)]
    stored = sql_conn.execute("SELECT close::float8, adjusted, timeframe FROM stock_aggs").fetchall()
    assert stored == [(bar["c"], True, "1m")]
    status = cache.get_hash("component:stream:status")
    assert status["status"] == "stopped" and int(status["messages"]) == 5 and status["last_message_at"]


def test_a_dropped_connection_reconnects_resubscribes_and_fills_the_gap_from_rest(db, cache, sql_conn, ws_server,
                                                                                  fake_polygon):
    bars = minute_bar_events("AAPL", DAY)[:12]
    service = service_for(ws_server, db, cache, fake_polygon)
    with streaming(service):
        wait_until(lambda: ws_server.clients("stocks") == 1)
        ws_server.publish("stocks", [[b] for b in bars[:5]])
        wait_until(lambda: json.loads(cache.get("ws:agg:AAPL:1m") or "{}").get("s") == bars[4]["s"])
        ws_server.drop("stocks")  # bars 5..8 are never sent on the socket
        wait_until(lambda: len(ws_server.subscriptions) == 2 and ws_server.clients("stocks") == 1)
        ws_server.publish("stocks", [[b] for b in bars[9:]])
        wait_until(lambda: service.gaps.stats.fills == 1)
    rows = sql_conn.execute("SELECT timestamp, close::float8 FROM stock_aggs WHERE symbol = 'AAPL' AND timeframe = '1m'"
                            " ORDER BY timestamp").fetchall()
    served = polygon_data.minute_bars("AAPL", DAY)
    assert rows == [(datetime.fromtimestamp(t / 1000, UTC), float(c)) for t, c in zip(served.t[:12], served.c[:12],
                                                                                         strict=True)]
    assert service.stats.reconnects == 1
    assert sql_conn.execute("SELECT count(*) FROM ingest_rejects").fetchone()[0] == 0




def test_auth_failed_stops_with_a_clear_error(db, cache, ws_server):
    service = service_for(ws_server, db, cache, key="wrong-key")
    with streaming(service) as errors:
        wait_until(lambda: errors)
    assert isinstance(errors[0], StreamAuthError) and "POLYGON_API_KEY" in str(errors[0])
    assert cache.get_hash("component:stream:status")["status"] in {"auth_failed", "stopped"}


def test_max_connections_is_retried(db, cache, ws_server, caplog):
    ws_server.refuse_next = "max_connections"
    service = service_for(ws_server, db, cache)
    with streaming(service) as errors:
        wait_until(lambda: ws_server.clients("stocks") == 1)
    assert errors == [] and "another client is connected with this API key" in caplog.text


def test_sigterm_flushes_the_buffered_rows(database_url, ws_server, sql_conn, db):
    env = {**os.environ, "ATS_DATABASE_URL": database_url, "ATS_REDIS_URL": TEST_REDIS_URL,
           "POLYGON_WS_URL": ws_server.url, "POLYGON_API_KEY": "demo-key", "ATS_UNIVERSE": "AAPL",
           "ATS_CRYPTO_UNIVERSE": ""}
    process = subprocess.Popen([sys.executable, "-m", "ats_pipelines.cli", "stream", "--flush-seconds", "3600"],
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        wait_until(lambda: ws_server.clients("stocks") == 1, timeout=60)
        bars = minute_bar_events("AAPL", DAY)[:30]
        ws_server.publish("stocks", [bars])
        time.sleep(0.5)
        assert sql_conn.execute("SELECT count(*) FROM stock_aggs").fetchone()[0] == 0  # still buffered
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 0, output
    assert "buffered rows written" in output
    assert sql_conn.execute("SELECT count(*) FROM stock_aggs").fetchone()[0] == 30


def test_the_watchdog_marks_a_silent_stream_stalled_only_in_market_hours(cache, monkeypatch):
    from ats_pipelines.defs.cache import sensors
    from ats_pipelines.defs.cache.stream_health import stream_health

    session = datetime(2024, 3, 7, 15, 0, tzinfo=UTC)  # 10:00 New York, a regular session
    fresh = {"last_message_at": datetime(2024, 3, 7, 14, 59, 30, tzinfo=UTC).isoformat()}
    silent = {"last_message_at": datetime(2024, 3, 7, 14, 50, tzinfo=UTC).isoformat()}
    assert stream_health(fresh, session)[0] == "ok"
    assert stream_health(silent, session) == ("stalled", "market open and no message for 600 s")
    assert stream_health({}, session)[0] == "stalled"
    assert stream_health(silent, datetime(2024, 3, 9, 15, 0, tzinfo=UTC))[0] == "idle"  # Saturday
    assert stream_health(silent, datetime(2024, 11, 29, 19, 0, tzinfo=UTC))[0] == "idle"  # after a 13:00 early close
    cache.set_hashes({"component:stream:status": {"status": "connected", **silent}})
    monkeypatch.setattr(sensors, "now", lambda: session)
    with dg.build_sensor_context(resources={"redis": cache}) as context:
        result = sensors.stream_watchdog_sensor(context)
    assert "stalled" in result.skip_message
    status = cache.get_hash("component:stream:status")
    assert status["health"] == "stalled" and status["status"] == "connected"


def test_the_stream_reports_its_lag_and_counts_in_system_metrics(db, cache, sql_conn, ws_server, monkeypatch):
    from ats_pipelines.stream import service as stream_service

    monkeypatch.setattr(stream_service, "METRICS_EVERY_SECONDS", 0.0)
    service = service_for(ws_server, db, cache)
    with streaming(service):
        wait_until(lambda: ws_server.clients("stocks") == 1)
        ws_server.publish("stocks", [minute_bar_events("AAPL", DAY)[:3]])
        wait_until(lambda: sql_conn.execute("SELECT count(*) FROM system_metrics WHERE component = 'stream'"
                                            " AND metric_name = 'messages_total' AND metric_value = 3").fetchone()[0])
    lag = sql_conn.execute("SELECT max(metric_value) FROM system_metrics WHERE component = 'stream'"
                           " AND metric_name = 'lag_p99_ms'").fetchone()[0]
    assert lag is not None and lag >= 0


def test_a_tick_seen_by_both_paths_is_stored_once_when_rest_lands_its_window(db, cache, sql_conn, ws_server,
                                                                              fake_polygon):
    from ats_pipelines.defs.market_data.assets import trades
    from tests.conftest import market_resources, metadata, run

    bar = minute_bar_events("AAPL", DAY)[0]
    service = service_for(ws_server, db, cache)
    with streaming(service):
        wait_until(lambda: ws_server.clients("stocks") == 1)
        ws_server.publish("stocks", [[{"ev": "T", "sym": "AAPL", "x": 4, "i": "77", "p": 171.5, "s": 100,
                                       "t": bar["s"] + 1_000, "q": 5}]])
        wait_until(lambda: cache.get("ws:last_trade:AAPL") is not None)
    assert sql_conn.execute("SELECT source FROM trades").fetchall() == [("polygon_ws",)]
    result = run([trades], market_resources(db, fake_polygon, stocks="AAPL"), "2024-03-07")
    sources = dict(sql_conn.execute("SELECT source, count(*) FROM trades GROUP BY 1").fetchall())
    assert set(sources) == {"polygon"} and sources["polygon"] == metadata(result, "trades")["rows_inserted"]
    assert metadata(result, "trades")["stream_rows_superseded"] == 1
