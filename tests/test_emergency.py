"""The emergency stop against the real PostgreSQL and Redis, with the local Alpaca-compatible broker."""

from __future__ import annotations

import json

import psycopg
import pytest
from click.testing import CliRunner

from ats_pipelines.cli import main
from ats_pipelines.defs.trading.emergency import resume, stop_state, trigger_stop
from ats_pipelines.fakes.alpaca_server import serve
from ats_pipelines.resources import RedisResource, TimescaleResource
from ats_pipelines.resources.alpaca import AlpacaResource
from ats_pipelines.resources.broker import OrderRequest

DOWN_REDIS = RedisResource(redis_url="redis://127.0.0.1:1/0")  # nothing listens there
DOWN_DB = TimescaleResource(database_url="postgresql://127.0.0.1:1/none", connect_timeout_seconds=1)


@pytest.fixture
def broker():
    with serve() as server:
        server.prices = {"AAPL": 190.0, "MSFT": 400.0}
        resource = AlpacaResource(api_key="demo-key-id", secret_key="demo-secret", base_url=server.base_url)
        with resource.broker() as client:
            yield server, client


def test_a_stop_cancels_liquidates_and_blocks_until_resumed(db, cache, sql_conn, broker):
    server, client = broker
    assert stop_state(db, cache).orders_allowed
    client.submit_order(OrderRequest("a-1", "AAPL", "buy", 10))
    server.fill = False
    client.submit_order(OrderRequest("m-1", "MSFT", "buy", 5))  # stays open
    event = trigger_stop(db, cache, client, trigger_type="manual", description="test", triggered_by="pytest",
                         liquidate=True)
    state = stop_state(db, cache)
    assert state.active is True and not state.orders_allowed
    assert client.open_orders() == [] or all(o.client_order_id.startswith("liquidate-") for o in client.open_orders())
    assert server.by_client_id["m-1"]["status"] == "canceled"
    row = sql_conn.execute("SELECT trigger_type, action_taken, positions_closed, resolution_time, metadata"
                           " FROM emergency_events WHERE event_id = %s", (event,)).fetchone()
    assert row[:4] == ("manual", "liquidate", 1, None) and row[4]["orders_canceled"] == 1
    assert json.loads(cache.get("emergency:status"))["active"] is True
    assert sql_conn.execute("SELECT alert_type, severity, metadata->>'event_id' FROM alerts").fetchall() == [
        ("emergency_stop", "critical", event)]
    assert resume(db, cache, resolution="checked, fine", resolved_by="pytest") == 1
    assert stop_state(db, cache).orders_allowed
    assert sql_conn.execute("SELECT metadata->>'resolution' FROM emergency_events").fetchone()[0] == "checked, fine"
    assert sql_conn.execute("SELECT status, resolved_at IS NOT NULL FROM alerts").fetchall() == [("resolved", True)]


def test_with_redis_down_the_database_still_blocks_and_with_both_down_nothing_is_allowed(db, cache):
    trigger_stop(db, DOWN_REDIS, None, trigger_type="manual", description="redis is down", triggered_by="pytest")
    assert stop_state(db, DOWN_REDIS).active is True
    assert stop_state(db, cache).active is True  # Redis never heard of it: the database still blocks
    unknown = stop_state(DOWN_DB, DOWN_REDIS)
    assert unknown.active is None and not unknown.orders_allowed and "unknown" in unknown.detail
    resume(db, cache, resolution="ok", resolved_by="pytest")
    assert stop_state(db, DOWN_REDIS).orders_allowed  # the database alone says no stop


def test_a_stale_redis_flag_blocks_even_when_the_database_has_no_stop(db, cache):
    cache.set_values({"emergency:status": json.dumps({"active": True})})
    assert not stop_state(db, cache).orders_allowed


def test_the_cli_stops_and_resumes(database_url, db, cache, sql_conn, monkeypatch):  # db: emptied afterwards
    monkeypatch.setenv("ATS_DATABASE_URL", database_url)
    monkeypatch.setenv("ATS_REDIS_URL", cache.url)
    monkeypatch.delenv("ALPACA_API_KEY_ID", raising=False)
    stopped = CliRunner().invoke(main, ["emergency-stop", "--reason", "fat finger"])
    assert stopped.exit_code == 0 and "in force" in stopped.output
    with psycopg.connect(database_url) as conn:
        assert conn.execute("SELECT description FROM emergency_events WHERE resolution_time IS NULL").fetchall() == [
            ("fat finger",)]
    resumed = CliRunner().invoke(main, ["resume", "--resolution", "reviewed"])
    assert resumed.exit_code == 0 and "1 emergency stop(s) resolved" in resumed.output
    assert json.loads(cache.get("emergency:status"))["active"] is False
