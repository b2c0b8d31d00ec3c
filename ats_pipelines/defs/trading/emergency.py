"""The emergency stop: one state, read before every submit, failing closed.

The database (an unresolved ``emergency_events`` row) is the record; Redis (``emergency:status``) is the fast
mirror. Orders are allowed only when every store that can be read says no stop is in force and at least
one can be read: Redis down falls back to the database, and with neither readable the state is unknown
and nothing is submitted. A stop cancels open orders at the broker and, when asked, liquidates.
Resuming is manual and recorded.
"""

from __future__ import annotations

import json
import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from ats_pipelines.defs.monitoring.alerts import record_alert, resolve_alerts
from ats_pipelines.resources import RedisResource, TimescaleResource, redis_keys
from ats_pipelines.resources.broker import Broker, BrokerOrder
from ats_pipelines.sql_files import read_sql_beside

log = logging.getLogger(__name__)
UNRESOLVED_SQL = read_sql_beside(__file__, "unresolved_emergency.sql")
INSERT_EVENT_SQL = read_sql_beside(__file__, "insert_emergency_event.sql")
ACTIONS_DONE_SQL = read_sql_beside(__file__, "emergency_actions_done.sql")
RESOLVE_SQL = read_sql_beside(__file__, "resolve_emergency.sql")


@dataclass(frozen=True)
class StopState:
    """``active`` is None when no store could be read: unknown, which blocks like a stop."""

    active: bool | None
    detail: str

    @property
    def orders_allowed(self) -> bool:
        return self.active is False


def stop_in_force(timescale: TimescaleResource) -> dict[str, object] | None:
    """The newest unresolved ``emergency_events`` row (as text fields), or None when no stop is in force."""
    rows = timescale.read(UNRESOLVED_SQL)
    return rows.row(0, named=True) if rows.height else None


def stop_state(timescale: TimescaleResource, redis: RedisResource) -> StopState:
    """Read both stores; a stop in either, or neither readable, blocks orders."""
    readings: dict[str, bool] = {}
    try:
        raw = redis.get(redis_keys.EMERGENCY_STATUS.build())
        if raw is not None:
            readings["redis"] = bool(json.loads(raw).get("active"))
    except Exception as exc:  # noqa: BLE001 - any failure to read is "unknown", never "allowed"
        log.warning("emergency status unreadable in Redis (%s); asking the database", exc)
    try:
        readings["database"] = stop_in_force(timescale) is not None
    except Exception as exc:  # noqa: BLE001 - as above
        log.warning("emergency events unreadable in the database (%s)", exc)
    if not readings:
        return StopState(None, "emergency state unknown: neither Redis nor the database can be read")
    if any(readings.values()):
        return StopState(True, "emergency stop in force (" + ", ".join(k for k, v in readings.items() if v) + ")")
    return StopState(False, "no emergency stop (" + ", ".join(readings) + ")")


def trigger_stop(timescale: TimescaleResource, redis: RedisResource, broker: Broker | None, *, trigger_type: str,
                 description: str, triggered_by: str, liquidate: bool = False) -> str:
    """Record a stop, mirror it to Redis, cancel open orders and (``liquidate``) close every position.
    The database row comes first, so the stop holds even if the broker or Redis then fail."""
    event_id = record_stop(timescale, redis, trigger_type=trigger_type, description=description,
                           triggered_by=triggered_by, liquidate=liquidate)
    if broker is not None:
        act_at_brokers(timescale, event_id, [broker], liquidate=liquidate)
    return event_id


def record_stop(timescale: TimescaleResource, redis: RedisResource, *, trigger_type: str, description: str,
                triggered_by: str, liquidate: bool = False) -> str:
    """The stop itself: its ``emergency_events`` row, the Redis mirror and a critical alert; returns its id."""
    event_id = str(uuid.uuid4())
    timescale.execute(INSERT_EVENT_SQL, {
        "event_id": event_id, "trigger_type": trigger_type, "description": description, "triggered_by": triggered_by,
        "action_taken": "liquidate" if liquidate else "cancel_orders", "metadata": json.dumps({"liquidate": liquidate}),
    })
    _mirror(redis, {"active": True, "event_id": event_id, "trigger_type": trigger_type, "description": description,
                    "triggered_at": datetime.now(UTC).isoformat()})
    record_alert(timescale, alert_type="emergency_stop", severity="critical", component="trading",
                 message=f"emergency stop ({trigger_type}): {description}", cause={"event_id": event_id})
    return event_id


def act_at_brokers(timescale: TimescaleResource, event_id: str, brokers: list[Broker], *, liquidate: bool
                   ) -> list[list[BrokerOrder]]:
    """Cancel every open order at each broker (and, ``liquidate``, close every position), recording what was
    done on the stop's row; returns each broker's closing orders."""
    canceled, closing = 0, []
    for broker in brokers:
        canceled += broker.cancel_all_orders()
        closing.append(broker.close_all_positions() if liquidate else [])
    value = sum(o.qty * (o.filled_avg_price or 0) for orders in closing for o in orders)
    timescale.execute(ACTIONS_DONE_SQL, {"event_id": event_id, "positions_closed": sum(map(len, closing)),
                                         "total_value": round(value, 8),
                                         "metadata": json.dumps({"orders_canceled": canceled})})
    return closing


def resume(timescale: TimescaleResource, redis: RedisResource, *, resolution: str, resolved_by: str) -> int:
    """Resolve every stop in force (recording how); returns how many there were."""
    resolved = timescale.execute(RESOLVE_SQL, {"resolution": resolution, "resolved_by": resolved_by})
    resolve_alerts(timescale, "emergency_stop", resolution)
    _mirror(redis, {"active": False, "resolution": resolution, "resolved_at": datetime.now(UTC).isoformat()})
    return resolved


def _mirror(redis: RedisResource, status: dict[str, object]) -> None:
    try:
        redis.set_values({redis_keys.EMERGENCY_STATUS.build(): json.dumps(status)})
    except Exception as exc:  # noqa: BLE001 - the database row is the record; the check reads it when Redis fails
        log.warning("emergency status not mirrored to Redis (%s); the database holds it", exc)
