"""Daily partitions of market data: one per date (key ``YYYY-MM-DD``).

For crypto, ticks and features a partition is its UTC date. A regular US session (13:30–21:00 UTC at the
latest) falls inside that too, but Polygon's stock minute bars include extended hours (04:00–20:00 New
York), whose end crosses midnight UTC in winter: stock bars of a partition are therefore those of its New
York date (:func:`new_york_window`). Today's partition exists (``end_offset=1``) so that the after-close
schedule can ingest the session that just ended.
"""

import os
from collections.abc import Iterator
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import dagster as dg

HISTORY_START = "2020-01-01"

RUN_PARTITIONS_ENV = "ATS_BACKFILL_RUN_PARTITIONS"

daily_partitions = dg.DailyPartitionsDefinition(start_date=HISTORY_START, timezone="UTC", end_offset=1)
NEW_YORK = ZoneInfo("America/New_York")


def partition_window(context: dg.AssetExecutionContext) -> tuple[datetime, datetime]:
    """``[start, end)`` in UTC of the run's partition or partition range."""
    window = context.partition_time_window
    return window.start.astimezone(UTC), window.end.astimezone(UTC)


def partition_label(context: dg.AssetExecutionContext) -> str:
    """``2024-03-06`` or ``2024-03-06...2024-04-02`` for a range run."""
    keys = context.partition_key_range
    return keys.start if keys.start == keys.end else f"{keys.start}...{keys.end}"


def new_york_window(window: tuple[datetime, datetime]) -> tuple[datetime, datetime]:
    """The same dates as New York days: ``[first 00:00, day after the last 00:00)`` New York, in UTC. It holds
    every stock bar of those sessions (pre-market from 04:00, post-market to 20:00, daily bars at 00:00)."""
    return tuple(datetime.combine(t.date(), time(), tzinfo=NEW_YORK).astimezone(UTC) for t in window)


def day_windows(window: tuple[datetime, datetime]) -> Iterator[tuple[datetime, datetime]]:
    """``window`` cut into its partitions' days, in order: a range run works a day at a time, so its memory
    stays that of one day however long the range."""
    start = window[0]
    while start < window[1]:
        end = min(start + timedelta(days=1), window[1])
        yield start, end
        start = end


def backfill_policy(run_partitions: int | str | None = None) -> dg.BackfillPolicy:
    """How a backfill of the daily assets is cut into runs: one run for the whole range (the default, best on one
    machine), or runs of ``run_partitions`` partitions each (``BackfillPolicy.multi_run``), so a run launcher
    that starts a pod per run spreads a long range over pods. Defaults to ``ATS_BACKFILL_RUN_PARTITIONS``
    (unset or 0: one run), read when the definitions load."""
    raw = os.environ.get(RUN_PARTITIONS_ENV, "") if run_partitions is None else run_partitions
    try:
        k = int(raw or 0)
    except ValueError:
        k = -1
    if k < 0:
        raise ValueError(f"{RUN_PARTITIONS_ENV}={raw!r}: give a whole number of partitions per run (0: one run)")
    return dg.BackfillPolicy.multi_run(k) if k else dg.BackfillPolicy.single_run()
