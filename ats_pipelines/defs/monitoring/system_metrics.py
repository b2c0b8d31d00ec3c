"""Rows of ``system_metrics``: one value per metric, component, host and time."""

from __future__ import annotations

import socket
from datetime import datetime

import polars as pl


def metric_frame(component: str, at: datetime, values: dict[str, float]) -> pl.DataFrame:
    """``system_metrics`` rows of one component at one time (the key makes a repeated write a no-op)."""
    return pl.DataFrame({"metric_name": list(values), "metric_value": [float(v) for v in values.values()]},
                        schema={"metric_name": pl.String, "metric_value": pl.Float64}).with_columns(
        pl.lit(at).alias("timestamp"), pl.lit(component[:32]).alias("component"),
        pl.lit(socket.gethostname()[:64]).alias("host"))
