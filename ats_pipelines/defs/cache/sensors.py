"""Cache sensors: they watch what each key family mirrors and launch the refresh run.

Each keeps a cursor (storage ids of the materializations it has seen, or a fingerprint of the tables), and
every run request carries a run key made of that cursor: a sensor restarted mid-way neither skips a change
(the cursor only moves once the request is emitted) nor repeats one (Dagster drops a repeated run key).
"""

import hashlib
import json
import time
from datetime import UTC, datetime

import dagster as dg

from ats_pipelines.defs.cache.assets import feature_cache, model_cache, status_cache, trading_cache
from ats_pipelines.defs.cache.stream_health import stream_health
from ats_pipelines.resources import RedisResource, TimescaleResource, redis_keys
from ats_pipelines.sql_files import read_sql_beside

TRADING_FINGERPRINT_SQL = read_sql_beside(__file__, "trading_fingerprint.sql")

feature_cache_job = dg.define_asset_job("feature_cache_job", selection=[feature_cache])
model_cache_job = dg.define_asset_job("model_cache_job", selection=[model_cache])
trading_cache_job = dg.define_asset_job("trading_cache_job", selection=[trading_cache])
status_cache_job = dg.define_asset_job("status_cache_job", selection=[status_cache])
STATUS_EVERY_SECONDS = 300


def new_materializations(context: dg.SensorEvaluationContext, assets: list[str]
                         ) -> tuple[dict[str, int], list[dg.EventLogRecord]]:
    """The materializations of ``assets`` after the cursor's storage ids, oldest first, and the new cursor."""
    cursor = json.loads(context.cursor) if context.cursor else {}
    records = []
    for asset in assets:
        found = context.instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=dg.AssetKey(asset), after_storage_id=cursor.get(asset)),
            limit=10_000, ascending=True).records
        if found:
            cursor[asset] = found[-1].storage_id
            records += found
    return cursor, records


@dg.sensor(job=feature_cache_job, minimum_interval_seconds=30, default_status=dg.DefaultSensorStatus.RUNNING)
def feature_cache_sensor(context: dg.SensorEvaluationContext):
    """After features materialize: refresh the feature keys of the partitions they wrote."""
    cursor, records = new_materializations(context, ["features"])
    if not records:
        return dg.SkipReason("no new features materialization")
    partitions = sorted({r.partition_key for r in records if r.partition_key})
    encoded = json.dumps(cursor, sort_keys=True)
    return dg.SensorResult(cursor=encoded, run_requests=[dg.RunRequest(
        run_key=f"feature_cache:{encoded}",
        run_config={"ops": {"feature_cache": {"config": {"partitions": partitions}}}},
    )])


@dg.sensor(job=model_cache_job, minimum_interval_seconds=30, default_status=dg.DefaultSensorStatus.RUNNING)
def model_cache_sensor(context: dg.SensorEvaluationContext):
    """After a training or new signals: refresh the model keys."""
    cursor, records = new_materializations(context, ["models", "trading_signals"])
    if not records:
        return dg.SkipReason("no new models or trading_signals materialization")
    encoded = json.dumps(cursor, sort_keys=True)
    return dg.SensorResult(cursor=encoded, run_requests=[dg.RunRequest(run_key=f"model_cache:{encoded}")])


@dg.sensor(job=trading_cache_job, minimum_interval_seconds=15, default_status=dg.DefaultSensorStatus.RUNNING)
def trading_cache_sensor(context: dg.SensorEvaluationContext, timescale: TimescaleResource):
    """When orders, positions or emergency events change (a fingerprint of the tables): refresh their keys."""
    fingerprint = hashlib.sha256(timescale.read(TRADING_FINGERPRINT_SQL).item().encode()).hexdigest()[:16]
    if fingerprint == context.cursor:
        return dg.SkipReason("orders, positions and emergency events unchanged")
    return dg.SensorResult(cursor=fingerprint, run_requests=[dg.RunRequest(run_key=f"trading_cache:{fingerprint}")])


@dg.sensor(job=status_cache_job, minimum_interval_seconds=60, default_status=dg.DefaultSensorStatus.RUNNING)
def status_cache_sensor(context: dg.SensorEvaluationContext) -> dg.RunRequest:
    """Every five minutes: refresh system and component status."""
    return dg.RunRequest(run_key=f"status_cache:{int(time.time() // STATUS_EVERY_SECONDS)}")


def now() -> datetime:
    return datetime.now(UTC)


@dg.sensor(minimum_interval_seconds=60, default_status=dg.DefaultSensorStatus.RUNNING)
def stream_watchdog_sensor(context: dg.SensorEvaluationContext, redis: RedisResource) -> dg.SkipReason:
    """Every minute: mark ``component:stream:status`` stalled when the stream is silent in market hours."""
    key = redis_keys.COMPONENT_STATUS.build(component_name="stream")
    status = redis.get_hash(key)
    health, reason = stream_health(status, now())
    if health == "stalled" and status.get("health") != "stalled":
        context.log.warning(f"stream stalled: {reason}")
    redis.set_hashes({key: {"health": health, "health_reason": reason, "health_checked_at": now().isoformat()}},
                     replace=False)
    return dg.SkipReason(f"stream {health}: {reason}")
