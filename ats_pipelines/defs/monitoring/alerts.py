"""Alerts: one row per cause in the ``alerts`` table, whoever raises it (trading, run failures, ...).

The id is a UUIDv5 of the cause (type and what identifies it), so raising the same alert again (a re-run, a
sensor evaluating twice) records nothing new.
"""

from __future__ import annotations

import json
import uuid

from ats_pipelines.resources import TimescaleResource
from ats_pipelines.sql_files import read_sql_beside

INSERT_ALERT_SQL = read_sql_beside(__file__, "insert_alert.sql")
RESOLVE_ALERTS_SQL = read_sql_beside(__file__, "resolve_alerts.sql")
ALERT_NAMESPACE = uuid.UUID("5d0c3d6e-7d55-4a8e-8f8b-2a1f0f7b9c42")


def record_alert(timescale: TimescaleResource, *, alert_type: str, severity: str, component: str, message: str,
                 cause: dict[str, object]) -> bool:
    """Insert the alert unless one with the same cause exists; returns whether it was new."""
    identity = f"{alert_type}|{json.dumps(cause, sort_keys=True, default=str)}"
    return bool(timescale.execute(INSERT_ALERT_SQL, {
        "alert_id": str(uuid.uuid5(ALERT_NAMESPACE, identity)), "alert_type": alert_type, "severity": severity,
        "message": message[:2000], "component": component, "metadata": json.dumps(cause, default=str),
    }))


def resolve_alerts(timescale: TimescaleResource, alert_type: str, resolution: str) -> int:
    """Mark every open alert of ``alert_type`` resolved; returns how many."""
    return timescale.execute(RESOLVE_ALERTS_SQL, {"alert_type": alert_type, "resolution": resolution})
