"""Splits and dividends as a book sees them: when each takes effect (midnight New York of its day) and what it
does to a holding: a split multiplies the quantity by its ratio and divides the price by it; a dividend pays
its cash amount per share held when its ex-date began, on its pay date."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal

from ats_pipelines.market_calendar import NEW_YORK
from ats_pipelines.resources.timescale import TimescaleResource
from ats_pipelines.sql_files import read_sql_beside

CORPORATE_ACTIONS_SQL = read_sql_beside(__file__, "corporate_actions.sql")


def day_start(day: date) -> datetime:
    """Midnight in New York: when a split or an ex-date takes effect, and when a dividend is paid."""
    return datetime.combine(day, time(0), tzinfo=NEW_YORK)


@dataclass(frozen=True)
class Split:
    symbol: str
    at: datetime
    ratio: Decimal  # new shares per old share (4 for a 4:1 split)
    history_adjusted: bool  # the stored adjusted bars before ``at`` are already in post-split units


@dataclass(frozen=True)
class Dividend:
    symbol: str
    ex: datetime
    paid: datetime
    amount: Decimal  # cash per share held when ``ex`` began


def corporate_actions(timescale: TimescaleResource, symbols: list[str]) -> list[Split | Dividend]:
    """The splits and dividends of ``symbols``, oldest first."""
    if not symbols:
        return []
    actions: list[Split | Dividend] = []
    for kind, symbol, day, pay_day, amount, adjusted in timescale.read(
            CORPORATE_ACTIONS_SQL, {"symbols": sorted(set(symbols))}).iter_rows():
        if kind == "split":
            actions.append(Split(symbol, day_start(day), Decimal(amount), adjusted))
        else:
            actions.append(Dividend(symbol, day_start(day), day_start(pay_day), Decimal(amount)))
    return actions
