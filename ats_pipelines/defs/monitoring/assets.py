"""Monitoring assets: health and size of the platform's own stores."""

import socket
from datetime import UTC, datetime

import dagster as dg
import polars as pl

from ats_pipelines.defs.automation import follows_any_update
from ats_pipelines.defs.monitoring.trading_metrics import equity_markdown, metric_rows
from ats_pipelines.defs.trading.assets import StrategyConfig
from ats_pipelines.defs.trading.orders import strategy_positions
from ats_pipelines.defs.trading.strategies import strategies
from ats_pipelines.resources import RedisResource, TimescaleResource, redis_keys
from ats_pipelines.resources.brokers import BrokerResource
from ats_pipelines.sql_files import read_sql_beside

DATABASE_METRICS_SQL = read_sql_beside(__file__, "database_metrics.sql")


@dg.asset(
    group_name="monitoring",
    description="Size and health metrics of TimescaleDB and Redis, appended to system_metrics; the "
    "latest status of each store is mirrored to Redis (component:{name}:status).",
    kinds={"python", "timescaledb", "redis"},
)
def system_metrics(
    context: dg.AssetExecutionContext, timescale: TimescaleResource, redis: RedisResource
) -> dg.MaterializeResult:
    now = datetime.now(UTC).replace(microsecond=0)
    mode = timescale.mode()
    db_metrics = timescale.read(DATABASE_METRICS_SQL).with_columns(pl.lit("timescaledb").alias("component"))
    info = redis.client.info()
    redis_metrics = pl.DataFrame({
        "metric_name": ["used_memory_bytes", "connected_clients", "keys"],
        "metric_value": [float(info["used_memory"]), float(info["connected_clients"]), float(redis.client.dbsize())],
        "component": ["redis"] * 3,
    })
    metrics = pl.concat([
        db_metrics.with_columns(pl.col("metric_value").cast(pl.Float64)), redis_metrics
    ]).with_columns(pl.lit(now).alias("timestamp"), pl.lit(socket.gethostname()).alias("host"))
    result = timescale.write("system_metrics", metrics)
    redis.set_hashes({
        redis_keys.component_status("timescaledb"): {"status": "ok", "mode": mode.kind, "checked_at": now.isoformat()},
        redis_keys.component_status("redis"): {"status": "ok", "checked_at": now.isoformat()},
    })
    context.log.info(mode.describe())
    return dg.MaterializeResult(metadata={"database_mode": mode.kind, **result.as_metadata()})


@dg.asset(
    group_name="monitoring",
    deps=["orders", "positions"],
    automation_condition=follows_any_update(ignore=dg.AssetSelection.assets("orders")),
    kinds={"python", "broker", "timescaledb"},
    description="Daily trading metrics of every strategy (equity, the day's P&L, gross exposure, max drawdown, Sharpe, "
    "win rate of round trips, realised P&L) and per symbol (position value, unrealised P&L), from the broker and "
    "the orders; the materialization shows the headline numbers and the equity curve.",
)
def trading_metrics(config: StrategyConfig, timescale: TimescaleResource, broker: BrokerResource
                    ) -> dg.MaterializeResult:
    named = config.strategy_id(timescale)
    day = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    frames = []
    for strategy in strategies(timescale):
        with broker.broker(timescale, strategy.strategy_id) as client:
            held = strategy_positions(timescale, client, strategy.strategy_id)
            frames.append(metric_rows(timescale, client, strategy.strategy_id, day, held))
    rows = pl.concat(frames)
    result = timescale.write("trading_metrics", rows)
    headline = {name: round(value, 4) for name, value in rows.filter(pl.col("symbol").is_null() & (
        pl.col("strategy_id") == named)).select("metric_name", "metric_value").iter_rows()}
    return dg.MaterializeResult(metadata={**headline, **result.as_metadata(), "strategy": config.strategy,
                                          "strategies": len(frames),
                                          "equity_curve": dg.MetadataValue.md(equity_markdown(timescale, named))})
