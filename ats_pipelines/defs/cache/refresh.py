"""Rebuilding Redis from the database, one key family at a time.

Every refresh reads what its keys mirror from TimescaleDB and overwrites them (a hash or sorted set is
replaced inside ``MULTI``/``EXEC``, so a reader never sees it half-written), so ``FLUSHALL`` loses nothing
that the next refresh does not restore. Keys are named only by :mod:`ats_pipelines.resources.redis_keys`;
the commands go through ``RedisResource.send_encoded`` (RESP encoded in bulk by Polars).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import dagster as dg
import numpy as np
import polars as pl

from ats_pipelines.defs.trading.emergency import stop_in_force
from ats_pipelines.resources import RedisResource, TimescaleResource, redis_keys
from ats_pipelines.resources.resp import Spread, encode
from ats_pipelines.sql_files import read_sql_beside

FEATURE_HISTORY_SQL = read_sql_beside(__file__, "feature_history.sql")
MODEL_METADATA_SQL = read_sql_beside(__file__, "model_metadata.sql")
RECENT_PREDICTIONS_SQL = read_sql_beside(__file__, "recent_predictions.sql")
OPEN_POSITIONS_SQL = read_sql_beside(__file__, "open_positions.sql")
STRATEGY_POSITIONS_SQL = read_sql_beside(__file__, "strategy_positions.sql")
RECENT_ORDERS_SQL = read_sql_beside(__file__, "recent_orders.sql")



@dataclass(frozen=True)
class Refreshed:
    """What one refresh wrote."""

    keys: int
    commands: int
    rows_read: int

    def as_metadata(self) -> dict[str, int]:
        return {"keys_written": self.keys, "redis_commands": self.commands, "rows_read": self.rows_read}


def replace_hashes(redis: RedisResource, frame: pl.DataFrame) -> int:
    """Replace the hash at each row's ``key`` by the row's other columns (as text), atomically per key."""
    frame = frame.with_columns(pl.exclude("key").cast(pl.String).fill_null(""))
    fields = [item for name in frame.columns if name != "key" for item in (name, pl.col(name))]
    return _replace(redis, frame, "HSET", pl.col("key"), *fields)


def replace_sorted_sets(redis: RedisResource, frame: pl.DataFrame) -> int:
    """Replace the sorted set at each row's ``key`` by its ``entries`` (score, member, score, ...)."""
    return _replace(redis, frame, "ZADD", pl.col("key"), Spread(pl.col("entries")))


def _pairs(score: pl.Expr, member: pl.Expr) -> pl.Expr:
    """In a group_by: the group's ``[score, member, score, member, ...]`` as ``entries``, for ZADD."""
    return pl.concat_list(score, member).list.explode(keep_nulls=False, empty_as_null=False).alias("entries")


def _replace(redis: RedisResource, frame: pl.DataFrame, *write: str | pl.Expr | Spread) -> int:
    """``MULTI; DEL key; <write>; EXEC`` for every row: each key replaced atomically."""
    if frame.height == 0:
        return 0
    return redis.send_encoded(encode(frame, ["MULTI"], ["DEL", pl.col("key")], list(write), ["EXEC"]))


def refresh_features(timescale: TimescaleResource, redis: RedisResource, window: tuple[datetime, datetime],
                     history: int, ttl_seconds: int) -> Refreshed:
    """``feature:*`` (the latest value, with a TTL) and ``feature_history:*`` (the newest ``history`` values,
    scored by epoch seconds, member ``<epoch>:<value>``) of every series with a value in ``window``."""
    rows = timescale.read_series(FEATURE_HISTORY_SQL, {"start": window[0], "end": window[1], "history": history},
                                 keys=3, arrays=2)
    if not rows:
        return Refreshed(0, 0, 0)
    names = ["symbol", "feature_name", "timeframe"]
    series = pl.DataFrame({name: [row[i] for row in rows] for i, name in enumerate(names)},
                          schema=dict.fromkeys(names, pl.String))
    lengths = np.array([len(row[3]) for row in rows])
    flat = pl.DataFrame({
        "_series": np.repeat(np.arange(len(rows)), lengths),
        "epoch": np.concatenate([row[3] for row in rows]) / 1e6,
        "value": np.concatenate([row[4] for row in rows]),
    }).with_columns(pl.col("epoch", "value").cast(pl.String))
    entries = flat.group_by("_series", maintain_order=True).agg(
        _pairs(pl.col("epoch"), pl.concat_str([pl.col("epoch"), pl.lit(":"), pl.col("value")])),
        pl.col("value").last().alias("latest"))
    series = pl.concat([series, entries.drop("_series")], how="horizontal")
    parts = dict(zip(names, names, strict=True))
    latest = series.select(redis_keys.FEATURE.column(series, **parts), "latest")
    histories = series.select(redis_keys.FEATURE_HISTORY.column(series, **parts), "entries")
    commands = redis.send_encoded(encode(latest, ["SET", pl.col("key"), pl.col("latest"), "EX", str(ttl_seconds)]))
    commands += replace_sorted_sets(redis, histories)
    return Refreshed(2 * series.height, commands, int(lengths.sum()))


def refresh_models(timescale: TimescaleResource, redis: RedisResource, history: int) -> Refreshed:
    """``model:{id}:metadata`` of every model and ``model:{id}:predictions:{symbol}``, the newest ``history``
    signals of each model and symbol (scored by epoch seconds, member the signal as JSON)."""
    models = timescale.read(MODEL_METADATA_SQL)
    predictions = timescale.read(RECENT_PREDICTIONS_SQL, {"history": history})
    models = models.with_columns(redis_keys.MODEL_METADATA.column(models, model_id="model_id"))
    predictions = predictions.sort("score").group_by("model_id", "symbol").agg(
        _pairs(pl.col("score").cast(pl.String), pl.col("member")))
    predictions = predictions.with_columns(
        redis_keys.MODEL_PREDICTIONS.column(predictions, model_id="model_id", symbol="symbol"))
    commands = replace_hashes(redis, models) + replace_sorted_sets(redis, predictions)
    return Refreshed(models.height + predictions.height, commands, models.height + predictions.height)


def refresh_trading(timescale: TimescaleResource, redis: RedisResource, order_days: int) -> Refreshed:
    """``active_positions`` and ``position:{symbol}`` (open positions, each symbol across strategies; keys of
    positions no longer open are deleted), each strategy's own ``strategy:{id}:positions`` and
    ``strategy:{id}:position:{symbol}``, ``order:{order_id}`` (pending orders and those updated in the last
    ``order_days`` days), ``pending_orders``, and ``emergency:status`` (the newest unresolved emergency event,
    or inactive)."""
    positions = timescale.read(OPEN_POSITIONS_SQL)
    orders = timescale.read(RECENT_ORDERS_SQL, {"days": order_days})
    emergency = stop_in_force(timescale)
    open_symbols = positions["symbol"].to_list() if positions.height else []
    gone = _replace_members(redis, redis_keys.ACTIVE_POSITIONS.build(), open_symbols,
                            lambda s: redis_keys.POSITION.build(symbol=s))
    pending = orders.filter(pl.col("pending"))["order_id"].to_list() if orders.height else []
    redis.set_members(redis_keys.PENDING_ORDERS.build(), pending)
    commands = replace_hashes(redis, positions.with_columns(redis_keys.POSITION.column(positions, symbol="symbol")))
    own = timescale.read(STRATEGY_POSITIONS_SQL)
    for strategy_id, held in own.group_by("strategy_id", maintain_order=True):
        strategy_id, held = strategy_id[0], held.filter(pl.col("status") == "open")
        gone += _replace_members(
            redis, redis_keys.STRATEGY_POSITIONS.build(strategy_id=strategy_id), held["symbol"].to_list(),
            lambda symbol, sid=strategy_id: redis_keys.STRATEGY_POSITION.build(strategy_id=sid, symbol=symbol))
        commands += replace_hashes(redis, held.with_columns(redis_keys.STRATEGY_POSITION.column(
            held, strategy_id="strategy_id", symbol="symbol")))
    orders = orders.drop("pending")
    commands += replace_hashes(redis, orders.with_columns(redis_keys.ORDER.column(orders, order_id="order_id")))
    status = ({"active": True, **emergency} if emergency is not None
              else {"active": False, "checked_at": datetime.now(UTC).isoformat()})
    redis.set_values({redis_keys.EMERGENCY_STATUS.build(): json.dumps(status)})
    return Refreshed(len(open_symbols) + orders.height + 3 + gone, commands + 3,
                     positions.height + orders.height + (emergency is not None))


def _replace_members(redis: RedisResource, key: str, members: list[str], member_key: Callable[[str], str]) -> int:
    """Make the set at ``key`` hold ``members``, deleting the keys of members no longer in it; returns how many."""
    gone = redis.members(key) - set(members)
    redis.delete(*(member_key(m) for m in gone))
    redis.set_members(key, members)
    return len(gone)


def refresh_status(timescale: TimescaleResource, redis: RedisResource, instance: dg.DagsterInstance) -> Refreshed:
    """``component:{name}:status`` of the database, Redis, the Dagster daemon and recent runs, and
    ``system:status`` (halted while an emergency stop is unresolved, degraded when a component is not ok)."""
    now = datetime.now(UTC)
    components: dict[str, dict[str, object]] = {}
    try:
        components["timescaledb"] = {"status": "ok", "mode": timescale.mode().kind}
        emergency = stop_in_force(timescale) is not None
    except Exception as exc:  # noqa: BLE001 - the status is the point: an unreachable database is "down"
        components["timescaledb"], emergency = {"status": "down", "error": str(exc)[:200]}, None
    heartbeats = instance.get_daemon_heartbeats()
    newest = max((h.timestamp for h in heartbeats.values()), default=None)
    components["dagster_daemon"] = {
        "status": "ok" if newest and now.timestamp() - newest < 300 else "unknown",
        "last_heartbeat": datetime.fromtimestamp(newest, UTC).isoformat() if newest else "",
        "daemons": ",".join(sorted(heartbeats)),
    }
    failed = instance.get_runs_count(dg.RunsFilter(statuses=[dg.DagsterRunStatus.FAILURE],
                                                   created_after=now - timedelta(days=1)))
    components["pipeline_runs"] = {"status": "ok" if failed == 0 else "degraded", "failed_last_24h": failed}
    components["redis"] = {"status": "ok"}
    stamped = {redis_keys.COMPONENT_STATUS.build(component_name=name): {**fields, "checked_at": now.isoformat()}
               for name, fields in components.items()}
    healthy = all(c["status"] in {"ok", "unknown"} for c in components.values())
    overall = "unknown" if emergency is None else "halted" if emergency else "ok" if healthy else "degraded"
    redis.set_hashes({**stamped, redis_keys.SYSTEM_STATUS.build(): {
        "status": overall, "emergency_stop": "unknown" if emergency is None else str(emergency).lower(),
        "components": ",".join(sorted(components)), "updated_at": now.isoformat()}})
    return Refreshed(len(stamped) + 1, len(stamped) + 1, len(components))

