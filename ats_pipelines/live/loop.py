"""The live decision loop (``ats live``): at every completed bar of the universe, its features, the active
model's signals and their orders, while the bar's successor is still forming.

For each stream entry (every symbol's bar of one minute, :mod:`.bus`), under the strategy's placement lock:

0. on a reader thread, the strategy's row and its standing (the risk book at the broker, the peak equity,
   the newest bar: :func:`~ats_pipelines.defs.trading.orders.read_standing`), while this thread goes on;
1. the features of the bars (:mod:`.features`: the asset's kernels over the day's warm window), written to
   ``feature:*`` and ``feature_history:*`` right after the orders (nothing on the order's path waits for them);
2. the active model's signals (:mod:`.scoring`: the batch asset's scoring), written to ``trading_signals``
   (deterministic ids: a replay rewrites the same rows);
3. the orders, through the placement path of the ``orders`` asset
   (:func:`~ats_pipelines.defs.trading.orders.place_orders`: sizing against that standing, risk limits, the
   bar's orders recorded in one transaction and sent concurrently, the emergency stop read right before each
   submit, ``client_order_id`` derived from the signal), for the signals of this bar only,
   on the live clock: a signal's age runs from its bar's end, and nothing goes out outside the regular
   session; then open orders are reconciled, the strategy's ``positions`` synced from the broker (quantity,
   prices, unrealised P&L, as the ``positions`` asset does) and the equity recorded in ``trading_metrics``;
4. only then the entry is acknowledged. A crash anywhere before leaves it pending: the restarted loop
   handles it again, and the ids make the replay add nothing.

A failure of one entry (database or broker away) is logged and retried from the pending list after a
pause; the loop never skips an entry to get ahead.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import datetime

import polars as pl

from ats_pipelines.defs.trading.orders import (
    PlacementReport,
    Standing,
    place_orders,
    placement_lock,
    read_standing,
    reconcile_orders,
    sync_positions,
)
from ats_pipelines.defs.trading.strategies import Strategy, ensure_strategy, strategies
from ats_pipelines.live.bus import BarConsumer, BarEntry
from ats_pipelines.live.clock import wall_clock
from ats_pipelines.live.features import LiveFeatures, write_features
from ats_pipelines.live.scoring import ActiveScorer
from ats_pipelines.resources import ModelStoreResource, RedisResource, TimescaleResource, redis_keys
from ats_pipelines.resources.broker import Broker
from ats_pipelines.resources.brokers import BrokerResource

log = logging.getLogger("ats_pipelines.live")
# Told after a bar that placed or settled orders: the bar, what placement did, the positions now held.
BookListener = Callable[[BarEntry, PlacementReport, pl.DataFrame], None]
RETRY_SECONDS = 2.0
LOCK_WAIT_SECONDS = 10.0  # a batch orders run of the same strategy holds its lock: the entry waits, then retries


@dataclass(frozen=True)
class LiveSettings:
    """What the loop trades and how."""

    strategy: str = "default"
    model_name: str = "next_bar_direction_xgb"
    threshold: float = 0.6
    timeframe: str = "1m"
    limits: dict[str, float] = field(default_factory=dict)  # parameters named for the strategy; the rest as stored
    history: int = 100
    feature_ttl_seconds: int = 3 * 86_400


@dataclass(frozen=True)
class BarHandled:
    """What one entry gave."""

    timestamp: datetime
    bars: int
    features: int
    signals: int
    report: PlacementReport
    seconds: float


class LiveLoop:
    """See the module docstring. :meth:`run` until ``stop`` is set; :meth:`handle` does one entry."""

    def __init__(self, timescale: TimescaleResource, redis: RedisResource, broker: BrokerResource,
                 store: ModelStoreResource, symbols: Sequence[str], settings: LiveSettings | None = None,
                 clock: Callable[[], datetime] = wall_clock, consumer: str | None = None,
                 workers: int | None = 1, on_book_change: BookListener | None = None) -> None:
        self.timescale, self.redis, self.broker_resource = timescale, redis, broker
        self.settings = settings or LiveSettings()
        self.clock = clock
        self.features = LiveFeatures(timescale, symbols, self.settings.timeframe, workers)
        self.scorer = ActiveScorer(timescale, store, self.settings.model_name, self.settings.threshold)
        self.bus = BarConsumer(redis, self.settings.timeframe, consumer)
        self.strategy_id = ensure_strategy(timescale, self.settings.strategy, self.settings.model_name,
                                           dict(self.settings.limits))
        self.on_book_change = on_book_change
        self._stack = ExitStack()
        self.broker: Broker | None = None
        self._reader: ThreadPoolExecutor | None = None  # reads the strategy's standing beside the features

    def __enter__(self) -> LiveLoop:
        """Open the broker, read today's warm window and load the active model, so the first bar pays for none
        of them."""
        self.broker = self._stack.enter_context(self.broker_resource.broker(self.timescale, self.strategy_id,
                                                                            self.clock))
        self.broker.account()  # the connection is open before the first order
        self._reader = self._stack.enter_context(ThreadPoolExecutor(max_workers=1, thread_name_prefix="standing"))
        self.features.load(self.clock().date())
        self.scorer.refresh()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()
        self.broker = None

    def run(self, stop: threading.Event, block_ms: int = 500) -> None:
        """Handle entries as they come until ``stop`` is set; a failed entry is retried after a pause."""
        while not stop.is_set():
            try:
                for entry in self.bus.read(block_ms=block_ms):
                    done = self.handle(entry)
                    log.info("bar %s: %d bars, %d signals, %d orders in %.1f ms%s", entry.timestamp, done.bars,
                             done.signals, done.report.submitted, done.seconds * 1000,
                             "".join(f"; blocked: {r}" for r in sorted(set(done.report.blocked.values()))))
                    if stop.is_set():
                        break
            except Exception:  # noqa: BLE001 - the entry stays pending; nothing is skipped
                log.exception("a bar could not be handled; retrying from the pending entries")
                self.bus.rewind()
                stop.wait(RETRY_SECONDS)

    def handle(self, entry: BarEntry) -> BarHandled:
        """Features, signals, orders, equity, then the acknowledgement of one entry."""
        if self.broker is None:
            raise RuntimeError("use the loop as a context manager: the broker is opened there")
        started = time.perf_counter()
        s = self.settings
        with placement_lock(self.timescale, self.strategy_id, LOCK_WAIT_SECONDS):
            # What the orders answer to is read under the lock while this thread computes and scores the bar.
            standing = self._reader.submit(self._standing)
            wide = self.features.update(entry.timestamp, entry.bars)
            signals = self.scorer.signals(wide, s.timeframe)
            if signals.height:
                self.timescale.write("trading_signals", signals)
            strategy, book = standing.result()
            report = PlacementReport()
            if strategy.active:  # a paused or retired strategy places nothing; its orders still settle
                report = place_orders(self.timescale, self.redis, self.broker, strategy_id=self.strategy_id,
                                      model_name=s.model_name, window=(entry.timestamp, entry.end),
                                      limits=strategy.limits, now=self.clock(), market_hours_only=True,
                                      standing=book)
            seconds = time.perf_counter() - started
            # The orders first; then what only readers wait for.
            latest = [self.features.newest(symbol) == entry.timestamp for symbol in wide["symbol"]]
            write_features(self.redis, wide, s.timeframe, s.history, s.feature_ttl_seconds, latest)
            settled = reconcile_orders(self.timescale, self.broker, strategy.limits.pending_expiry_minutes,
                                       self.strategy_id)
            held = sync_positions(self.timescale, self.broker, self.strategy_id)
        self._record(entry, report, seconds)
        if self.on_book_change is not None and (report.submitted or settled):
            self.on_book_change(entry, report, held)
        self.bus.ack(entry)
        return BarHandled(entry.timestamp, entry.bars.height, wide.height, signals.height, report, seconds)

    def _standing(self) -> tuple[Strategy, Standing]:
        """The strategy as its table holds it (the source of truth: status and limits, read every bar) and what
        its orders are checked against."""
        strategy = next(s for s in strategies(self.timescale) if s.strategy_id == self.strategy_id)
        return strategy, read_standing(self.timescale, self.broker, self.strategy_id, self.clock())

    def _record(self, entry: BarEntry, report: PlacementReport, seconds: float) -> None:
        """The equity at the bar's end in ``trading_metrics`` (what the loss and drawdown limits read) and the
        loop's state in ``component:live:status``."""
        account = self.broker.account()
        self.timescale.write("trading_metrics", pl.DataFrame({
            "timestamp": [entry.end], "metric_name": ["equity"], "metric_value": [round(account.equity, 8)],
            "symbol": [None], "strategy_id": [self.strategy_id], "timeframe": [self.settings.timeframe],
        }, schema_overrides={"symbol": pl.String}))
        self.redis.set_hashes({redis_keys.component_status("live"): {
            "status": "stopped" if report.stopped else "running", "last_bar": entry.timestamp.isoformat(),
            "handled_at": self.clock().isoformat(), "bar_ms": round(seconds * 1000, 3),
            "orders_submitted": report.submitted, "signals_blocked": len(report.blocked),
            "equity": account.equity, "stop": report.stopped or "",
        }})
