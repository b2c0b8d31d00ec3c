"""The US equity session calendar (NYSE, from exchange-calendars): which sessions exist, when they open
and close in UTC, and which close early. Backfills, gap checks and the demo data all ask it."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import cache

import exchange_calendars as xcals

REGULAR_SESSION = timedelta(hours=6, minutes=30)


@dataclass(frozen=True)
class Session:
    """One trading session: its New York date and its regular hours in UTC."""

    day: date
    open: datetime
    close: datetime

    @property
    def minutes(self) -> int:
        return int((self.close - self.open).total_seconds() // 60)

    @property
    def early_close(self) -> bool:
        return self.close - self.open < REGULAR_SESSION


@cache
def _nyse() -> xcals.ExchangeCalendar:
    with warnings.catch_warnings():  # exchange-calendars 4.x still calls an API pandas 3.1 deprecates
        warnings.filterwarnings("ignore", message="Series.values returning an ndarray")
        return xcals.get_calendar("XNYS", start="2000-01-03")


def sessions(first: date, last: date) -> list[Session]:
    """NYSE sessions with ``first <= day <= last`` (dates in New York, as the exchange counts them)."""
    calendar = _nyse()
    last = min(last, calendar.last_session.date())
    if last < first:
        return []
    days = calendar.sessions_in_range(first.isoformat(), last.isoformat())
    return [
        Session(day.date(), calendar.session_open(day).to_pydatetime(), calendar.session_close(day).to_pydatetime())
        for day in days
    ]
