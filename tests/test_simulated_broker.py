"""The simulated broker against bars in the real PostgreSQL: fills at the next bar's open with slippage and
commission, partial fills by volume share, P&L checked by hand to the cent."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import polars as pl

from ats_pipelines.resources.broker import OrderRequest
from ats_pipelines.resources.simulated_broker import SimulatedBroker

T0 = datetime(2024, 3, 7, 14, 30, tzinfo=UTC)


def bars(db, opens: list[float], volume: int = 10_000) -> None:
    db.write("stock_aggs", pl.DataFrame([{
        "timestamp": T0 + timedelta(minutes=i), "symbol": "AAPL", "open": o, "high": o + 1, "low": o - 1,
        "close": o + 0.5, "volume": volume, "timeframe": "1m", "adjusted": True} for i, o in enumerate(opens)]))


def test_a_round_trip_matches_the_hand_computed_pnl_to_the_cent(db):
    bars(db, [100.00, 101.00, 103.00, 104.00])
    broker = SimulatedBroker(db, T0, slippage_bps=10, commission_per_share=0.01, cash=10_000)
    buy = broker.submit_order(OrderRequest("b1", "AAPL", "buy", 10))
    # the bar opening at 14:30 opens at 100.00; +10 bp = 100.10; commission 10 x 0.01 = 0.10
    assert (buy.status, buy.filled_qty, buy.filled_avg_price, buy.commission) == ("filled", 10.0, 100.10, 0.10)
    assert broker.cash == Decimal("8998.90")  # 10,000 - 1,001.00 - 0.10
    broker.clock = T0 + timedelta(minutes=1, seconds=30)
    [position] = broker.positions()
    # marked at the close of the last bar that had ended by 14:31:30 (the 14:30 bar: 100.50), not the open one
    assert (position.qty, position.avg_entry_price, position.current_price) == (10.0, 100.10, 100.50)
    assert position.unrealized_pl == 4.00  # (100.50 - 100.10) x 10
    sell = broker.submit_order(OrderRequest("s1", "AAPL", "sell", 10))
    # the next bar to open is 14:32's at 103.00; -10 bp = 102.897 -> 102.90
    # realised (102.90 - 100.10) x 10 = 28.00, minus 0.20 commission
    assert sell.filled_avg_price == 102.90
    assert broker.realized_pnl == Decimal("27.80")
    assert broker.cash == Decimal("10027.80") and broker.equity() == Decimal("10027.80")
    assert broker.positions() == []
    assert broker.submit_order(OrderRequest("s1", "AAPL", "sell", 10)) == sell  # idempotent by client id


def test_an_order_larger_than_the_volume_share_fills_over_several_bars(db):
    bars(db, [100.00, 100.00, 102.00, 104.00], volume=50)  # 10 % of 50 = 5 shares a bar
    broker = SimulatedBroker(db, T0, slippage_bps=0, commission_per_share=0, max_volume_share=0.1)
    order = broker.submit_order(OrderRequest("b1", "AAPL", "buy", 22))
    assert (order.status, order.filled_qty) == ("partially_filled", 20.0)  # 5 at 100, 100, 102, 104; 2 left
    assert order.filled_avg_price == 101.5
    assert [o.client_order_id for o in broker.open_orders()] == ["b1"]
    assert broker.cancel_all_orders() == 1 and broker.open_orders() == []


def test_a_backtest_trades_the_signals_at_the_next_open_and_reports_the_equity_curve(db, sql_conn, database_url,
                                                                                       monkeypatch):
    import uuid

    from click.testing import CliRunner

    from ats_pipelines.cli import main

    bars(db, [100.00, 101.00, 103.00, 104.00, 99.00])
    model_id = str(uuid.uuid4())
    sql_conn.execute("INSERT INTO models VALUES (%s, 'bt', 'xgboost', 't', '{sig}', '{}', '{}', now(), now(), '1',"
                     " 'active', '/m.ubj')", (model_id,))
    for minute, side in ((0, "buy"), (1, "sell")):
        sql_conn.execute("INSERT INTO trading_signals VALUES (%s, %s, 'AAPL', %s, 0.7, %s, '1m', '{}', '{}')",
                         (str(uuid.uuid4()), T0 + timedelta(minutes=minute), side, model_id))
    monkeypatch.setenv("ATS_DATABASE_URL", database_url)
    result = CliRunner().invoke(main, ["backtest", "--model", "bt", "--cash", "10000"])
    assert result.exit_code == 0, result.output
    # The buy signal of the 14:30 bar acts when that bar ends (14:31): sized at its close 100.50, floor(10,000 /
    # 100.50) = 99 shares, filled at 14:31's open 101.00 +5 bp = 101.05 (commission 99 x 0.005 = 0.495 -> 0.50).
    # The sell of the 14:31 bar acts at 14:32: 103.00 -5 bp = 102.9485 -> 102.95 (commission 0.50).
    assert "orders 2, signals blocked by the risk limits 0" in result.output
    buy_price, sell_price, shares = Decimal("101.05"), Decimal("102.95"), 99
    pnl = (sell_price - buy_price) * shares - Decimal("0.50") - Decimal("0.50")
    assert pnl == Decimal("187.10")
    assert f"realised P&L {pnl:,.2f}" in result.output
    assert f"equity 10,000.00 -> {Decimal(10_000) + pnl:,.2f}" in result.output


# Corporate actions in the replayed book (issue 24, defect 7) -----------------------------------------------

BOUGHT = datetime(2024, 3, 6, 15, 0, tzinfo=UTC)  # 25 shares at 400, the day before a 4:1 split
EVENING = datetime(2024, 3, 6, 22, 0, tzinfo=UTC)
SPLIT_DAY = datetime(2024, 3, 7, 16, 0, tzinfo=UTC)


def held_before_a_split(db, sql_conn, *, history_adjusted: bool) -> str:
    """A strategy that bought 25 AAPL at 400 on March 6; a 4:1 split executes March 7. The stored bars are in
    post-split units from March 7 on, and before it too once the history was re-fetched adjusted."""
    import uuid

    strategy = str(uuid.uuid4())
    sql_conn.execute("INSERT INTO strategies (strategy_id, name) VALUES (%s, 'split-test')", (strategy,))
    sql_conn.execute("INSERT INTO orders VALUES (%s, 'sim-1', %s, 'AAPL', 'market', 'buy', 25, NULL, 'filled', NULL,"
                     " %s, 25, 400, 0, %s)", (str(uuid.uuid4()), BOUGHT, strategy, BOUGHT))
    sql_conn.execute("INSERT INTO stock_splits (symbol, execution_date, split_from, split_to, history_adjusted_at)"
                     " VALUES ('AAPL', '2024-03-07', 1, 4, %s)", (SPLIT_DAY if history_adjusted else None,))
    before = 100.0 if history_adjusted else 400.0
    db.write("stock_aggs", pl.DataFrame([{
        "timestamp": t, "symbol": "AAPL", "open": p, "high": p, "low": p, "close": p, "volume": 1000,
        "timeframe": "1m", "adjusted": True}
        for t, p in ((datetime(2024, 3, 6, 20, 59, tzinfo=UTC), before), (datetime(2024, 3, 7, 14, 30, tzinfo=UTC),
                                                                          100.0))]))
    return strategy


def test_a_4_for_1_split_on_a_held_position_changes_neither_equity_nor_the_days_pnl(db, sql_conn):
    strategy = held_before_a_split(db, sql_conn, history_adjusted=False)
    before = SimulatedBroker.replaying(db, strategy, EVENING, cash=100_000)
    after = SimulatedBroker.replaying(db, strategy, SPLIT_DAY, cash=100_000)
    assert before.equity() == Decimal("100000.00")  # 90,000 cash + 25 x 400
    assert abs(after.equity() - before.equity()) <= Decimal("0.01")
    day_pnl = [b.account().equity - b.account().last_equity for b in (before, after)]
    assert abs(day_pnl[1] - day_pnl[0]) <= 0.01
    [position] = after.positions()
    assert (position.qty, position.avg_entry_price, position.current_price) == (100.0, 100.0, 100.0)


def test_a_split_is_in_the_book_once_the_history_is_adjusted_even_before_its_day(db, sql_conn):
    strategy = held_before_a_split(db, sql_conn, history_adjusted=True)  # March 6 bars now read 100
    for clock in (EVENING, SPLIT_DAY):
        broker = SimulatedBroker.replaying(db, strategy, clock, cash=100_000)
        assert broker.equity() == Decimal("100000.00")
        assert [(p.qty, p.unrealized_pl) for p in broker.positions()] == [(100.0, 0.0)]


def test_a_dividend_is_credited_once_on_its_pay_date_for_the_shares_held_at_the_ex_date(db, sql_conn):
    strategy = held_before_a_split(db, sql_conn, history_adjusted=False)
    sql_conn.execute("INSERT INTO dividends (symbol, ex_dividend_date, dividend_type, cash_amount, pay_date)"
                     " VALUES ('AAPL', '2024-03-08', 'CD', 0.24, '2024-03-14')")  # after the split: 100 shares
    cash = {}
    for clock in (datetime(2024, 3, 8, 16, tzinfo=UTC), datetime(2024, 3, 14, 16, tzinfo=UTC),
                  datetime(2024, 3, 20, 16, tzinfo=UTC)):
        broker = SimulatedBroker.replaying(db, strategy, clock, cash=100_000)
        cash[clock.day] = (broker.cash, broker.dividends)
    assert cash[8] == (Decimal("90000.00"), Decimal(0))  # ex-date passed, not paid yet
    assert cash[14] == cash[20] == (Decimal("90024.00"), Decimal("24.00"))  # 100 x 0.24, once
