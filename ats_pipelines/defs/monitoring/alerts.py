"""Alerts: one row per cause in the ``alerts`` table, whoever raises it (trading, run failures, ...).

The id is a UUIDv5 of the cause (type and what identifies it), so raising the same alert again (a re-run, a
sensor evaluating twice) records nothing new.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence

from ats_pipelines.resources import TimescaleResource
from ats_pipelines.sql_files import read_sql_beside

INSERT_ALERT_SQL = read_sql_beside(__file__, "insert_alert.sql")
RESOLVE_ALERTS_SQL = read_sql_beside(__file__, "resolve_alerts.sql")
ALERT_NAMESPACE = uuid.UUID("5d0c3d6e-7d55-4a8e-8f8b-2a1f0f7b9c42")


def record_alert(timescale: TimescaleResource, *, alert_type: str, severity: str, component: str, message: str,
                 cause: dict[str, object]) -> bool:
    """Insert the alert unless one with the same cause exists; returns whether it was new."""
    return bool(timescale.execute(INSERT_ALERT_SQL, _alert_row(alert_type, severity, component, message, cause)))


def record_alerts(timescale: TimescaleResource, *, alert_type: str, severity: str, component: str,
                  alerts: Sequence[tuple[str, dict[str, object]]]) -> int:
    """Insert several alerts of one type (``(message, cause)`` each) in one transaction, as :func:`record_alert`
    does one; returns how many were new."""
    return timescale.execute_many(INSERT_ALERT_SQL, [_alert_row(alert_type, severity, component, message, cause)
                                                     for message, cause in alerts])


def _alert_row(alert_type: str, severity: str, component: str, message: str, cause: dict[str, object]
               ) -> dict[str, object]:
    identity = f"{alert_type}|{json.dumps(cause, sort_keys=True, default=str)}"
    return {"alert_id": str(uuid.uuid5(ALERT_NAMESPACE, identity)), "alert_type": alert_type, "severity": severity,
            "message": message[:2000], "component": component, "metadata": json.dumps(cause, default=str)}


def resolve_alerts(timescale: TimescaleResource, alert_type: str, resolution: str) -> int:
    """Mark every open alert of ``alert_type`` resolved; returns how many."""
    return timescale.execute(RESOLVE_ALERTS_SQL, {"alert_type": alert_type, "resolution": resolution})
