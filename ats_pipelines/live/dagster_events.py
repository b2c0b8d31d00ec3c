"""The live loop's orders and positions as runless materializations in the Dagster instance (``ats live
--report-to-dagster``), so the UI's ``orders`` and ``positions`` assets show them arriving bar by bar."""

from __future__ import annotations

import dagster as dg
import polars as pl

from ats_pipelines.defs.trading.orders import PlacementReport
from ats_pipelines.live.bus import BarEntry
from ats_pipelines.live.loop import BookListener


def report_to_dagster(instance: dg.DagsterInstance) -> BookListener:
    """A listener for :class:`~ats_pipelines.live.loop.LiveLoop` recording, after a bar that placed or settled
    orders, a materialization of ``orders`` (the bar's daily partition, what placement did) and one of
    ``positions`` (how many are open, their unrealised P&L)."""

    def report(entry: BarEntry, placement: PlacementReport, held: pl.DataFrame) -> None:
        source = {"source": "ats live", "bar": entry.timestamp.isoformat()}
        placed = {k: v for k, v in placement.as_metadata().items() if not isinstance(v, list)}
        instance.report_runless_asset_event(dg.AssetMaterialization(
            "orders", partition=f"{entry.timestamp:%Y-%m-%d}", metadata={**source, **placed}))
        instance.report_runless_asset_event(dg.AssetMaterialization("positions", metadata={
            **source, "open_positions": held.height,
            "unrealized_pnl": round(float(held["pnl"].sum()), 2) if held.height else 0.0}))

    return report
