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
    # the next bar after 14:30 opens at 101.00; +10 bp = 101.101 -> 101.10; commission 10 x 0.01 = 0.10
    assert (buy.status, buy.filled_qty, buy.filled_avg_price, buy.commission) == ("filled", 10.0, 101.10, 0.10)
    assert broker.cash == Decimal("8988.90")  # 10,000 - 1,011.00 - 0.10
    broker.clock = T0 + timedelta(minutes=1, seconds=30)
    [position] = broker.positions()
    assert (position.qty, position.avg_entry_price, position.current_price) == (10.0, 101.10, 101.50)
    assert position.unrealized_pl == 4.00  # (101.50 - 101.10) x 10
    sell = broker.submit_order(OrderRequest("s1", "AAPL", "sell", 10))
    # next open 103.00; -10 bp = 102.897 -> 102.90; realised (102.90 - 101.10) x 10 = 18.00, minus 0.20 commission
    assert sell.filled_avg_price == 102.90
    assert broker.realized_pnl == Decimal("17.80")
    assert broker.cash == Decimal("10017.80") and broker.equity() == Decimal("10017.80")
    assert broker.positions() == []
    assert broker.submit_order(OrderRequest("s1", "AAPL", "sell", 10)) == sell  # idempotent by client id


def test_an_order_larger_than_the_volume_share_fills_over_several_bars(db):
    bars(db, [100.00, 100.00, 102.00, 104.00], volume=50)  # 10 % of 50 = 5 shares a bar
    broker = SimulatedBroker(db, T0, slippage_bps=0, commission_per_share=0, max_volume_share=0.1)
    order = broker.submit_order(OrderRequest("b1", "AAPL", "buy", 17))
    assert (order.status, order.filled_qty) == ("partially_filled", 15.0)  # 5 at 100, 102 and 104; 2 left
    assert order.filled_avg_price == 102.0
    assert [o.client_order_id for o in broker.open_orders()] == ["b1"]
    assert broker.cancel_all_orders() == 1 and broker.open_orders() == []
