"""The simulated broker on the wall clock, for the live loop (``ats live``).

Unlike the replay of :class:`~ats_pipelines.resources.simulated_broker.SimulatedBroker` (whose clock a backtest
moves back to each signal's bar), an order exists from the moment it is submitted on the live clock, and
fills at the open of the first bar of the live feed that opens after it (plus slippage, within the volume
share): a bar still to come when the order went out, filled when reconciliation finds it stored. Marks and
equity are read at the live clock; the day's P&L starts from the equity recorded at the previous session's
close (the live loop records it as it trades), not from the simulation's start.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime

from ats_pipelines.market_calendar import previous_close
from ats_pipelines.resources.broker import Account, BrokerOrder, BrokerPosition, OrderRequest
from ats_pipelines.resources.simulated_broker import SimulatedBroker
from ats_pipelines.resources.timescale import TimescaleResource
from ats_pipelines.sql_files import read_sql_beside

PREVIOUS_CLOSE_EQUITY_SQL = read_sql_beside(__file__, "previous_close_equity.sql")


class LiveSimulatedBroker(SimulatedBroker):
    """See the module docstring; ``now`` is the live clock (wall time)."""

    def __init__(self, timescale: TimescaleResource, now: Callable[[], datetime], **settings: float) -> None:
        super().__init__(timescale, now(), **settings)
        self.now = now
        self.strategy_id: str | None = None

    @classmethod
    def for_strategy(cls, timescale: TimescaleResource, strategy_id: str, now: Callable[[], datetime],
                     **settings: float) -> LiveSimulatedBroker:
        """The strategy's broker, its book rebuilt from its recorded orders and fills."""
        broker = cls.replaying(timescale, strategy_id, now, **settings)
        broker.strategy_id = strategy_id
        return broker

    def submit_order(self, request: OrderRequest, before_send: Callable[[], None] | None = None) -> BrokerOrder:
        self.clock = self.now()
        return super().submit_order(replace(request, not_before=None), before_send)  # the clock never moves back

    def order_by_client_id(self, client_order_id: str) -> BrokerOrder | None:
        self.clock = self.now()
        return super().order_by_client_id(client_order_id)

    def positions(self) -> list[BrokerPosition]:
        self.clock = self.now()
        return super().positions()

    def account(self) -> Account:
        self.clock = self.now()
        last = None
        close = previous_close(self.clock)
        if self.strategy_id is not None and close is not None:
            found = self.timescale.read(PREVIOUS_CLOSE_EQUITY_SQL, {"strategy_id": self.strategy_id, "at": close})
            last = found.item() if found.height else None
        return Account(float(self.equity()), last if last is not None else float(self.start_equity))
