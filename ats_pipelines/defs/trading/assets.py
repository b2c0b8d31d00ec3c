"""Trading assets: orders from the signals of each partition, and positions synced from the broker."""

import json
import uuid
from dataclasses import fields
from datetime import UTC, datetime

import dagster as dg
from pydantic import Field

from ats_pipelines.defs.market_data.partitions import daily_partitions, partition_label, partition_window
from ats_pipelines.defs.trading.orders import (
    ORDER_NAMESPACE,
    place_orders,
    placement_lock,
    reconcile_orders,
    sync_positions,
)
from ats_pipelines.defs.trading.risk import RiskLimits
from ats_pipelines.resources import RedisResource, TimescaleResource
from ats_pipelines.resources.brokers import BrokerResource
from ats_pipelines.sql_files import read_sql_beside

UPSERT_STRATEGY_SQL = read_sql_beside(__file__, "upsert_strategy.sql")
TRADING = {"group_name": "trading", "kinds": {"python", "broker", "timescaledb"}}
LIMITS = RiskLimits()
ORDERS_POOL = "trading_orders"  # one orders step at a time (dagster.yaml); the advisory lock holds regardless


class StrategyConfig(dg.Config):
    """The strategy an order run trades for, and its sizing and risk limits (defaults shown in the UI)."""

    strategy: str = Field(default="default", description="strategy name (strategies table)")
    model_name: str = Field(default="next_bar_direction_xgb", description="whose signals the strategy trades")
    notional_per_signal: float = LIMITS.notional_per_signal
    max_position_value: float = LIMITS.max_position_value
    max_gross_exposure: float = LIMITS.max_gross_exposure
    max_orders_per_day: int = LIMITS.max_orders_per_day
    max_signal_age_minutes: float = LIMITS.max_signal_age_minutes
    max_broker_errors_in_a_row: int = LIMITS.max_broker_errors_in_a_row
    max_daily_loss: float = LIMITS.max_daily_loss
    max_drawdown: float = LIMITS.max_drawdown
    max_data_age_minutes: float = LIMITS.max_data_age_minutes
    pending_expiry_minutes: float = LIMITS.pending_expiry_minutes
    lock_wait_seconds: float = Field(default=300.0, description="how long a run waits for another placement run "
                                     "of the strategy to finish before it fails")

    def limits(self) -> RiskLimits:
        return RiskLimits(**{f.name: getattr(self, f.name) for f in fields(RiskLimits)})

    def strategy_id(self, timescale: TimescaleResource) -> str:
        """The strategy's id (stable per name), its row created or updated with these parameters."""
        strategy_id = str(uuid.uuid5(ORDER_NAMESPACE, f"strategy|{self.strategy}"))
        timescale.execute(UPSERT_STRATEGY_SQL, {
            "strategy_id": strategy_id, "name": self.strategy, "description": f"trades {self.model_name} signals",
            "model_name": self.model_name, "parameters": json.dumps(vars(self.limits())),
        })
        return strategy_id


@dg.asset(
    **TRADING,
    pool=ORDERS_POOL,
    partitions_def=daily_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    deps=["trading_signals"],
    description="Orders: each new signal of the partition, sized and checked against the strategy's risk limits, "
    "submitted to the broker under a client_order_id derived from the signal (never twice), right after reading "
    "the emergency stop; then every open order reconciled with the broker. One run at a time per strategy.",
)
def orders(context: dg.AssetExecutionContext, config: StrategyConfig, timescale: TimescaleResource,
           redis: RedisResource, broker: BrokerResource) -> dg.MaterializeResult:
    strategy_id = config.strategy_id(timescale)
    limits = config.limits()
    with placement_lock(timescale, strategy_id, config.lock_wait_seconds), \
            broker.broker(timescale, strategy_id) as client:
        report = place_orders(timescale, redis, client, strategy_id=strategy_id, model_name=config.model_name,
                              window=partition_window(context), limits=limits, now=datetime.now(UTC))
        reconciled = reconcile_orders(timescale, client, limits.pending_expiry_minutes, strategy_id)
    for signal, reason in report.blocked.items():
        context.log.info(f"signal {signal} blocked: {reason}")
    if report.stop_unknown:
        raise dg.Failure(f"orders stopped, the emergency stop state is unknown: {report.stopped}",
                         metadata=report.as_metadata())
    if report.stopped:
        context.log.warning(f"orders stopped: {report.stopped}")
    return dg.MaterializeResult(metadata={"partitions": partition_label(context), "strategy": config.strategy,
                                          **report.as_metadata(), "orders_reconciled": reconciled})


@dg.asset(**TRADING, deps=["orders"], description="Positions synced from the broker: quantity, entry and current "
          "price, P&L and P&L %; positions the broker no longer holds are kept with status closed.")
def positions(config: StrategyConfig, timescale: TimescaleResource, broker: BrokerResource) -> dg.MaterializeResult:
    strategy_id = config.strategy_id(timescale)
    with broker.broker(timescale, strategy_id) as client:
        held = sync_positions(timescale, client, strategy_id)
    return dg.MaterializeResult(metadata={"open_positions": held.height,
                                          "unrealized_pnl": round(float(held["pnl"].sum()), 2) if held.height else 0.0})
