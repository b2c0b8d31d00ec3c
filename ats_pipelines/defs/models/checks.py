"""Asset checks of the models domain: every model has metrics; every signal has its feature snapshot."""

from __future__ import annotations

from datetime import datetime

import dagster as dg

from ats_pipelines.resources import TimescaleResource
from ats_pipelines.sql_files import read_sql_beside

MODELS_WITHOUT_METRICS_SQL = read_sql_beside(__file__, "models_without_metrics.sql")
SIGNALS_WITHOUT_SNAPSHOT_SQL = read_sql_beside(__file__, "signals_without_snapshot.sql")

MODEL_CHECKS = {"models_have_metrics": "Every model row has metrics with a held-out AUC."}
SIGNAL_CHECKS = {"signals_have_snapshots": "Every signal in the range carries the feature values it was scored on."}


def models_have_metrics(timescale: TimescaleResource) -> dg.AssetCheckResult:
    missing = timescale.read(MODELS_WITHOUT_METRICS_SQL).item()
    return dg.AssetCheckResult(check_name="models_have_metrics", passed=missing == 0,
                               metadata={"models_without_metrics": missing})


def signals_have_snapshots(timescale: TimescaleResource, window: tuple[datetime, datetime]) -> dg.AssetCheckResult:
    missing = timescale.read(SIGNALS_WITHOUT_SNAPSHOT_SQL, {"start": window[0], "end": window[1]}).item()
    return dg.AssetCheckResult(check_name="signals_have_snapshots", passed=missing == 0,
                               metadata={"signals_without_snapshot": missing})
