"""Monitoring assets: health and size of the platform's own stores."""

import socket
from datetime import UTC, datetime

import dagster as dg
import polars as pl

from ats_pipelines.resources import RedisResource, TimescaleResource, redis_keys
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
