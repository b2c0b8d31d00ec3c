"""Trading assets: orders from the signals of each partition for every active strategy, and each strategy's
positions synced from the broker."""

from dataclasses import fields
from datetime import UTC, datetime
from typing import Any

import dagster as dg
from pydantic import Field

from ats_pipelines.defs.automation import follows_any_update, follows_inputs
from ats_pipelines.defs.market_data.partitions import daily_partitions, partition_label, partition_window
from ats_pipelines.defs.trading.orders import (
    PlacementReport,
    place_orders,
    placement_lock,
    reconcile_orders,
    sync_positions,
)
from ats_pipelines.defs.trading.risk import RiskLimits
from ats_pipelines.defs.trading.strategies import ensure_strategy, strategies
from ats_pipelines.resources import RedisResource, TimescaleResource
from ats_pipelines.resources.brokers import BrokerResource

TRADING = {"group_name": "trading", "kinds": {"python", "broker", "timescaledb"}}
LIMITS = RiskLimits()
ORDERS_POOL = "trading_orders"  # one orders step at a time (dagster.yaml); the advisory lock holds regardless


def _limit(name: str) -> Any:
    return Field(default=None, description=f"stored for the strategy when given (default {getattr(LIMITS, name)})")


class StrategyConfig(dg.Config):
    """The strategy a run creates on first use, and the parameters it changes: only those given are written
    (the strategies table is the source of truth). Every active strategy trades, with its stored parameters."""

    strategy: str = Field(default="default", description="strategy name (strategies table), created on first use")
    model_name: str | None = Field(default=None, description="whose signals it trades; stored when given")
    notional_per_signal: float | None = _limit("notional_per_signal")
    max_position_value: float | None = _limit("max_position_value")
    max_gross_exposure: float | None = _limit("max_gross_exposure")
    max_orders_per_day: int | None = _limit("max_orders_per_day")
    max_signal_age_minutes: float | None = _limit("max_signal_age_minutes")
    max_broker_errors_in_a_row: int | None = _limit("max_broker_errors_in_a_row")
    max_daily_loss: float | None = _limit("max_daily_loss")
    max_drawdown: float | None = _limit("max_drawdown")
    max_data_age_minutes: float | None = _limit("max_data_age_minutes")
    pending_expiry_minutes: float | None = _limit("pending_expiry_minutes")
    lock_wait_seconds: float = Field(default=300.0, description="how long a run waits for another placement run "
                                     "of a strategy to finish before it fails")

    def strategy_id(self, timescale: TimescaleResource) -> str:
        """The named strategy's id, its row created, or changed where this config names a parameter."""
        given = {f.name: getattr(self, f.name) for f in fields(RiskLimits) if getattr(self, f.name) is not None}
        return ensure_strategy(timescale, self.strategy, self.model_name, given)


@dg.asset(
    **TRADING,
    pool=ORDERS_POOL,
    partitions_def=daily_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    deps=["trading_signals"],
    automation_condition=follows_inputs(),
    description="Orders, for every active strategy (strategies table): each new signal of the partition, sized "
    "and checked against the strategy's risk limits, submitted to the broker under a client_order_id derived "
    "from the signal (never twice), right after reading the emergency stop; then every open order reconciled "
    "with the broker. One run at a time per strategy.",
)
def orders(context: dg.AssetExecutionContext, config: StrategyConfig, timescale: TimescaleResource,
           redis: RedisResource, broker: BrokerResource) -> dg.MaterializeResult:
    config.strategy_id(timescale)
    total, reconciled, by_strategy = PlacementReport(), 0, {}
    for strategy in strategies(timescale):
        with placement_lock(timescale, strategy.strategy_id, config.lock_wait_seconds), \
                broker.broker(timescale, strategy.strategy_id) as client:
            report = PlacementReport()
            if strategy.active:  # paused and retired strategies place nothing; their orders still settle
                report = place_orders(timescale, redis, client, strategy_id=strategy.strategy_id,
                                      model_name=strategy.model_name, window=partition_window(context),
                                      limits=strategy.limits, now=datetime.now(UTC))
            reconciled += reconcile_orders(timescale, client, strategy.limits.pending_expiry_minutes,
                                           strategy.strategy_id)
        for signal, reason in report.blocked.items():
            context.log.info(f"{strategy.name}: signal {signal} blocked: {reason}")
        if report.stop_unknown:
            raise dg.Failure(f"orders stopped, the emergency stop state is unknown: {report.stopped}",
                             metadata=report.as_metadata())
        if report.stopped:
            context.log.warning(f"{strategy.name}: orders stopped: {report.stopped}")
        total.add(report, strategy.name)
        by_strategy[strategy.name] = {"status": strategy.status, **report.as_metadata()}
    return dg.MaterializeResult(metadata={"partitions": partition_label(context), **total.as_metadata(),
                                          "orders_reconciled": reconciled,
                                          "strategies": dg.MetadataValue.json(by_strategy)})


@dg.asset(**TRADING, deps=["orders"], automation_condition=follows_any_update(),
          description="Positions of every strategy, synced from the broker: quantity, "
          "entry and current price, P&L and P&L %; positions no longer held are kept with status closed. An "
          "account-wide broker (Alpaca) is split by strategy from each one's fills.")
def positions(config: StrategyConfig, timescale: TimescaleResource, broker: BrokerResource) -> dg.MaterializeResult:
    config.strategy_id(timescale)
    held, pnl = 0, 0.0
    for strategy in strategies(timescale):
        with broker.broker(timescale, strategy.strategy_id) as client:
            synced = sync_positions(timescale, client, strategy.strategy_id)
        held += synced.height
        pnl += float(synced["pnl"].sum()) if synced.height else 0.0
    return dg.MaterializeResult(metadata={"open_positions": held, "unrealized_pnl": round(pnl, 2)})
