"""Signals into orders, and orders and positions reconciled with the broker.

For each signal, oldest first: size it and check the risk limits (a block is an alert with its reason),
check the conditions that stop all trading (the day's loss, the drawdown, stale market data: any one
triggers the emergency stop), read the emergency stop right before the submit (stopped or unknown:
nothing goes out), record the order
(its id, hence its ``client_order_id``, derived from the signal) and only then submit it. A broker that
refuses orders ``max_broker_errors_in_a_row`` times in a row triggers the emergency stop.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from datetime import datetime

import polars as pl

from ats_pipelines.defs.monitoring.alerts import record_alert
from ats_pipelines.defs.trading.emergency import stop_state, trigger_stop
from ats_pipelines.defs.trading.risk import Book, RiskLimits, size_order, stop_trigger
from ats_pipelines.market_calendar import in_regular_session
from ats_pipelines.resources import RedisResource, TimescaleResource
from ats_pipelines.resources.broker import Broker, BrokerOrder, OrderRequest
from ats_pipelines.resources.http import ApiError, ApiUncertainError
from ats_pipelines.resources.simulated_broker import BAR_LENGTH
from ats_pipelines.sql_files import read_sql_beside

log = logging.getLogger(__name__)
ORDER_NAMESPACE = uuid.UUID("0b5c9a8e-41c3-4f7e-9f57-6a0f5d2c7e13")
PENDING_SIGNALS_SQL = read_sql_beside(__file__, "pending_signals.sql")
ORDERS_SINCE_SQL = read_sql_beside(__file__, "orders_since.sql")
INSERT_ORDER_SQL = read_sql_beside(__file__, "insert_order.sql")
UPDATE_ORDER_SQL = read_sql_beside(__file__, "update_order.sql")
OPEN_ORDERS_SQL = read_sql_beside(__file__, "open_orders.sql")
SYNC_POSITION_SQL = read_sql_beside(__file__, "sync_position.sql")
EQUITY_PEAK_SQL = read_sql_beside(__file__, "equity_peak.sql")
NEWEST_BAR_SQL = read_sql_beside(__file__, "newest_bar.sql")
CLOSE_POSITIONS_SQL = read_sql_beside(__file__, "close_positions.sql")


def order_id(signal_id: str, strategy_id: str) -> str:
    """The order of a strategy on a signal: the same signal always gives the same order."""
    return str(uuid.uuid5(ORDER_NAMESPACE, f"{signal_id}|{strategy_id}"))


def client_order_id(order: str) -> str:
    """What the broker dedupes on (36 characters, within Alpaca's 48)."""
    return f"ats-{uuid.UUID(order).hex}"


def time_in_force(timeframe: str) -> str:
    """A daily signal is known after the close: its order is market-on-open (Alpaca ``opg``) for the next
    session; a signal of a shorter bar trades within the day."""
    return "opg" if timeframe == "1d" else "day"


@dataclass
class PlacementReport:
    """What a placement run did."""

    submitted: int = 0
    blocked: dict[str, str] = field(default_factory=dict)  # signal id -> reason
    rejected: dict[str, str] = field(default_factory=dict)
    stopped: str | None = None

    def as_metadata(self) -> dict[str, object]:
        return {"orders_submitted": self.submitted, "signals_blocked": len(self.blocked),
                "orders_rejected": len(self.rejected), "emergency_stop": self.stopped or "none",
                "block_reasons": sorted(set(self.blocked.values()))[:20]}


def place_orders(timescale: TimescaleResource, redis: RedisResource, broker: Broker, *, strategy_id: str,
                 model_name: str, window: tuple[datetime, datetime], limits: RiskLimits, now: datetime,
                 market_hours_only: bool = False) -> PlacementReport:
    """Turn the window's new signals into orders; see the module docstring. A signal's age runs from the end
    of its bar; with ``market_hours_only`` (the live loop) nothing goes out outside the regular session."""
    report = PlacementReport()
    signals = timescale.read(PENDING_SIGNALS_SQL, {"start": window[0], "end": window[1], "model_name": model_name,
                                                   "strategy_id": strategy_id})
    if signals.height == 0:
        return report
    held = {p.symbol: p for p in broker.positions()}
    day_start = now.replace(hour=0, minute=0, second=0, microsecond=0)
    book = Book({s: p.qty for s, p in held.items()}, {s: p.current_price for s, p in held.items()},
                timescale.read(ORDERS_SINCE_SQL, {"strategy_id": strategy_id, "since": day_start}).item())
    # Neither changes while the run places orders; the broker's equity does, so it is read before each submit.
    peak_equity = timescale.read(EQUITY_PEAK_SQL, {"strategy_id": strategy_id}).item()
    newest_bar = timescale.read(NEWEST_BAR_SQL).item()
    errors_in_a_row = 0
    closed = market_hours_only and not in_regular_session(now)
    blocks: list[tuple[str, dict]] = []  # alerts of blocked signals, recorded after the submits they would delay
    for signal in signals.iter_rows(named=True):
        side = signal["signal_type"]
        age = (now - signal["timestamp"] - BAR_LENGTH[signal["timeframe"]]).total_seconds() / 60  # from the bar's end
        quantity, reason = size_order(side, signal["symbol"], signal["price"], age, book, limits)
        if closed and not reason:
            quantity, reason = 0, f"the market is closed at {now:%Y-%m-%d %H:%M} UTC (regular session only)"
        if reason:
            report.blocked[signal["signal_id"]] = reason
            blocks.append((f"{side} {signal['symbol']} blocked: {reason}",
                           {"signal_id": signal["signal_id"], "reason": reason}))
            continue
        account = broker.account()
        trigger = stop_trigger(limits, equity=account.equity, last_equity=account.last_equity,
                               peak_equity=peak_equity, newest_bar=newest_bar, now=now)
        if trigger:
            report.stopped = trigger[1]
            trigger_stop(timescale, redis, broker, trigger_type=trigger[0], description=trigger[1],
                         triggered_by="risk")
            break
        state = stop_state(timescale, redis)  # right before the submit, every time
        if not state.orders_allowed:
            report.stopped = state.detail
            log.warning("no order goes out: %s", state.detail)
            break
        order = order_id(signal["signal_id"], strategy_id)
        timescale.execute(INSERT_ORDER_SQL, {"order_id": order, "symbol": signal["symbol"], "side": side,
                                             "quantity": quantity, "signal_id": signal["signal_id"],
                                             "strategy_id": strategy_id})
        try:
            placed = broker.submit_order(OrderRequest(
                client_order_id(order), signal["symbol"], side, quantity,
                time_in_force=time_in_force(signal["timeframe"]),
                not_before=signal["timestamp"] + BAR_LENGTH[signal["timeframe"]]))
        except ApiError as exc:
            errors_in_a_row += 1
            report.rejected[signal["signal_id"]] = str(exc)
            if isinstance(exc, ApiUncertainError):
                # The broker may hold it: the row stays pending_new and reconciliation settles it by its id.
                _alert(timescale, "order_uncertain", "error", f"{side} {quantity:g} {signal['symbol']}: {exc}",
                       {"order_id": order, "signal_id": signal["signal_id"]})
            else:
                timescale.execute(UPDATE_ORDER_SQL, _order_update(order, status="rejected"))
                _alert(timescale, "order_rejected", "error", f"{side} {quantity:g} {signal['symbol']}: {exc}",
                       {"order_id": order, "signal_id": signal["signal_id"]})
            if errors_in_a_row >= limits.max_broker_errors_in_a_row:
                report.stopped = f"{errors_in_a_row} broker errors in a row"
                trigger_stop(timescale, redis, broker, trigger_type="broker_errors", description=report.stopped,
                             triggered_by="orders")
                break
            continue
        errors_in_a_row = 0
        report.submitted += 1
        book.orders_today += 1
        book.quantities[signal["symbol"]] = book.quantities.get(signal["symbol"], 0.0) + (
            quantity if side == "buy" else -quantity)
        timescale.execute(UPDATE_ORDER_SQL, _order_update(order, placed))
    for message, cause in blocks:
        _alert(timescale, "risk_limit", "warning", message, cause)
    return report


def reconcile_orders(timescale: TimescaleResource, broker: Broker) -> int:
    """Bring every order that is not final up to the broker's status and fills; returns how many changed."""
    changed = 0
    for order in timescale.read(OPEN_ORDERS_SQL)["order_id"].to_list():
        found = broker.order_by_client_id(client_order_id(order))
        if found is not None:
            changed += timescale.execute(UPDATE_ORDER_SQL, _order_update(order, found))
    return changed


def sync_positions(timescale: TimescaleResource, broker: Broker, strategy_id: str) -> pl.DataFrame:
    """Make ``positions`` match the broker: open ones upserted with P&L, vanished ones kept as closed."""
    held = broker.positions()
    for p in held:
        timescale.execute(SYNC_POSITION_SQL, {
            "position_id": str(uuid.uuid5(ORDER_NAMESPACE, f"position|{strategy_id}|{p.symbol}")), "symbol": p.symbol,
            "quantity": p.qty, "entry_price": p.avg_entry_price, "current_price": p.current_price,
            "strategy_id": strategy_id, "pnl": round(p.unrealized_pl, 6),
            "pnl_percentage": round(p.unrealized_plpc * 100, 6),
        })
    timescale.execute(CLOSE_POSITIONS_SQL, {"strategy_id": strategy_id, "held": [p.symbol for p in held]})
    return pl.DataFrame([{"symbol": p.symbol, "qty": p.qty, "pnl": p.unrealized_pl} for p in held],
                        schema={"symbol": pl.String, "qty": pl.Float64, "pnl": pl.Float64})


def _order_update(order: str, placed: BrokerOrder | None = None, status: str | None = None) -> dict[str, object]:
    return {"order_id": order, "external_order_id": placed.broker_order_id if placed else None,
            "status": status or placed.status, "filled_quantity": placed.filled_qty if placed else 0,
            "filled_price": placed.filled_avg_price if placed else None,
            "commission": placed.commission if placed else 0}


def _alert(timescale: TimescaleResource, alert_type: str, severity: str, message: str, cause: dict) -> None:
    record_alert(timescale, alert_type=alert_type, severity=severity, component="trading", message=message,
                 cause=cause)
