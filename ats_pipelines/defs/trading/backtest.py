"""A backtest: a model's stored signals, sized by the risk limits, filled by the simulated broker against the
stored bars; an equity curve, its summary, and daily trading_metrics.

Each signal is acted on at the end of its bar (when its features were known) and fills at the next bar's
open, so no trade uses a price from before the signal existed.
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import polars as pl

from ats_pipelines.defs.trading.orders import ORDER_NAMESPACE
from ats_pipelines.defs.trading.risk import Book, RiskLimits, size_order
from ats_pipelines.resources import TimescaleResource
from ats_pipelines.resources.broker import OrderRequest
from ats_pipelines.resources.simulated_broker import BAR_LENGTH, SimulatedBroker
from ats_pipelines.sql_files import read_sql_beside

BACKTEST_SIGNALS_SQL = read_sql_beside(__file__, "backtest_signals.sql")


@dataclass(frozen=True)
class BacktestResult:
    """The equity curve (one point per signal day, at its last signal) and the figures a user asks first."""

    curve: pl.DataFrame  # day, equity
    orders: int
    blocked: int
    start_equity: float
    end_equity: float
    realized_pnl: float
    commissions: float
    max_drawdown: float  # fraction of the peak
    sharpe: float | None  # daily returns, annualised (252)

    def summary(self) -> str:
        total = self.end_equity / self.start_equity - 1
        sharpe = f"{self.sharpe:.2f}" if self.sharpe is not None else "n/a (fewer than 2 days)"
        lines = [f"orders {self.orders}, signals blocked by the risk limits {self.blocked}",
                 f"equity {self.start_equity:,.2f} -> {self.end_equity:,.2f} ({total:+.2%})",
                 f"realised P&L {self.realized_pnl:,.2f}, commissions {self.commissions:,.2f}",
                 f"max drawdown {self.max_drawdown:.2%}, Sharpe {sharpe}", "equity curve:"]
        lines += [f"  {day}  {equity:>14,.2f}" for day, equity in self.curve.iter_rows()]
        return "\n".join(lines)


def run_backtest(timescale: TimescaleResource, model_name: str, start: datetime, end: datetime,
                 limits: RiskLimits, cash: float = 100_000.0, slippage_bps: float = 5.0,
                 commission_per_share: float = 0.005) -> BacktestResult:
    signals = timescale.read(BACKTEST_SIGNALS_SQL, {"model_name": model_name, "start": start, "end": end})
    timeframe = signals["timeframe"][0] if signals.height else "1m"
    broker = SimulatedBroker(timescale, start, timeframe=timeframe, slippage_bps=slippage_bps,
                             commission_per_share=commission_per_share, cash=cash)
    orders = blocked = 0
    curve: dict[str, float] = {}
    limits = RiskLimits(**{**vars(limits), "max_signal_age_minutes": math.inf, "max_orders_per_day": 10**9})
    for signal in signals.iter_rows(named=True):
        broker.clock = signal["timestamp"] + BAR_LENGTH[timeframe]
        held = {p.symbol: p for p in broker.positions()}
        book = Book({s: p.qty for s, p in held.items()}, {s: p.current_price for s, p in held.items()}, 0)
        quantity, reason = size_order(signal["signal_type"], signal["symbol"], broker.mark(signal["symbol"]), 0.0,
                                      book, limits)
        if reason:
            blocked += 1
        else:
            order_id = uuid.uuid5(ORDER_NAMESPACE, f"backtest|{signal['signal_id']}")
            broker.submit_order(OrderRequest(f"bt-{order_id.hex}", signal["symbol"], signal["signal_type"], quantity))
            orders += 1
        curve[broker.clock.astimezone(UTC).date().isoformat()] = float(broker.equity())
    equity = pl.DataFrame({"day": list(curve), "equity": list(curve.values())},
                          schema={"day": pl.String, "equity": pl.Float64})
    values = equity["equity"].to_list() or [cash]
    peaks = [max(values[: i + 1]) for i in range(len(values))]
    drawdown = max((1 - v / p for v, p in zip(values, peaks, strict=True)), default=0.0)
    returns = pl.Series([cash, *values]).pct_change().drop_nulls()
    sharpe = (float(returns.mean() / returns.std() * math.sqrt(252))
              if returns.len() > 1 and returns.std() not in (None, 0.0) else None)
    return BacktestResult(equity, orders, blocked, cash, values[-1], float(broker.realized_pnl),
                          float(broker.commissions), drawdown, sharpe)
