"""Daily partitions of market data: one per UTC date (key ``YYYY-MM-DD``).

A US session (13:30–21:00 UTC at the latest) falls inside one UTC date, so a partition is a session for
stocks and options and a full day for crypto. Today's partition exists (``end_offset=1``) so that the
after-close schedule can ingest the session that just ended.
"""

from datetime import UTC, datetime

import dagster as dg

HISTORY_START = "2020-01-01"

daily_partitions = dg.DailyPartitionsDefinition(start_date=HISTORY_START, timezone="UTC", end_offset=1)


def partition_window(context: dg.AssetExecutionContext) -> tuple[datetime, datetime]:
    """``[start, end)`` in UTC of the run's partition or partition range."""
    window = context.partition_time_window
    return window.start.astimezone(UTC), window.end.astimezone(UTC)


def partition_label(context: dg.AssetExecutionContext) -> str:
    """``2024-03-06`` or ``2024-03-06...2024-04-02`` for a range run."""
    keys = context.partition_key_range
    return keys.start if keys.start == keys.end else f"{keys.start}...{keys.end}"
