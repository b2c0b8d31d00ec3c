"""Position sizing and the risk limits every order must pass before it may be submitted."""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class RiskLimits:
    """Per strategy: what one signal buys, and the limits no order may break."""

    notional_per_signal: float = 10_000.0
    max_position_value: float = 25_000.0
    max_gross_exposure: float = 100_000.0
    max_orders_per_day: int = 50
    max_signal_age_minutes: float = 60.0
    max_broker_errors_in_a_row: int = 3


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
