"""A broker that fills against the stored bars, for the demo and for backtests.

An order submitted at the simulation clock fills at the open of the first bar that opens at or after it,
moved against the trader by ``slippage_bps``, with ``commission_per_share``; no bar may fill more than
``max_volume_share`` of its volume, so a large order fills over several bars (partially filled meanwhile).
Amounts are kept in ``Decimal`` and rounded to the cent, so P&L can be checked by hand. Same interface as
the Alpaca broker.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from psycopg import sql

from ats_pipelines.market_calendar import REGULAR_HOURS_SQL, early_close_days
from ats_pipelines.resources.broker import Account, BrokerOrder, BrokerPosition, OrderRequest
from ats_pipelines.resources.corporate_actions import Dividend, Split, corporate_actions
from ats_pipelines.resources.timescale import TimescaleResource
from ats_pipelines.sql_files import read_sql_beside

NEXT_BARS_SQL = sql.SQL(read_sql_beside(__file__, "next_bars.sql")).format(regular_hours=sql.SQL(REGULAR_HOURS_SQL))
LAST_CLOSE_SQL = read_sql_beside(__file__, "last_close.sql")
STRATEGY_FILLS_SQL = read_sql_beside(__file__, "strategy_fills.sql")
CENT = Decimal("0.01")
BAR_LENGTH = {"1m": timedelta(minutes=1), "5m": timedelta(minutes=5), "15m": timedelta(minutes=15),
              "1h": timedelta(hours=1), "1d": timedelta(days=1)}
SIM_NAMESPACE = uuid.UUID("9a7b0d3c-6b1e-4f5a-8c2d-1e3f5a7b9c0d")


def money(value: Decimal | float) -> Decimal:
    return Decimal(str(value)).quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass
class _Holding:
    qty: Decimal = Decimal(0)
    avg_price: Decimal = Decimal(0)


class SimulatedBroker:
    """See the module docstring; advance :attr:`clock` as simulated time passes. One book per strategy."""

    account_wide = False
    concurrent_submits = 1  # one in-memory book, its clock moved by each order: submits in order

    def __init__(self, timescale: TimescaleResource, clock: datetime, *, timeframe: str = "1m",
                 slippage_bps: float = 5.0, commission_per_share: float = 0.005, max_volume_share: float = 0.1,
                 cash: float = 100_000.0, lookahead_bars: int = 500) -> None:
        self.timescale, self.clock, self.timeframe = timescale, clock, timeframe
        self.slippage = Decimal(str(slippage_bps)) / Decimal(10_000)
        self.commission_per_share = Decimal(str(commission_per_share))
        self.max_volume_share, self.lookahead_bars = max_volume_share, lookahead_bars
        self.cash = self.start_equity = money(cash)
        self.realized_pnl = Decimal(0)
        self.commissions = Decimal(0)
        self.dividends = Decimal(0)
        self._orders: dict[str, BrokerOrder] = {}
        self._holdings: dict[str, _Holding] = {}

    def submit_order(self, request: OrderRequest, before_send: Callable[[], None] | None = None) -> BrokerOrder:
        if before_send is not None:
            before_send()
        if request.client_order_id in self._orders:
            return self._orders[request.client_order_id]
        if request.not_before is not None:
            # An order on a past signal replays history: from here on, marks (and the risk checks that read
            # them) see only the bars that had ended when the order could first exist.
            self.clock = request.not_before
        order = BrokerOrder(str(uuid.uuid5(SIM_NAMESPACE, request.client_order_id)), request.client_order_id,
                            request.symbol, request.side, request.qty, request.type, "accepted", 0.0, None,
                            request.limit_price, request.not_before or self.clock,
                            request.not_before or self.clock, 0.0)
        self._orders[request.client_order_id] = order
        return self._fill(order)

    def _fill(self, order: BrokerOrder) -> BrokerOrder:
        """Fill what the bars since the order (or since its last fill) allow; returns the updated order."""
        sign = 1 if order.side == "buy" else -1
        remaining = Decimal(str(order.qty)) - Decimal(str(order.filled_qty))
        filled, cost = Decimal(str(order.filled_qty)), Decimal(str(order.filled_avg_price or 0)) * Decimal(
            str(order.filled_qty))
        after = order.updated_at + timedelta(microseconds=1) if order.filled_qty else order.created_at
        bars = self.timescale.read(NEXT_BARS_SQL, {"symbol": order.symbol, "timeframe": self.timeframe,
                                                   "after": after, "bars": self.lookahead_bars,
                                                   "early_closes": early_close_days(after.year, after.year + 1)})
        new, new_cost, last = Decimal(0), Decimal(0), order.updated_at
        for timestamp, open_price, _, volume in bars.iter_rows():
            take = min(remaining - new, Decimal(int(volume * self.max_volume_share)))
            if take <= 0:
                continue
            price = money(Decimal(str(open_price)) * (1 + sign * self.slippage))
            new, new_cost, last = new + take, new_cost + price * take, timestamp
            if new == remaining:
                break
        if not new:
            return order
        commission = money(new * self.commission_per_share)
        self._book(order.symbol, sign * new, new_cost / new, commission)
        filled, cost = filled + new, cost + new_cost
        updated = replace(order, status="filled" if filled == Decimal(str(order.qty)) else "partially_filled",
                          filled_qty=float(filled), filled_avg_price=float(cost / filled), updated_at=last,
                          commission=float(Decimal(str(order.commission)) + commission))
        self._orders[order.client_order_id] = updated
        return updated

    def _book(self, symbol: str, delta: Decimal, price: Decimal, commission: Decimal) -> None:
        """Move cash and the holding; a reduction realises (price - average entry) on the closed quantity."""
        holding = self._holdings.setdefault(symbol, _Holding())
        self.cash -= money(delta * price) + commission
        self.commissions += commission
        self.realized_pnl -= commission
        if holding.qty and (holding.qty > 0) != (delta > 0):
            closed = min(abs(delta), abs(holding.qty))
            direction = 1 if holding.qty > 0 else -1
            self.realized_pnl += money((price - holding.avg_price) * closed * direction)
        new_qty = holding.qty + delta
        if new_qty == 0:
            self._holdings.pop(symbol)
            return
        if holding.qty == 0 or (holding.qty > 0) == (delta > 0):
            holding.avg_price = (holding.avg_price * holding.qty + price * delta) / new_qty
        elif (new_qty > 0) != (holding.qty > 0):
            holding.avg_price = price  # flipped through zero: the rest opened at this price
        holding.qty = new_qty

    def order_by_client_id(self, client_order_id: str) -> BrokerOrder | None:
        """The order, filled further first if bars have arrived since it was last looked at."""
        order = self._orders.get(client_order_id)
        return self._fill(order) if order is not None and order.is_open else order

    @classmethod
    def replaying(cls, timescale: TimescaleResource, strategy_id: str, clock: datetime, **settings: float
                  ) -> SimulatedBroker:
        """A simulated broker whose book is rebuilt from the strategy's recorded orders and fills, so its
        positions and cash carry over from run to run (the orders table is its memory), with the splits and
        dividends of what it held applied in time order (an order counts from when it was recorded):

        * a split multiplies the quantity held by its ratio and divides the entry price by it, once the clock
          has reached its execution date or the stored history is already adjusted (the marks are then in
          post-split units), so a split changes neither equity nor P&L;
        * a dividend credits its cash per share held when the ex-date began, on the pay date, once."""
        broker = cls(timescale, clock, **settings)
        fills = timescale.read(STRATEGY_FILLS_SQL, {"strategy_id": strategy_id})
        actions = corporate_actions(timescale, fills["symbol"].to_list()) if fills.height else []
        events: list[tuple[datetime, int, int, object]] = [(row["timestamp"], 1, i, row) for i, row in
                                                           enumerate(fills.iter_rows(named=True))]
        for i, action in enumerate(actions):
            events.append((action.at if isinstance(action, Split) else action.ex, 0, i, action))
            if isinstance(action, Dividend):
                events.append((action.paid, 0, i, ("paid", action)))
        owed: dict[Dividend, Decimal] = {}
        for at, _, _, event in sorted(events, key=lambda e: e[:3]):
            if isinstance(event, Split):
                if at <= clock or event.history_adjusted:
                    broker._split(event)
            elif isinstance(event, Dividend):
                if at <= clock and event.symbol in broker._holdings:
                    owed[event] = broker._holdings[event.symbol].qty
            elif isinstance(event, tuple):
                dividend = event[1]
                if at <= clock and dividend in owed:
                    broker._credit_dividend(money(owed.pop(dividend) * dividend.amount))
            else:
                broker._replay_order(event)
        return broker

    def _replay_order(self, row: dict) -> None:
        client_id = f"ats-{uuid.UUID(row['order_id']).hex}"
        commission = Decimal(str(row["commission"] or 0))
        if row["filled_quantity"]:
            sign = 1 if row["side"] == "buy" else -1
            self._book(row["symbol"], sign * Decimal(str(row["filled_quantity"])), Decimal(str(row["filled_price"])),
                       commission)
        self._orders[client_id] = BrokerOrder(
            str(uuid.uuid5(SIM_NAMESPACE, client_id)), client_id, row["symbol"], row["side"], row["quantity"],
            "market", row["status"], row["filled_quantity"] or 0.0, row["filled_price"], None, row["timestamp"],
            row["updated_at"], float(commission))

    def _split(self, split: Split) -> None:
        """Quantity x ratio, entry price / ratio: the holding's cost and value are unchanged."""
        holding = self._holdings.get(split.symbol)
        if holding is not None:
            holding.qty *= split.ratio
            holding.avg_price /= split.ratio

    def _credit_dividend(self, cash: Decimal) -> None:
        self.cash += cash
        self.dividends += cash
        self.realized_pnl += cash

    def open_orders(self) -> list[BrokerOrder]:
        return [o for o in self._orders.values() if o.is_open]

    def cancel_all_orders(self) -> int:
        open_ids = [cid for cid, o in self._orders.items() if o.is_open]
        for cid in open_ids:
            self._orders[cid] = replace(self._orders[cid], status="canceled", updated_at=self.clock)
        return len(open_ids)

    def mark(self, symbol: str) -> float | None:
        """The close of the symbol's last bar that had ended by the clock."""
        found = self.timescale.read(LAST_CLOSE_SQL, {"symbol": symbol, "timeframe": self.timeframe, "at": self.clock,
                                                     "bar": BAR_LENGTH[self.timeframe]})
        return found.item() if found.height else None

    def positions(self) -> list[BrokerPosition]:
        held = []
        for symbol, h in self._holdings.items():
            price = Decimal(str(self.mark(symbol) or h.avg_price))
            pnl = money((price - h.avg_price) * h.qty)
            held.append(BrokerPosition(symbol, float(h.qty), float(money(h.avg_price)), float(price), float(pnl),
                                       float((price - h.avg_price) / h.avg_price) if h.avg_price else 0.0))
        return held

    def close_all_positions(self) -> list[BrokerOrder]:
        """Market orders closing every holding, under ids the orders table can record (``ats-<uuid hex>``)."""
        return [self.submit_order(OrderRequest(f"ats-{uuid.uuid4().hex}", symbol,
                                               "sell" if h.qty > 0 else "buy", float(abs(h.qty))))
                for symbol, h in list(self._holdings.items())]

    def account(self) -> Account:
        """Equity at the clock; the simulation counts its start as the previous close."""
        return Account(float(self.equity()), float(self.start_equity))

    def equity(self) -> Decimal:
        """Cash plus every holding at its mark."""
        return self.cash + sum((money(Decimal(str(self.mark(s) or h.avg_price)) * h.qty)
                                for s, h in self._holdings.items()), Decimal(0))
