"""What every broker looks like to the trading code: orders and positions in one shape, whoever holds them.

Implementations: :class:`~ats_pipelines.resources.alpaca.AlpacaBroker` (trading API v2, paper by default)
and :class:`~ats_pipelines.resources.simulated_broker.SimulatedBroker` (fills against the stored bars).
Submitting is idempotent by ``client_order_id``: submitting the same id twice returns the first order.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from ats_pipelines.resources.http import ApiError, ApiUncertainError

OPEN_STATUSES = frozenset({"new", "accepted", "pending_new", "partially_filled", "accepted_for_bidding", "held",
                           "pending_review", "pending_cancel", "pending_replace", "calculated", "done_for_day"})


@dataclass(frozen=True)
class OrderRequest:
    """An order to place; ``client_order_id`` (at most 48 characters) makes it idempotent."""

    client_order_id: str
    symbol: str
    side: str  # buy | sell
    qty: float
    type: str = "market"
    limit_price: float | None = None
    time_in_force: str = "day"
    not_before: datetime | None = None  # when the order could first exist (its signal's bar end): simulation only

    def __post_init__(self) -> None:
        if not 0 < len(self.client_order_id) <= 48:
            raise ValueError("client_order_id must have 1 to 48 characters")
        if self.side not in {"buy", "sell"} or self.qty <= 0:
            raise ValueError(f"bad order: side {self.side!r}, qty {self.qty}")


@dataclass(frozen=True)
class BrokerOrder:
    """An order as the broker reports it."""

    broker_order_id: str
    client_order_id: str
    symbol: str
    side: str
    qty: float
    type: str
    status: str
    filled_qty: float
    filled_avg_price: float | None
    limit_price: float | None
    created_at: datetime
    updated_at: datetime
    commission: float = 0.0

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES


@dataclass(frozen=True)
class BrokerPosition:
    """A position as the broker reports it (``qty`` negative when short)."""

    symbol: str
    qty: float
    avg_entry_price: float
    current_price: float
    unrealized_pl: float
    unrealized_plpc: float


@dataclass(frozen=True)
class Account:
    """Equity now and at the previous close (the day's P&L is their difference)."""

    equity: float
    last_equity: float


def refused_by_broker(exc: Exception) -> bool:
    """Whether a failed submit is the broker's own refusal of the order (a 4xx about it: 403 buying power,
    422 invalid order...), the only failure that may mark an order ``rejected``. Timeouts, 5xx, 401 (our key),
    408 and 429, and anything that is no answer at all leave it unknown: the broker may hold it."""
    status = getattr(exc, "status", None)
    return (isinstance(exc, ApiError) and not isinstance(exc, ApiUncertainError) and status is not None
            and 400 <= status < 500 and status not in {401, 408, 429})


class Broker(Protocol):
    """The operations the trading domain needs from a broker. ``account_wide``: one account holds every
    strategy's positions and orders (Alpaca), so a strategy's own book comes from its recorded fills.
    ``concurrent_submits``: how many submits may be in flight at once (1: one after the other, in order, as a
    simulated book that moves its clock with each order needs)."""

    account_wide: bool
    concurrent_submits: int

    def submit_order(self, request: OrderRequest, before_send: Callable[[], None] | None = None) -> BrokerOrder:
        """Submit ``request``; ``before_send`` runs right before each send to the broker (every try, after
        any wait) and may raise to send nothing more."""

    def order_by_client_id(self, client_order_id: str) -> BrokerOrder | None: ...

    def open_orders(self) -> list[BrokerOrder]: ...

    def cancel_all_orders(self) -> int: ...

    def positions(self) -> list[BrokerPosition]: ...

    def close_all_positions(self) -> list[BrokerOrder]: ...

    def account(self) -> Account: ...
