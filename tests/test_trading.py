"""Signals into orders and positions against the real PostgreSQL and Redis, with the local Alpaca-compatible
broker: exactly one order per signal (even when a submit's answer is lost), risk limits, partial fills and
rejections, the emergency stop checked before each submit, positions with P&L."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import dagster as dg
import polars as pl

from ats_pipelines.defs.trading.assets import StrategyConfig, orders, positions
from ats_pipelines.defs.trading.emergency import trigger_stop
from ats_pipelines.defs.trading.orders import PlacementReport, place_orders, reconcile_orders, sync_positions
from ats_pipelines.defs.trading.risk import RiskLimits
from ats_pipelines.resources.brokers import BrokerResource
from ats_pipelines.resources.simulated_broker import SimulatedBroker
from tests.conftest import ALPACA_PRICES as PRICES

RECORDED = datetime(2024, 3, 7, 15, 0, tzinfo=UTC)  # 10:00 New York: recorded bars, traded on a clock at their time


def day_of(t0: datetime) -> str:
    return f"{t0:%Y-%m-%d}"


def broker_for(server, timeout: float = 0.5) -> BrokerResource:
    return BrokerResource(kind="alpaca", alpaca_base_url=server.base_url, timeout_seconds=timeout)


def write_signals(db, sql_conn, t0: datetime, signals: list[tuple[str, str, int]]) -> None:
    """A model (created on first use) and its signals ((symbol, side, minute)), with the bars they were scored on."""
    sql_conn.execute("INSERT INTO models VALUES (%s, 'next_bar_direction_xgb', 'xgboost', 't', '{sig}', '{}',"
                     " '{\"held_out\": {\"auc\": 0.6}}', now(), now(), '1', 'active', '/m.ubj')"
                     " ON CONFLICT (model_name, version) DO NOTHING", (str(uuid.uuid4()),))
    model_id = sql_conn.execute("SELECT model_id FROM models WHERE model_name = 'next_bar_direction_xgb'").fetchone()[0]
    for symbol, side, minute in signals:
        t = t0 + timedelta(minutes=minute)
        sql_conn.execute("INSERT INTO trading_signals VALUES (%s, %s, %s, %s, 0.7, %s, '1m', '{}', '{\"sig\": 1}')",
                         (str(uuid.uuid4()), t, symbol, side, model_id))
    db.write("stock_aggs", pl.DataFrame([{
        "timestamp": t0 + timedelta(minutes=m), "symbol": s, "open": PRICES[s], "high": PRICES[s], "low": PRICES[s],
        "close": PRICES[s], "volume": 1000, "timeframe": "1m", "adjusted": True} for s, _, m in signals]))


def trade(db, cache, server, t0: datetime, raise_on_error: bool = True, **config):
    """The orders and positions of ``t0``'s day, under the default limits but for those in ``config``."""
    settings = {"config": config}
    run_config = {"ops": {"orders": settings, "positions": settings}}
    return dg.materialize([orders, positions], partition_key=day_of(t0), instance=dg.DagsterInstance.ephemeral(),
                          resources={"timescale": db, "redis": cache, "broker": broker_for(server)},
                          run_config=run_config, raise_on_error=raise_on_error)


def meta(result, asset="orders") -> dict:
    event = next(e for e in result.get_asset_materialization_events() if e.asset_key.to_user_string() == asset)
    return {k: v.value for k, v in event.materialization.metadata.items()}


def test_a_signal_becomes_exactly_one_order_even_when_the_submit_answer_is_lost(db, cache, sql_conn, alpaca, t0):
    write_signals(db, sql_conn, t0, [("AAPL", "buy", 0)])
    alpaca.accept_then_stall_seconds = 2.0  # the broker takes the order, the answer never arrives in time
    first = trade(db, cache, alpaca, t0)
    assert meta(first)["orders_submitted"] == 1 and len(alpaca.orders) == 1
    row = sql_conn.execute("SELECT status, quantity::float8, filled_quantity::float8, filled_price::float8,"
                           " external_order_id, strategy_id IS NOT NULL FROM orders").fetchone()
    assert row == ("filled", 52.0, 52.0, 190.0, next(iter(alpaca.orders)), True)  # floor(10,000 / 190)
    trade(db, cache, alpaca, t0)  # a re-run of the same partition
    assert len(alpaca.orders) == 1 and sql_conn.execute("SELECT count(*) FROM orders").fetchone()[0] == 1
    pos = sql_conn.execute("SELECT symbol, quantity::float8, entry_price::float8, status FROM positions").fetchall()
    assert pos == [("AAPL", 52.0, 190.0, "open")]


def test_risk_limits_block_with_a_reason_and_partial_fills_and_rejections_are_recorded(db, cache, sql_conn, alpaca,
                                                                                      t0):
    write_signals(db, sql_conn, t0, [("AAPL", "buy", 0), ("AAPL", "buy", 1), ("AAPL", "buy", 2), ("MSFT", "sell", 3),
                                 ("TSLA", "buy", 4), ("NVDA", "buy", 5)])
    alpaca.reject_symbols = {"TSLA"}
    alpaca.partial_fill_share = 0.5
    result = trade(db, cache, alpaca, t0, max_position_value=20_000)
    md = meta(result)
    assert (md["orders_submitted"], md["orders_rejected"], md["signals_blocked"]) == (3, 1, 2)
    reasons = {r[0] for r in sql_conn.execute("SELECT message FROM alerts WHERE alert_type = 'risk_limit'")}
    assert any("position in AAPL would be" in r and "limit 20,000.00" in r for r in reasons)
    assert any("nothing held to sell" in r for r in reasons)
    statuses = dict(sql_conn.execute("SELECT symbol, status FROM orders WHERE symbol <> 'AAPL'").fetchall())
    assert statuses == {"TSLA": "rejected", "NVDA": "partially_filled"}
    rejected = sql_conn.execute("SELECT message FROM alerts WHERE alert_type = 'order_rejected'").fetchone()[0]
    assert "insufficient buying power" in rejected
    trade(db, cache, alpaca, t0, max_position_value=20_000)
    assert sql_conn.execute("SELECT count(*) FROM alerts").fetchone()[0] == 3  # never the same alert twice


def test_the_emergency_stop_blocks_the_next_order_and_a_broker_error_streak_triggers_it(db, cache, sql_conn, alpaca,
                                                                                        t0):
    write_signals(db, sql_conn, t0, [("AAPL", "buy", 0), ("MSFT", "buy", 1)])
    trigger_stop(db, cache, None, trigger_type="manual", description="test", triggered_by="pytest")
    md = meta(trade(db, cache, alpaca, t0))
    assert md["orders_submitted"] == 0 and "emergency stop in force" in md["emergency_stop"]
    assert alpaca.orders == {} and sql_conn.execute("SELECT count(*) FROM orders").fetchone()[0] == 0
    sql_conn.execute("UPDATE emergency_events SET resolution_time = now()")
    cache.set_values({"emergency:status": json.dumps({"active": False})})
    alpaca.reject_symbols = {"AAPL", "MSFT"}
    md = meta(trade(db, cache, alpaca, t0, max_broker_errors_in_a_row=2))
    assert md["orders_rejected"] == 2 and md["emergency_stop"] == "2 broker errors in a row"
    assert sql_conn.execute("SELECT trigger_type FROM emergency_events WHERE resolution_time IS NULL"
                            ).fetchall() == [("broker_errors",)]
    assert json.loads(cache.get("emergency:status"))["active"] is True


def test_closed_positions_are_kept_and_pnl_follows_the_broker(db, cache, sql_conn, alpaca, t0):
    write_signals(db, sql_conn, t0, [("AAPL", "buy", 0)])
    trade(db, cache, alpaca, t0)
    alpaca.positions["AAPL"].update(current_price="200.00", unrealized_pl="520.00", unrealized_plpc="0.052632")
    dg.materialize([positions], instance=dg.DagsterInstance.ephemeral(),
                   resources={"timescale": db, "broker": broker_for(alpaca)})
    assert sql_conn.execute("SELECT pnl::float8, pnl_percentage::float8, current_price::float8 FROM positions"
                            ).fetchone() == (520.0, 5.263158, 200.0)  # (200 - 190) / 190, from the strategy's fill
    alpaca.positions.clear()
    dg.materialize([positions], instance=dg.DagsterInstance.ephemeral(),
                   resources={"timescale": db, "broker": broker_for(alpaca)})
    assert sql_conn.execute("SELECT symbol, status FROM positions").fetchall() == [("AAPL", "closed")]


def test_a_days_loss_beyond_the_limit_stops_all_trading(db, cache, sql_conn, alpaca, t0):
    write_signals(db, sql_conn, t0, [("AAPL", "buy", 0)])
    alpaca.last_equity = 103_000.0  # equity is 100,000: the day lost 3,000
    md = meta(trade(db, cache, alpaca, t0, max_daily_loss=2_000))
    assert md["orders_submitted"] == 0 and "beyond the loss limit" in md["emergency_stop"]
    assert alpaca.orders == {}
    assert sql_conn.execute("SELECT trigger_type, triggered_by FROM emergency_events").fetchall() == [
        ("daily_loss", "risk")]


def test_the_stop_conditions():
    from ats_pipelines.defs.trading.risk import RiskLimits, stop_trigger

    limits = RiskLimits(max_daily_loss=1_000, max_drawdown=0.05, max_data_age_minutes=10)
    session = datetime(2024, 3, 7, 15, 0, tzinfo=UTC)  # 10:00 New York
    fresh = session - timedelta(minutes=3)
    assert stop_trigger(limits, equity=100_000, last_equity=100_500, peak_equity=None, newest_bar=fresh,
                        now=session) is None
    assert stop_trigger(limits, equity=100_000, last_equity=101_500, peak_equity=None, newest_bar=fresh,
                        now=session)[0] == "daily_loss"
    assert stop_trigger(limits, equity=100_000, last_equity=100_000, peak_equity=110_000, newest_bar=fresh,
                        now=session)[0] == "drawdown"
    stale = session - timedelta(minutes=30)
    assert stop_trigger(limits, equity=100_000, last_equity=100_000, peak_equity=None, newest_bar=stale,
                        now=session)[0] == "stale_market_data"
    closed = datetime(2024, 3, 9, 15, 0, tzinfo=UTC)  # a Saturday: old data is normal
    assert stop_trigger(limits, equity=100_000, last_equity=100_000, peak_equity=None, newest_bar=stale,
                        now=closed) is None


def place_at(db, cache, now: datetime, **limits) -> PlacementReport:
    """One placement run of the default strategy on the simulated broker whose clock is ``now`` (what the orders
    and positions assets do, on a clock at the recorded signals' time instead of the wall clock): orders of
    the day of ``now``, reconciliation, positions."""
    strategy = StrategyConfig().strategy_id(db)
    broker = SimulatedBroker.replaying(db, strategy, now, slippage_bps=0, commission_per_share=0.01)
    day = now.replace(hour=0, minute=0, second=0, microsecond=0)
    report = place_orders(db, cache, broker, strategy_id=strategy, model_name="next_bar_direction_xgb",
                          window=(day, day + timedelta(days=1)), limits=RiskLimits(**limits), now=now)
    reconcile_orders(db, broker, strategy_id=strategy)
    sync_positions(db, broker, strategy)
    return report


def test_the_simulated_broker_trades_the_signals_and_remembers_its_book_between_runs(db, cache, sql_conn):
    write_signals(db, sql_conn, RECORDED, [("AAPL", "buy", 0)])
    db.write("stock_aggs", pl.DataFrame([{  # the bars after the signal's: the order fills at the next open
        "timestamp": RECORDED + timedelta(minutes=m), "symbol": "AAPL", "open": o, "high": o + 1, "low": o - 1,
        "close": o, "volume": 100_000, "timeframe": "1m", "adjusted": True} for m, o in ((1, 191.0), (2, 192.0))]))
    reports = [place_at(db, cache, RECORDED + timedelta(minutes=minutes, seconds=5)) for minutes in (1, 3)]
    assert [r.submitted for r in reports] == [1, 0]  # the second run finds the order in the book
    assert sql_conn.execute("SELECT status, quantity::float8, filled_price::float8, commission::float8 FROM orders"
                            ).fetchall() == [("filled", 52.0, 191.0, 0.52)]
    assert sql_conn.execute("SELECT quantity::float8, entry_price::float8, current_price::float8, pnl::float8"
                            " FROM positions").fetchall() == [(52.0, 191.0, 192.0, 52.0)]


def test_a_submit_without_a_clear_answer_stays_pending_and_reconciliation_settles_it(db, cache, sql_conn, alpaca, t0):
    write_signals(db, sql_conn, t0, [("AAPL", "buy", 0)])
    alpaca.unavailable_posts = 2  # the submit and its one resend both get 503: the broker never took it
    md = meta(trade(db, cache, alpaca, t0))
    assert (md["orders_submitted"], md["orders_rejected"], md["orders_uncertain"]) == (0, 0, 1)
    assert alpaca.orders == {}
    assert sql_conn.execute("SELECT status FROM orders").fetchone() == ("pending_new",)  # not "rejected"
    assert sql_conn.execute("SELECT alert_type FROM alerts").fetchall() == [("order_uncertain",)]
    trade(db, cache, alpaca, t0)  # a re-run never submits it again (its order row exists) and nothing doubles
    assert alpaca.orders == {} and sql_conn.execute("SELECT count(*) FROM orders").fetchone()[0] == 1


def test_replaying_past_signals_on_the_simulated_broker_marks_only_what_was_known_then(db, cache, sql_conn):
    write_signals(db, sql_conn, RECORDED, [("AAPL", "buy", 0), ("MSFT", "buy", 1)])
    later = [(m, o) for m, o in ((1, 191.0), (2, 401.0))] + [(3 * 24 * 60, 100.0)]  # a crash three days later
    db.write("stock_aggs", pl.DataFrame([{
        "timestamp": RECORDED + timedelta(minutes=m), "symbol": s, "open": o if s == "AAPL" else o + 210,
        "high": o + 300, "low": o - 1, "close": o if s == "AAPL" else o + 210, "volume": 100_000,
        "timeframe": "1m", "adjusted": True} for m, o in later for s in ("AAPL", "MSFT")]))
    report = place_at(db, cache, RECORDED + timedelta(minutes=2, seconds=5), max_daily_loss=2_000)
    # Marked at the crash, the AAPL buy would show a 4,700 loss before the MSFT order and stop all trading.
    assert (report.submitted, report.stopped) == (2, None)
