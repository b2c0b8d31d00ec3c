"""The daily horizon under the default limits: a signal of the daily model on today's 1d bar, placed at the
schedule's time after the close, becomes a market-on-open order (Alpaca ``opg``) that the simulated broker
fills at the next session's open, never earlier."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

import polars as pl
import pytest

from ats_pipelines.defs.models.run import DAILY_MODEL
from ats_pipelines.defs.trading.assets import StrategyConfig
from ats_pipelines.defs.trading.orders import client_order_id, order_id, place_orders, reconcile_orders
from ats_pipelines.defs.trading.risk import RiskLimits
from ats_pipelines.defs.trading.schedules import daily_orders_schedule
from ats_pipelines.fakes.alpaca_server import serve
from ats_pipelines.fakes.live_market import session_bars
from ats_pipelines.market_calendar import NEW_YORK
from ats_pipelines.resources.brokers import BrokerResource
from ats_pipelines.resources.simulated_broker import SimulatedBroker

DAY, NEXT = date(2024, 3, 6), date(2024, 3, 7)
DAILY_BAR = datetime(2024, 3, 6, tzinfo=NEW_YORK).astimezone(UTC)  # a 1d bar is stamped 00:00 New York
WINDOW = (datetime(2024, 3, 6, tzinfo=UTC), datetime(2024, 3, 7, tzinfo=UTC))  # the partition 2024-03-06


def schedule_time() -> datetime:
    """When daily_orders_schedule fires for DAY (19:50 New York)."""
    minute, hour = daily_orders_schedule.cron_schedule.split()[:2]
    return datetime(2024, 3, 6, int(hour), int(minute), tzinfo=NEW_YORK).astimezone(UTC)


def daily_signal(db, sql_conn) -> str:
    """The session's 1m bars, its 1d bar, and a buy of the active daily model on that bar; returns its id."""
    minutes = session_bars(["AAA"], DAY, DAY).filter(pl.col("timestamp").dt.date() == DAY)
    db.write("stock_aggs", minutes)
    db.write("stock_aggs", pl.DataFrame([{"timestamp": DAILY_BAR, "symbol": "AAA", "open": 50.0, "high": 51.0,
                                          "low": 49.0, "close": minutes["close"][-1], "volume": 10**6,
                                          "timeframe": "1d", "adjusted": True}]))
    model_id, signal = str(uuid.uuid4()), str(uuid.uuid4())
    sql_conn.execute("INSERT INTO models VALUES (%s, %s, 'xgboost', 't', '{sig}', '{\"timeframe\": \"1d\"}',"
                     " '{\"held_out\": {\"auc\": 0.6}}', now(), now(), '1', 'active', '/m.ubj')",
                     (model_id, DAILY_MODEL))
    sql_conn.execute("INSERT INTO trading_signals VALUES (%s, %s, 'AAA', 'buy', 0.7, %s, '1d', '{}', '{\"sig\": 1}')",
                     (signal, DAILY_BAR, model_id))
    return signal


def strategy_id(db) -> str:
    return StrategyConfig(strategy="daily", model_name=DAILY_MODEL).strategy_id(db)


def test_a_daily_signal_becomes_an_opg_order_filled_at_the_next_open_under_default_limits(db, cache, sql_conn):
    signal = daily_signal(db, sql_conn)
    now, strategy = schedule_time(), strategy_id(db)
    broker = SimulatedBroker.replaying(db, strategy, now)
    report = place_orders(db, cache, broker, strategy_id=strategy, model_name=DAILY_MODEL, window=WINDOW,
                          limits=RiskLimits(), now=now)
    assert (report.submitted, report.blocked, report.stopped) == (1, {}, None)
    order = order_id(signal, strategy)
    assert sql_conn.execute("SELECT status FROM orders WHERE order_id = %s", (order,)).fetchone()[0] == "accepted"
    # The next session's bars arrive; reconciliation fills the order at its opening bar's open.
    next_session = session_bars(["AAA"], NEXT, NEXT, seed=9).filter(pl.col("timestamp").dt.date() == NEXT)
    db.write("stock_aggs", next_session)
    broker.clock = datetime(2024, 3, 7, 16, tzinfo=UTC)
    assert reconcile_orders(db, broker) == 1
    status, price = sql_conn.execute("SELECT status, filled_price::float8 FROM orders WHERE order_id = %s",
                                     (order,)).fetchone()
    first = next_session.filter(pl.col("timestamp") >= datetime(2024, 3, 7, 14, 30, tzinfo=UTC)).row(0, named=True)
    assert status == "filled" and price == pytest.approx(round(first["open"] * 1.0005, 2), abs=0.006)


def test_the_daily_order_reaches_alpaca_as_market_on_open_and_fills_at_the_next_open(db, cache, sql_conn,
                                                                                    monkeypatch):
    monkeypatch.setenv("ALPACA_API_KEY_ID", "demo-key-id")
    monkeypatch.setenv("ALPACA_API_SECRET_KEY", "demo-secret")
    signal = daily_signal(db, sql_conn)
    strategy, order = strategy_id(db), None
    with serve() as alpaca, BrokerResource(kind="alpaca", alpaca_base_url=alpaca.base_url).broker(
            db, strategy) as broker:
        alpaca.clock = schedule_time
        alpaca.prices = {"AAA": 51.25}
        report = place_orders(db, cache, broker, strategy_id=strategy, model_name=DAILY_MODEL, window=WINDOW,
                              limits=RiskLimits(), now=schedule_time())
        order = order_id(signal, strategy)
        sent = alpaca.by_client_id[client_order_id(order)]
        assert report.submitted == 1 and sent["time_in_force"] == "opg"
        assert reconcile_orders(db, broker, strategy_id=strategy) == 0  # the evening: it waits for the open
        assert sent["status"] == "accepted" and broker.positions() == []
        next_open = datetime(2024, 3, 7, 9, 30, tzinfo=NEW_YORK)
        alpaca.clock = lambda: next_open - timedelta(seconds=1)
        assert reconcile_orders(db, broker, strategy_id=strategy) == 0 and sent["status"] == "accepted"
        alpaca.clock = lambda: next_open
        assert reconcile_orders(db, broker, strategy_id=strategy) == 1
        held = broker.positions()
    status, quantity, price = sql_conn.execute("SELECT status, filled_quantity::float8, filled_price::float8"
                                               " FROM orders WHERE order_id = %s", (order,)).fetchone()
    assert (status, price) == ("filled", 51.25) and quantity == held[0].qty > 0
    assert sent["filled_at"].startswith("2024-03-07T14:30:00")  # 09:30 New York


def test_a_stale_daily_signal_is_blocked_with_its_reason(db, cache, sql_conn):
    signal = daily_signal(db, sql_conn)
    now, strategy = schedule_time() + timedelta(days=1, hours=2), strategy_id(db)  # placed a day late: 21 h 50
    report = place_orders(db, cache, SimulatedBroker.replaying(db, strategy, now), strategy_id=strategy,
                          model_name=DAILY_MODEL, window=WINDOW, limits=RiskLimits(), now=now)
    assert report.submitted == 0 and report.blocked == {signal: "signal is 1310 minutes old (limit 60)"}
