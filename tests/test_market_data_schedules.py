"""Market-data schedules ask for the right partitions."""

from __future__ import annotations

from datetime import UTC, datetime

import dagster as dg
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

from ats_pipelines.defs.market_data.schedules import (
    after_close_schedule,
    crypto_daily_schedule,
    weekly_refetch_schedule,
)


def evaluate(schedule, when: datetime) -> dg.RunRequest:
    return schedule(dg.build_schedule_context(scheduled_execution_time=when))


def test_after_close_ingests_the_new_york_session_that_just_ended():
    # 18:30 New York on 2024-03-11 (EDT) is 22:30 UTC the same date; in winter 23:30 UTC.
    assert evaluate(after_close_schedule, datetime(2024, 3, 11, 22, 30, tzinfo=UTC)).partition_key == "2024-03-11"
    assert evaluate(after_close_schedule, datetime(2024, 1, 5, 23, 30, tzinfo=UTC)).partition_key == "2024-01-05"


def test_crypto_takes_the_utc_day_that_ended():
    assert evaluate(crypto_daily_schedule, datetime(2024, 3, 11, 0, 15, tzinfo=UTC)).partition_key == "2024-03-10"


def test_weekly_refetch_is_one_range_run_over_the_last_days(monkeypatch):
    monkeypatch.setenv("ATS_REFETCH_DAYS", "7")
    request = evaluate(weekly_refetch_schedule, datetime(2024, 3, 16, 10, 0, tzinfo=UTC))  # Saturday 06:00 EDT
    assert request.partition_key is None
    assert (request.tags[ASSET_PARTITION_RANGE_START_TAG], request.tags[ASSET_PARTITION_RANGE_END_TAG]) == (
        "2024-03-09", "2024-03-15")
