"""Position sizing, the risk limits every order must pass, and the conditions that stop all trading."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

from ats_pipelines.market_calendar import sessions


@dataclass(frozen=True)
class RiskLimits:
    """Per strategy: what one signal buys, and the limits no order may break."""

    notional_per_signal: float = 10_000.0
    max_position_value: float = 25_000.0
    max_gross_exposure: float = 100_000.0
    max_orders_per_day: int = 50
    max_signal_age_minutes: float = 60.0
    max_broker_errors_in_a_row: int = 3
    max_daily_loss: float = 2_000.0
    max_drawdown: float = 0.10
    max_data_age_minutes: float = 15.0


@dataclass
class Book:
    """What the strategy holds while a run places orders (quantities by symbol, at the sizing prices)."""

    quantities: dict[str, float]
    prices: dict[str, float]
    orders_today: int

    def value(self, symbol: str) -> float:
        return abs(self.quantities.get(symbol, 0.0)) * self.prices.get(symbol, 0.0)

    @property
    def gross(self) -> float:
        return sum(self.value(s) for s in self.quantities)


def size_order(side: str, symbol: str, price: float | None, age_minutes: float, book: Book, limits: RiskLimits
               ) -> tuple[float, str | None]:
    """``(quantity, None)`` for an order that passes every limit, or ``(0, reason)`` for one that may not go out.
    Buys spend ``notional_per_signal`` in whole shares; sells close what is held (no short selling)."""
    if age_minutes > limits.max_signal_age_minutes:
        return 0, f"signal is {age_minutes:.0f} minutes old (limit {limits.max_signal_age_minutes:.0f})"
    if price is None or price <= 0:
        return 0, "no price for the signal's bar"
    if book.orders_today >= limits.max_orders_per_day:
        return 0, f"{book.orders_today} orders today (limit {limits.max_orders_per_day})"
    book.prices[symbol] = price
    if side == "sell":
        held = book.quantities.get(symbol, 0.0)
        return (held, None) if held > 0 else (0, "nothing held to sell (short selling is off)")
    quantity = math.floor(limits.notional_per_signal / price)
    if quantity < 1:
        return 0, f"price {price} above the notional per signal {limits.notional_per_signal}"
    added = quantity * price
    if book.value(symbol) + added > limits.max_position_value:
        return 0, (f"position in {symbol} would be {book.value(symbol) + added:,.2f} "
                   f"(limit {limits.max_position_value:,.2f})")
    if book.gross + added > limits.max_gross_exposure:
        return 0, f"gross exposure would be {book.gross + added:,.2f} (limit {limits.max_gross_exposure:,.2f})"
    return quantity, None


def stop_trigger(limits: RiskLimits, *, equity: float, last_equity: float, peak_equity: float | None,
                 newest_bar: datetime | None, now: datetime) -> tuple[str, str] | None:
    """``(trigger_type, description)`` of the first condition that must stop all trading, else None: the day's
    loss, the drawdown from the peak equity, or market data older than ``max_data_age_minutes`` while the
    NYSE session is open (early closes included)."""
    day = equity - last_equity
    if day < -limits.max_daily_loss:
        return "daily_loss", f"the day's P&L {day:,.2f} is beyond the loss limit {limits.max_daily_loss:,.2f}"
    peak = max(peak_equity or 0.0, last_equity, equity)
    if peak and (peak - equity) / peak > limits.max_drawdown:
        return "drawdown", f"drawdown {(peak - equity) / peak:.2%} from {peak:,.2f} (limit {limits.max_drawdown:.2%})"
    if any(s.open <= now < s.close for s in sessions(now.date(), now.date())):
        age = (now - newest_bar).total_seconds() / 60 if newest_bar else math.inf
        if age > limits.max_data_age_minutes:
            return "stale_market_data", (f"newest 1m bar is {age:.0f} minutes old in an open session "
                                         f"(limit {limits.max_data_age_minutes:.0f})")
    return None
