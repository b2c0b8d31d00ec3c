"""Position sizing, the risk limits every order must pass, and the conditions that stop all trading."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, time

from ats_pipelines.market_calendar import NEW_YORK, sessions


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
    pending_expiry_minutes: float = 15.0  # a sent order not found at the broker by then is expired


def trading_day_start(now: datetime) -> datetime:
    """Midnight in New York of ``now``'s trading day: where the daily order count starts."""
    return datetime.combine(now.astimezone(NEW_YORK).date(), time(0), tzinfo=NEW_YORK)


class Block(str):
    """Why an order may not go out (the text) and ``rule``, the limit it breaks: one alert per signal and rule,
    however the text changes from run to run (a signal's age grows)."""

    rule: str

    def __new__(cls, rule: str, text: str) -> Block:
        block = super().__new__(cls, text)
        block.rule = rule
        return block


@dataclass
class Book:
    """What the strategy holds while a run places orders (quantities by symbol, at the sizing prices), and
    what its open orders at the broker may still add (``open_buys``) or take away (``open_sells``)."""

    quantities: dict[str, float]
    prices: dict[str, float]
    orders_today: int
    open_buys: dict[str, float] = field(default_factory=dict)
    open_sells: dict[str, float] = field(default_factory=dict)

    def value(self, symbol: str) -> float:
        """The position's value once every open buy fills (the limits' worst case)."""
        held = abs(self.quantities.get(symbol, 0.0)) + self.open_buys.get(symbol, 0.0)
        return held * self.prices.get(symbol, 0.0)

    def sellable(self, symbol: str) -> float:
        """What a sell may still close: the position less what open sells already close."""
        return self.quantities.get(symbol, 0.0) - self.open_sells.get(symbol, 0.0)

    def ordered(self, side: str, symbol: str, quantity: float) -> None:
        """Count an order just placed (open until the next run reads the broker again)."""
        pending = self.open_buys if side == "buy" else self.open_sells
        pending[symbol] = pending.get(symbol, 0.0) + quantity
        self.orders_today += 1

    @property
    def gross(self) -> float:
        return sum(self.value(s) for s in {*self.quantities, *self.open_buys})


def size_order(side: str, symbol: str, price: float | None, age_minutes: float, book: Book, limits: RiskLimits
               ) -> tuple[float, Block | None]:
    """``(quantity, None)`` for an order that passes every limit, or ``(0, block)`` for one that may not go out.
    Buys spend ``notional_per_signal`` in whole shares; sells close what is held and not already being sold
    (no short selling). Open orders count as if filled."""
    if age_minutes > limits.max_signal_age_minutes:
        return 0, Block("signal_age", f"signal is {age_minutes:.0f} minutes old "
                                      f"(limit {limits.max_signal_age_minutes:.0f})")
    if price is None or price <= 0:
        return 0, Block("no_price", "no price for the signal's bar")
    if book.orders_today >= limits.max_orders_per_day:
        return 0, Block("orders_per_day", f"{book.orders_today} orders today (limit {limits.max_orders_per_day})")
    book.prices[symbol] = price
    if side == "sell":
        held = book.sellable(symbol)
        return (held, None) if held > 0 else (0, Block("nothing_to_sell", "nothing held to sell (short selling is "
                                                                          "off, open sells included)"))
    quantity = math.floor(limits.notional_per_signal / price)
    if quantity < 1:
        return 0, Block("notional", f"price {price} above the notional per signal {limits.notional_per_signal}")
    added = quantity * price
    if book.value(symbol) + added > limits.max_position_value:
        return 0, Block("position_value", f"position in {symbol} would be {book.value(symbol) + added:,.2f} "
                                          f"(limit {limits.max_position_value:,.2f}, open orders included)")
    if book.gross + added > limits.max_gross_exposure:
        return 0, Block("gross_exposure", f"gross exposure would be {book.gross + added:,.2f} "
                                          f"(limit {limits.max_gross_exposure:,.2f})")
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
