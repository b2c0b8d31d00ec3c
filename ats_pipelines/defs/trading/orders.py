"""Signals into orders, and orders and positions reconciled with the broker.

One placement at a time per strategy (:func:`placement_lock`). A run:

1. sizes each new signal, oldest first, and checks the risk limits against the book (positions plus open
   orders at the broker, plus the run's own earlier orders as if they went out; a block is one alert per
   signal and rule);
2. reads the emergency stop (in force: nothing goes out and nothing is triggered again; unknown: nothing goes
   out, an alert, and the caller fails the run), then checks the conditions that stop all trading on the
   broker's equity now (the day's loss, the drawdown, stale market data: any one triggers the emergency stop);
3. records every order it will send, and that each is being sent, in one transaction (its id, hence its
   ``client_order_id``, derived from the signal; a row another run recorded first is left to it);
4. submits them, up to the broker's ``concurrent_submits`` at once (a symbol's orders in order), each send
   right after its own read of the stop (the broker's ``before_send``: after any wait for the rate limit or a
   retry). A stop read there, ``max_broker_errors_in_a_row`` failures in a row (in the order the answers
   come), an unexpected failure or an interruption halts the run: nothing more is sent, the orders never
   sent are withdrawn (their signals pending again), and an error streak triggers the stop once the submits
   in flight have answered;
5. writes every answer back in one transaction, whatever ended the sending. Only the broker's own refusal
   makes an order ``rejected``; any other failure (an order sent without a clear answer) leaves it pending,
   with an alert, for reconciliation.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import polars as pl

from ats_pipelines.db.locks import advisory_lock
from ats_pipelines.defs.monitoring.alerts import record_alert, record_alerts
from ats_pipelines.defs.monitoring.trading_metrics import FILLED_ORDERS_SQL, fifo_book
from ats_pipelines.defs.trading.emergency import StopState, act_at_brokers, record_stop, stop_state, trigger_stop
from ats_pipelines.defs.trading.risk import Block, Book, RiskLimits, size_order, stop_trigger, trading_day_start
from ats_pipelines.market_calendar import in_regular_session
from ats_pipelines.resources import RedisResource, TimescaleResource
from ats_pipelines.resources.broker import Broker, BrokerOrder, BrokerPosition, OrderRequest, refused_by_broker
from ats_pipelines.resources.corporate_actions import corporate_actions
from ats_pipelines.resources.http import ApiError, ApiUncertainError
from ats_pipelines.resources.simulated_broker import BAR_LENGTH
from ats_pipelines.sql_files import read_sql_beside

log = logging.getLogger(__name__)
ORDER_NAMESPACE = uuid.UUID("0b5c9a8e-41c3-4f7e-9f57-6a0f5d2c7e13")
PENDING_SIGNALS_SQL = read_sql_beside(__file__, "pending_signals.sql")
ORDERS_SINCE_SQL = read_sql_beside(__file__, "orders_since.sql")
INSERT_ORDERS_SQL = read_sql_beside(__file__, "insert_orders.sql")
RECORD_SUBMISSIONS_SQL = read_sql_beside(__file__, "record_submissions.sql")
WITHDRAW_ORDERS_SQL = read_sql_beside(__file__, "withdraw_orders.sql")
UPDATE_ORDER_SQL = read_sql_beside(__file__, "update_order.sql")
EXPIRE_ORDER_SQL = read_sql_beside(__file__, "expire_order.sql")
OPEN_ORDERS_SQL = read_sql_beside(__file__, "open_orders.sql")
SYNC_POSITION_SQL = read_sql_beside(__file__, "sync_position.sql")
EQUITY_PEAK_SQL = read_sql_beside(__file__, "equity_peak.sql")
NEWEST_BAR_SQL = read_sql_beside(__file__, "newest_bar.sql")
LAST_CLOSES_SQL = read_sql_beside(__file__, "last_closes.sql")
CLOSE_POSITIONS_SQL = read_sql_beside(__file__, "close_positions.sql")
RECORD_BROKER_ORDER_SQL = read_sql_beside(__file__, "record_broker_order.sql")


class PlacementBusy(RuntimeError):
    """Another placement run of the strategy holds its lock."""


def order_id(signal_id: str, strategy_id: str) -> str:
    """The order of a strategy on a signal: the same signal always gives the same order."""
    return str(uuid.uuid5(ORDER_NAMESPACE, f"{signal_id}|{strategy_id}"))


def client_order_id(order: str) -> str:
    """What the broker dedupes on (36 characters, within Alpaca's 48)."""
    return f"ats-{uuid.UUID(order).hex}"


@contextmanager
def placement_lock(timescale: TimescaleResource, strategy_id: str, wait_seconds: float) -> Iterator[None]:
    """Hold the strategy's PostgreSQL advisory lock (a session lock on a connection kept for the block), so
    one placement and reconciliation runs at a time per strategy, whoever starts it (schedule, manual run,
    backfill, live loop). Waits up to ``wait_seconds`` for it, then raises :class:`PlacementBusy`."""
    with advisory_lock(timescale, f"placement:{strategy_id}", wait_seconds, lambda: PlacementBusy(
            f"another placement run of strategy {strategy_id} holds its lock (waited {wait_seconds:g} s); "
            "nothing was placed")):
        yield


def time_in_force(timeframe: str) -> str:
    """A daily signal is known after the close: its order is market-on-open (Alpaca ``opg``) for the next
    session; a signal of a shorter bar trades within the day."""
    return "opg" if timeframe == "1d" else "day"


@dataclass
class PlacementReport:
    """What a placement run did."""

    submitted: int = 0
    blocked: dict[str, str] = field(default_factory=dict)  # signal id -> reason
    rejected: dict[str, str] = field(default_factory=dict)  # refused by the broker
    uncertain: dict[str, str] = field(default_factory=dict)  # no clear answer: pending until reconciled
    recorded_elsewhere: int = 0  # orders another run recorded first (left to it)
    stopped: str | None = None
    stop_unknown: bool = False

    def add(self, other: PlacementReport, strategy: str) -> None:
        """Count another strategy's run into this one (signals keyed ``strategy/signal id``)."""
        self.submitted += other.submitted
        self.recorded_elsewhere += other.recorded_elsewhere
        for mine, theirs in ((self.blocked, other.blocked), (self.rejected, other.rejected),
                             (self.uncertain, other.uncertain)):
            mine.update({f"{strategy}/{signal}": reason for signal, reason in theirs.items()})
        self.stopped = self.stopped or other.stopped
        self.stop_unknown = self.stop_unknown or other.stop_unknown

    def as_metadata(self) -> dict[str, object]:
        return {"orders_submitted": self.submitted, "signals_blocked": len(self.blocked),
                "orders_rejected": len(self.rejected), "orders_uncertain": len(self.uncertain),
                "orders_recorded_elsewhere": self.recorded_elsewhere, "emergency_stop": self.stopped or "none",
                "block_reasons": sorted(set(self.blocked.values()))[:20]}


def strategy_positions(timescale: TimescaleResource, broker: Broker, strategy_id: str) -> list[BrokerPosition]:
    """The strategy's own positions: the broker's, when it keeps an account per strategy (simulated); from an
    account-wide broker (Alpaca), the strategy's fills matched first in, first out (splits applied), marked at
    the broker's current price of the symbol. A symbol the account no longer holds at all is held by no
    strategy (the broker is the truth of what is held: a manual liquidation closes it everywhere)."""
    held = broker.positions()
    if not broker.account_wide:
        return held
    fills = timescale.read(FILLED_ORDERS_SQL, {"strategy_id": strategy_id})
    lots = fifo_book(fills, corporate_actions(timescale, fills["symbol"].to_list()), until=datetime.now(UTC)).lots
    marks = {p.symbol: p.current_price for p in held}
    positions = []
    for symbol, open_lots in sorted(lots.items()):
        qty = sum(lot[0] for lot in open_lots)
        if abs(qty) < 1e-9 or symbol not in marks:
            continue
        entry = sum(lot[0] * lot[1] for lot in open_lots) / qty
        price = marks[symbol]
        positions.append(BrokerPosition(symbol, qty, entry, price, (price - entry) * qty,
                                        (price - entry) / entry if entry else 0.0))
    return positions


def risk_book(timescale: TimescaleResource, broker: Broker, strategy_id: str, now: datetime) -> Book:
    """The book the limits check: the strategy's positions, its open orders (those open at the broker, and
    those the orders table still holds open: sent without a clear answer, or filled at the broker and not yet
    reconciled, count as they may fill), and the orders it recorded since the trading day began in New York
    (orders never sent and expired do not count)."""
    held = strategy_positions(timescale, broker, strategy_id)
    book = Book({p.symbol: p.qty for p in held}, {p.symbol: p.current_price for p in held},
                timescale.read(ORDERS_SINCE_SQL, {"strategy_id": strategy_id, "since": trading_day_start(now)}).item())
    recorded = {client_order_id(row["order_id"]): row for row in
                timescale.read(OPEN_ORDERS_SQL, {"strategy_id": strategy_id}).iter_rows(named=True)}
    at_broker = {o.client_order_id: o for o in broker.open_orders()
                 if not broker.account_wide or o.client_order_id in recorded}  # not another strategy's
    still_open = [(o.symbol, o.side, max(o.qty - o.filled_qty, 0.0)) for o in at_broker.values()] + [
        (row["symbol"], row["side"], row["remaining"]) for cid, row in recorded.items() if cid not in at_broker]
    for symbol, side, remaining in still_open:
        pending = book.open_buys if side == "buy" else book.open_sells
        pending[symbol] = pending.get(symbol, 0.0) + remaining
    unpriced = sorted(set(book.open_buys) - set(book.prices))
    if unpriced:
        book.prices.update(timescale.read(LAST_CLOSES_SQL, {"symbols": unpriced}).iter_rows())
    return book


@dataclass
class Standing:
    """What a run checks its orders against: the risk book (:func:`risk_book`), the strategy's peak equity and
    the newest stored 1m bar (the drawdown and data-age conditions)."""

    book: Book
    peak_equity: float | None
    newest_bar: datetime | None


def read_standing(timescale: TimescaleResource, broker: Broker, strategy_id: str, now: datetime) -> Standing:
    """The strategy's :class:`Standing` now; read it under :func:`placement_lock`, which keeps it as read."""
    return Standing(risk_book(timescale, broker, strategy_id, now),
                    timescale.read(EQUITY_PEAK_SQL, {"strategy_id": strategy_id}).item(),
                    timescale.read(NEWEST_BAR_SQL).item())


def place_orders(timescale: TimescaleResource, redis: RedisResource, broker: Broker, *, strategy_id: str,
                 model_name: str, window: tuple[datetime, datetime], limits: RiskLimits, now: datetime,
                 market_hours_only: bool = False, standing: Standing | None = None) -> PlacementReport:
    """Turn the window's new signals into orders; see the module docstring. Call it under
    :func:`placement_lock`. A signal's age runs from the end of its bar; with ``market_hours_only`` (the live
    loop) nothing goes out outside the regular session. ``standing``: read by the caller under the same hold
    of the lock (the live loop reads it while it scores the bar); by default it is read here."""
    report = PlacementReport()
    signals = timescale.read(PENDING_SIGNALS_SQL, {"start": window[0], "end": window[1], "model_name": model_name,
                                                   "strategy_id": strategy_id})
    if signals.height == 0:
        return report
    standing = standing or read_standing(timescale, broker, strategy_id, now)
    book = standing.book
    closed = market_hours_only and not in_regular_session(now)
    planned: list[PlannedOrder] = []
    blocks: list[tuple[str, dict]] = []  # alerts of blocked signals, recorded after the submits they would delay
    for signal in signals.iter_rows(named=True):
        side = signal["signal_type"]
        age = (now - signal["timestamp"] - BAR_LENGTH[signal["timeframe"]]).total_seconds() / 60  # from the bar's end
        quantity, reason = size_order(side, signal["symbol"], signal["price"], age, book, limits)
        if closed and not reason:
            quantity, reason = 0, Block("market_closed", f"the market is closed at {now:%Y-%m-%d %H:%M} UTC "
                                                         "(regular session only)")
        if reason:
            report.blocked[signal["signal_id"]] = reason
            blocks.append((f"{side} {signal['symbol']} blocked: {reason}",
                           {"signal_id": signal["signal_id"], "strategy_id": strategy_id, "rule": reason.rule}))
            continue
        book.ordered(side, signal["symbol"], quantity)  # the next signals' limits count it as if it went out
        planned.append(PlannedOrder(signal, order_id(signal["signal_id"], strategy_id), quantity))
    if planned and _clear_to_send(timescale, redis, broker, report, strategy_id, limits, standing, now):
        recorded = _record(timescale, planned, strategy_id)
        for order in planned:
            if order.order_id not in recorded:  # another run recorded it first: it submits, reconciliation settles
                report.recorded_elsewhere += 1
                log.warning("order %s was recorded by another run; not submitted again", order.order_id)
        _send(timescale, redis, broker, [o for o in planned if o.order_id in recorded], report, strategy_id,
              limits)
    record_alerts(timescale, alert_type="risk_limit", severity="warning", component="trading", alerts=blocks)
    return report


@dataclass(frozen=True)
class PlannedOrder:
    """An order a run has sized and cleared and means to send: its signal (a ``pending_signals.sql`` row)."""

    signal: dict[str, Any]
    order_id: str
    quantity: float

    def request(self) -> OrderRequest:
        s = self.signal
        return OrderRequest(client_order_id(self.order_id), s["symbol"], s["signal_type"], self.quantity,
                            time_in_force=time_in_force(s["timeframe"]),
                            not_before=s["timestamp"] + BAR_LENGTH[s["timeframe"]])

    def describe(self, what: object) -> tuple[str, dict[str, str]]:
        """An alert's message and cause for this order."""
        s = self.signal
        return (f"{s['signal_type']} {self.quantity:g} {s['symbol']}: {what}",
                {"order_id": self.order_id, "signal_id": s["signal_id"]})


def _clear_to_send(timescale: TimescaleResource, redis: RedisResource, broker: Broker, report: PlacementReport,
                   strategy_id: str, limits: RiskLimits, standing: Standing, now: datetime) -> bool:
    """Whether the run's orders may be recorded and sent: no stop in force (read first: a stop in force is not
    triggered again, nor its cancels repeated), and none of the conditions that stop all trading (the day's
    loss and the drawdown on the broker's equity now, stale market data), any of which triggers the stop."""
    if _stop_blocks(timescale, stop_state(timescale, redis), report, strategy_id):
        return False
    account = broker.account()
    trigger = stop_trigger(limits, equity=account.equity, last_equity=account.last_equity,
                           peak_equity=standing.peak_equity, newest_bar=standing.newest_bar, now=now)
    if trigger:
        report.stopped = trigger[1]
        trigger_stop(timescale, redis, broker, trigger_type=trigger[0], description=trigger[1], triggered_by="risk")
        return False
    return True


def _record(timescale: TimescaleResource, planned: list[PlannedOrder], strategy_id: str) -> set[str]:
    """Record the run's orders (``pending_new``) and their ``order_submissions`` rows in one transaction, before
    any of them is sent; returns the ids recorded here (not those another run recorded first)."""
    with timescale.connection() as conn, conn.transaction(), conn.cursor() as cur:
        cur.execute(INSERT_ORDERS_SQL, {
            "strategy_id": strategy_id, "order_ids": [o.order_id for o in planned],
            "symbols": [o.signal["symbol"] for o in planned], "sides": [o.signal["signal_type"] for o in planned],
            "quantities": [float(o.quantity) for o in planned], "signal_ids": [o.signal["signal_id"] for o in planned]})
        recorded = [row[0] for row in cur.fetchall()]
        if recorded:
            cur.execute(RECORD_SUBMISSIONS_SQL, {"order_ids": recorded})
    return set(recorded)


@dataclass
class _Burst:
    """The state the submitting threads of one run share: the orders attempted and their outcomes so far, the
    broker errors in a row (in the order the answers came), and why the rest of the run must not be sent (a
    stop read before a send, ``max_broker_errors_in_a_row``, an unexpected failure, an interruption)."""

    limit: int
    attempted: set[str] = field(default_factory=set)
    outcomes: dict[str, BrokerOrder | ApiError | StopState] = field(default_factory=dict)
    errors_in_a_row: int = 0
    streak: str | None = None
    halted_by: StopState | str | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def halted(self) -> bool:
        with self.lock:
            return self.halted_by is not None

    def halt(self, why: StopState | str) -> None:
        with self.lock:
            self.halted_by = self.halted_by or why

    def attempt(self, order: str) -> None:
        with self.lock:
            self.attempted.add(order)

    def tally(self, order: str, outcome: BrokerOrder | ApiError | StopState) -> None:
        with self.lock:
            self.outcomes[order] = outcome
            if isinstance(outcome, StopState):
                self.halted_by = self.halted_by or outcome
                return
            self.errors_in_a_row = self.errors_in_a_row + 1 if isinstance(outcome, ApiError) else 0
            if self.errors_in_a_row >= self.limit and self.streak is None:
                self.streak = f"{self.errors_in_a_row} broker errors in a row"
                self.halted_by = self.halted_by or self.streak


class _StopBeforeSend(Exception):  # noqa: N818 - a control-flow signal, not an error
    """The stop read right before a send forbade it; ``sends``: the order's sends before this one (a re-send
    after a lost answer: the first may have reached the broker)."""

    def __init__(self, state: StopState, sends: int):
        super().__init__(state.detail)
        self.state, self.sends = state, sends


def _stop_gate(timescale: TimescaleResource, redis: RedisResource) -> Callable[[], None]:
    """The broker's ``before_send`` for one order: read the emergency stop right before each send, after any
    wait for the rate limit or a retry; raise :class:`_StopBeforeSend` when it does not allow orders."""
    sends = 0

    def gate() -> None:
        nonlocal sends
        state = stop_state(timescale, redis)
        if not state.orders_allowed:
            raise _StopBeforeSend(state, sends)
        sends += 1

    return gate


def _send(timescale: TimescaleResource, redis: RedisResource, broker: Broker, orders: list[PlannedOrder],
          report: PlacementReport, strategy_id: str, limits: RiskLimits) -> None:
    """Submit recorded orders, up to ``broker.concurrent_submits`` at once (each symbol's in order, on one
    thread), each send right after its own read of the emergency stop; then, whatever happened (an unexpected
    failure or an interruption halts every thread first), write every answer back in one transaction,
    withdraw the orders never sent, and trigger the stop on an error streak."""
    burst = _Burst(limits.max_broker_errors_in_a_row)

    def send_in_order(chain: list[PlannedOrder]) -> None:
        for order in chain:
            if burst.halted():
                return
            burst.attempt(order.order_id)
            try:
                burst.tally(order.order_id, broker.submit_order(order.request(), _stop_gate(timescale, redis)))
            except _StopBeforeSend as stop:
                if stop.sends:  # a re-send after a lost answer: the first may be at the broker
                    burst.tally(order.order_id, ApiUncertainError("broker", None, "submit", "the answer was lost "
                                                                  "and the stop came before the re-send"))
                    burst.halt(stop.state)
                else:
                    burst.tally(order.order_id, stop.state)
                return
            except ApiError as exc:
                burst.tally(order.order_id, exc)
            except BaseException:
                burst.halt("an unexpected failure while submitting")  # the other threads send nothing more
                raise

    chains: dict[str, list[PlannedOrder]] = {}
    for order in orders:
        chains.setdefault(order.signal["symbol"], []).append(order)
    workers = min(broker.concurrent_submits, len(chains))
    try:
        if workers <= 1:
            send_in_order(orders)  # oldest first, on this thread
        else:
            with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="submit") as pool:
                try:
                    for sent in [pool.submit(send_in_order, chain) for chain in chains.values()]:
                        sent.result()
                except BaseException:
                    burst.halt("interrupted")  # a failed thread or a terminated run: nothing more goes out
                    raise
    finally:
        _settle(timescale, redis, broker, orders, burst, report, strategy_id)


def _settle(timescale: TimescaleResource, redis: RedisResource, broker: Broker, orders: list[PlannedOrder],
            burst: _Burst, report: PlacementReport, strategy_id: str) -> None:
    """Write a run's answers back in one transaction: placed and refused orders updated, orders never sent
    withdrawn (their signals pending again), orders sent without a clear answer left pending (with an alert)
    for reconciliation; then the stop the run met, or the one its error streak triggers."""
    updates, unsent = [], []
    alerts: dict[str, list[tuple[str, dict[str, str]]]] = {"order_rejected": [], "order_uncertain": []}
    for order in orders:
        outcome = burst.outcomes.get(order.order_id)
        signal_id = order.signal["signal_id"]
        if isinstance(outcome, BrokerOrder):
            report.submitted += 1
            updates.append(_order_update(order.order_id, outcome))
        elif isinstance(outcome, ApiError) and refused_by_broker(outcome):
            report.rejected[signal_id] = str(outcome)
            updates.append(_order_update(order.order_id, status="rejected"))
            alerts["order_rejected"].append(order.describe(outcome))
        elif isinstance(outcome, ApiError):  # the broker may hold it: it stays pending_new, reconciliation settles
            report.uncertain[signal_id] = str(outcome)
            alerts["order_uncertain"].append(order.describe(outcome))
        elif order.order_id in burst.attempted and outcome is None:  # its submit failed unexpectedly
            report.uncertain[signal_id] = "no answer: the submit failed unexpectedly"
            alerts["order_uncertain"].append(order.describe("the submit failed unexpectedly"))
        else:  # never sent: the stop came, or the run halted first
            unsent.append(order.order_id)
    timescale.execute_many(UPDATE_ORDER_SQL, updates)
    if unsent:
        timescale.execute(WITHDRAW_ORDERS_SQL, {"order_ids": unsent})
    for alert_type, described in alerts.items():
        record_alerts(timescale, alert_type=alert_type, severity="error", component="trading", alerts=described)
    if isinstance(burst.halted_by, StopState):
        _stop_blocks(timescale, burst.halted_by, report, strategy_id)
    if burst.streak is not None:
        report.stopped = report.stopped or burst.streak
        trigger_stop(timescale, redis, broker, trigger_type="broker_errors", description=burst.streak,
                     triggered_by="orders")


def _stop_blocks(timescale: TimescaleResource, state: StopState, report: PlacementReport, strategy_id: str) -> bool:
    """Whether the stop state blocks orders; an unknown state is also an alert (once per strategy and day)."""
    if state.orders_allowed:
        return False
    report.stopped = state.detail
    log.warning("no order goes out: %s", state.detail)
    if state.active is None:
        report.stop_unknown = True
        try:
            _alert(timescale, "stop_state_unknown", "critical", f"no order goes out: {state.detail}",
                   {"strategy_id": strategy_id, "day": trading_day_start(datetime.now(UTC)).date()})
        except Exception as exc:  # noqa: BLE001 - the database may be what is down; the run fails regardless
            log.error("alert not recorded (%s)", exc)
    return True


def reconcile_orders(timescale: TimescaleResource, broker: Broker, pending_expiry_minutes: float = 15.0,
                     strategy_id: str | None = None, expire: bool = True) -> int:
    """Bring every order that is not final up to the broker's status and fills; returns how many changed.

    An order the broker does not know is ``expired`` with an error alert when it was never sent (its run
    stopped between recording and submitting) or was sent more than ``pending_expiry_minutes`` ago; until
    then it stays pending. A look-up without a clear answer leaves the order as it is, with an alert.
    ``strategy_id`` limits it to one strategy's orders (a simulated broker knows only its strategy's);
    without ``expire`` nothing is expired (outside the placement lock, where a run may be mid-submit).
    Call it under :func:`placement_lock`: an order being recorded right now has not been sent yet."""
    changed = 0
    for order, sent, minutes_since_sent in timescale.read(OPEN_ORDERS_SQL, {"strategy_id": strategy_id}).select(
            "order_id", "sent", "minutes_since_sent").iter_rows():
        try:
            found = broker.order_by_client_id(client_order_id(order))
        except ApiError as exc:
            _alert(timescale, "order_uncertain", "error", f"order {order} could not be looked up: {exc}",
                   {"order_id": order, "step": "reconcile"})
            continue
        if found is not None:
            changed += timescale.execute(UPDATE_ORDER_SQL, _order_update(order, found))
        elif expire and (not sent or minutes_since_sent >= pending_expiry_minutes):
            why = ("never sent (its run stopped between recording and submitting it)" if not sent else
                   f"sent {minutes_since_sent:.0f} minutes ago and not found at the broker "
                   f"(limit {pending_expiry_minutes:g})")
            if timescale.execute(EXPIRE_ORDER_SQL, {"order_id": order}):
                changed += 1
                _alert(timescale, "order_expired", "error", f"order {order} expired: {why}", {"order_id": order})
    return changed


def stop_every_account(timescale: TimescaleResource, redis: RedisResource,
                       accounts: Callable[[], AbstractContextManager[list[tuple[str | None, Broker]]]], *,
                       description: str, triggered_by: str, liquidate: bool) -> tuple[str, int]:
    """The manual emergency stop: recorded first (it holds even if no broker can be reached), then every
    account of the chosen broker acted on (``accounts``: :meth:`BrokerResource.accounts`). A strategy's
    simulated book keeps its memory in ``orders``, so its canceled orders and closing orders are written
    there. Returns the stop's id and how many accounts were acted on."""
    event = record_stop(timescale, redis, trigger_type="manual", description=description, triggered_by=triggered_by,
                        liquidate=liquidate)
    with accounts() as opened:
        closing = act_at_brokers(timescale, event, [broker for _, broker in opened], liquidate=liquidate)
        for (strategy, broker), orders in zip(opened, closing, strict=True):
            if strategy is None:
                continue
            for placed in orders:
                timescale.execute(RECORD_BROKER_ORDER_SQL, {**_order_update(str(uuid.UUID(
                    placed.client_order_id.removeprefix("ats-"))), placed), "symbol": placed.symbol,
                    "side": placed.side, "quantity": placed.qty, "strategy_id": strategy})
            reconcile_orders(timescale, broker, strategy_id=strategy, expire=False)
    return event, len(opened)


def sync_positions(timescale: TimescaleResource, broker: Broker, strategy_id: str) -> pl.DataFrame:
    """Make the strategy's ``positions`` match its book at the broker (:func:`strategy_positions`): open ones
    upserted with P&L, vanished ones kept as closed."""
    held = strategy_positions(timescale, broker, strategy_id)
    timescale.execute_many(SYNC_POSITION_SQL, [{
        "position_id": str(uuid.uuid5(ORDER_NAMESPACE, f"position|{strategy_id}|{p.symbol}")), "symbol": p.symbol,
        "quantity": p.qty, "entry_price": p.avg_entry_price, "current_price": p.current_price,
        "strategy_id": strategy_id, "pnl": round(p.unrealized_pl, 6),
        "pnl_percentage": round(p.unrealized_plpc * 100, 6),
    } for p in held])
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
