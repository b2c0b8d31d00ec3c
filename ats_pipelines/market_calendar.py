"""The US equity session calendar (NYSE, from exchange-calendars): which sessions exist, when they open
and close in UTC, and which close early. Backfills, gap checks and the demo data all ask it."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import cache
from zoneinfo import ZoneInfo

import exchange_calendars as xcals
import pandas as pd

REGULAR_SESSION = timedelta(hours=6, minutes=30)
NEW_YORK = ZoneInfo("America/New_York")
# SQL condition: "timestamp" lies in a regular session (09:30 to 16:00 New York, 13:00 on the dates of
# %(early_closes)s, see early_close_days), not in Polygon's extended hours. Bars exist on session days only.
REGULAR_HOURS_SQL = """(("timestamp" AT TIME ZONE 'America/New_York')::time >= time '09:30'
    AND ("timestamp" AT TIME ZONE 'America/New_York')::time
        < CASE WHEN ("timestamp" AT TIME ZONE 'America/New_York')::date = ANY(%(early_closes)s::date[])
               THEN time '13:00' ELSE time '16:00' END)"""


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


@contextmanager
def _quiet_pandas() -> Iterator[None]:
    """exchange-calendars 4.x still calls ``.values`` on tz-aware pandas data, which pandas 3.1 deprecates."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r".*\.values returning an ndarray")
        yield


@cache
def _nyse() -> xcals.ExchangeCalendar:
    with _quiet_pandas():
        return xcals.get_calendar("XNYS", start="2000-01-03")


def sessions(first: date, last: date) -> list[Session]:
    """NYSE sessions with ``first <= day <= last`` (dates in New York, as the exchange counts them)."""
    calendar = _nyse()
    last = min(last, calendar.last_session.date())
    if last < first:
        return []
    with _quiet_pandas():
        days = calendar.sessions_in_range(first.isoformat(), last.isoformat())
    return [
        Session(day.date(), calendar.session_open(day).to_pydatetime(), calendar.session_close(day).to_pydatetime())
        for day in days
    ]


@dataclass(frozen=True)
class Holiday:
    """A weekday without a regular session: closed, or an early close (New York local times)."""

    day: date
    name: str
    status: str  # 'closed' or 'early_close'
    open_time: time | None = None
    close_time: time | None = None


def holidays(first_year: int, last_year: int) -> list[Holiday]:
    """NYSE holidays (named) and early closes of ``first_year..last_year``, from the exchange calendar."""
    calendar = _nyse()
    start, end = f"{first_year}-01-01", f"{last_year}-12-31"
    with _quiet_pandas():
        named = calendar.regular_holidays.holidays(start, end, return_name=True)
    found = {day.date(): Holiday(day.date(), str(name), "closed") for day, name in named.items() if day.weekday() < 5}
    for day in calendar.adhoc_holidays:
        if first_year <= day.year <= last_year and day.weekday() < 5:
            found.setdefault(day.date(), Holiday(day.date(), "Special closure", "closed"))
    for s in sessions(date(first_year, 1, 1), date(last_year, 12, 31)):
        if s.early_close:
            found[s.day] = Holiday(s.day, "Early close", "early_close",
                                   s.open.astimezone(NEW_YORK).time(), s.close.astimezone(NEW_YORK).time())
    return sorted(found.values(), key=lambda h: h.day)


def next_session_times(at: datetime) -> tuple[datetime | None, datetime | None]:
    """The next NYSE open and close after ``at`` (UTC); None past the calendar's end."""
    calendar = _nyse()
    try:
        stamp = pd.Timestamp(at.astimezone(NEW_YORK).replace(second=0, microsecond=0))
        with _quiet_pandas():
            return calendar.next_open(stamp).to_pydatetime(), calendar.next_close(stamp).to_pydatetime()
    except (ValueError, LookupError, xcals.errors.MinuteOutOfBounds):
        return None, None


@cache
def _early_closes_of(year: int) -> tuple[date, ...]:
    return tuple(s.day for s in sessions(date(year, 1, 1), date(year, 12, 31)) if s.early_close)


def early_close_days(first_year: int, last_year: int) -> list[date]:
    """The NYSE's early-close dates (13:00 New York) of ``first_year..last_year``: the parameter
    ``early_closes`` of :data:`REGULAR_HOURS_SQL`."""
    return [day for year in range(first_year, last_year + 1) for day in _early_closes_of(year)]


@cache
def _sessions_on(day: date) -> tuple[Session, ...]:
    return tuple(sessions(day, day))


def in_regular_session(at: datetime) -> bool:
    """Whether ``at`` (aware) lies in a regular NYSE session (early closes included)."""
    return any(s.open <= at < s.close for s in _sessions_on(at.astimezone(NEW_YORK).date()))


def previous_close(at: datetime) -> datetime | None:
    """The close of the last session on a New York date before ``at``'s: where the day's P&L starts."""
    today = at.astimezone(NEW_YORK).date()
    earlier = sessions(today - timedelta(days=14), today - timedelta(days=1))
    return earlier[-1].close if earlier else None
