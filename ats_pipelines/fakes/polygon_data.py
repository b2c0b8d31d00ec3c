"""Deterministic synthetic market data in Polygon's shapes, for the fake server, tests and benchmarks.

Every value is a pure function of (ticker, session): the same request always returns the same bars,
trades and quotes, so tests can compute exactly what must land. Stocks and options trade in NYSE regular
hours (from :mod:`ats_pipelines.market_calendar`, early closes included); crypto trades around the clock.
A minute without trades has no bar (about 1 % of minutes, none for the most liquid ETFs). Minute returns
have a little momentum (``MOMENTUM``); everything else is noise.
"""

from __future__ import annotations

import hashlib
import zlib
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import numpy as np
from scipy.signal import lfilter

from ats_pipelines.ingest.occ import parse_occ
from ats_pipelines.market_calendar import sessions

NEW_YORK = ZoneInfo("America/New_York")
MS = 1_000
NS = 1_000_000_000
ALWAYS_TRADED = frozenset({"SPY", "QQQ", "IWM", "DIA"})
TRADES_PER_SESSION = 600
# Minute returns carry a little of the previous minute's move (AR(1)): the one regularity in this data, so
# the demo's next-bar model has something real to find (and the promotion gate something to judge).
MOMENTUM = 0.25
QUOTES_PER_SESSION = 900
PRE_MARKET_OPEN = time(4)
POST_MARKET_HOURS = timedelta(hours=4)  # 16:00-20:00, or 13:00-17:00 after an early close
EXTENDED_HOURS_SKIP = 0.7  # share of extended-hours minutes without a trade (0.1 for ALWAYS_TRADED)


@dataclass(frozen=True)
class Split:
    """A stock split as /v3/reference/splits lists it: ``split_to`` new shares for ``split_from`` old ones."""

    ticker: str
    execution_date: date
    split_from: float
    split_to: float

    @property
    def id(self) -> str:
        return "E" + hashlib.sha256(f"{self.ticker}|{self.execution_date}".encode()).hexdigest()[:64]

    def record(self) -> dict:
        return {"execution_date": self.execution_date.isoformat(), "id": self.id, "split_from": self.split_from,
                "split_to": self.split_to, "ticker": self.ticker}


# The fake market's splits (the real NVDA and AAPL ones); a server holds its own copy that tests extend.
SPLITS = (Split("AAPL", date(2020, 8, 31), 1, 4), Split("NVDA", date(2024, 6, 10), 1, 10))


@dataclass(frozen=True)
class Bars:
    """Columns of bars, as numpy arrays; ``t`` is the window start in Unix ms."""

    t: np.ndarray
    o: np.ndarray
    h: np.ndarray
    low: np.ndarray
    c: np.ndarray
    v: np.ndarray
    vw: np.ndarray
    n: np.ndarray

    def __len__(self) -> int:
        return len(self.t)

    @staticmethod
    def concat(parts: list[Bars]) -> Bars:
        if not parts:
            return Bars(*(np.empty(0) for _ in range(8)))
        return Bars(*(np.concatenate([getattr(p, f) for p in parts])
                      for f in ("t", "o", "h", "low", "c", "v", "vw", "n")))


def _seed(*parts: object) -> int:
    return zlib.crc32("|".join(map(str, parts)).encode())


def base_price(ticker: str) -> float:
    """A stable price level per ticker (options: a few dollars)."""
    if ticker.startswith("O:"):
        return 1.0 + _seed(ticker) % 900 / 100
    if ticker.startswith("X:"):
        return 100.0 + _seed(ticker) % 50_000
    return 20.0 + _seed(ticker) % 480


def trading_days(ticker: str, first: date, last: date) -> list[tuple[date, datetime, int]]:
    """(day, first minute in UTC, minutes) of each day ``ticker`` trades in ``[first, last]``."""
    if ticker.startswith("X:"):
        days = (first + timedelta(days=i) for i in range((last - first).days + 1))
        return [(d, datetime.combine(d, time(), tzinfo=UTC), 1440) for d in days]
    return [(s.day, s.open, s.minutes) for s in sessions(first, last)]


@lru_cache(maxsize=4096)
def minute_bars(ticker: str, day: date) -> Bars:
    """The 1-minute bars of ``ticker`` on ``day``, extended hours included for stocks (empty when it does not
    trade that day)."""
    regular = session_bars(ticker, day)
    if len(regular) == 0 or ticker.startswith(("X:", "O:")):
        return regular
    session = sessions(day, day)[0]
    pre_open = datetime.combine(day, PRE_MARKET_OPEN, tzinfo=NEW_YORK)
    pre = _extended_bars(ticker, day, "pre", pre_open, session.open, float(regular.o[0]), backwards=True)
    post = _extended_bars(ticker, day, "post", session.close, session.close + POST_MARKET_HOURS,
                          float(regular.c[-1]), backwards=False)
    return Bars.concat([pre, regular, post])


def _extended_bars(ticker: str, day: date, part: str, start: datetime, end: datetime, anchor: float,
                   backwards: bool) -> Bars:
    """Thin extended-hours bars in ``[start, end)``; the price path meets ``anchor`` at the regular session."""
    minutes = int((end - start).total_seconds() // 60)
    rng = np.random.default_rng(_seed(ticker, day, part))
    steps = rng.normal(0, 0.0004, minutes)
    path = anchor * np.exp(np.cumsum(steps[::-1])[::-1] if backwards else np.cumsum(steps))
    close = np.round(path, 4)
    open_ = np.round(np.concatenate([close[1:], [anchor]]) if backwards else np.concatenate([[anchor], close[:-1]]), 4)
    spread = np.abs(rng.normal(0, 0.0003, minutes)) * close
    high = np.round(np.maximum(open_, close) + spread, 4)
    low = np.round(np.minimum(open_, close) - spread, 4)
    volume = np.floor(rng.gamma(2.0, 300, minutes)) + 1
    trades = np.maximum(1, (volume / 100).astype(np.int64))
    t = int(start.timestamp()) * MS + np.arange(minutes, dtype=np.int64) * 60_000
    keep = rng.random(minutes) >= (0.1 if ticker in ALWAYS_TRADED else EXTENDED_HOURS_SKIP)
    vwap = np.round((open_ + high + low + close) / 4, 4)
    return Bars(t[keep], open_[keep], high[keep], low[keep], close[keep], volume[keep], vwap[keep], trades[keep])


@lru_cache(maxsize=4096)
def session_bars(ticker: str, day: date) -> Bars:
    """The 1-minute bars of ``ticker`` in ``day``'s regular session (empty when it does not trade that day)."""
    found = trading_days(ticker, day, day)
    if not found:
        return Bars.concat([])
    _, opens_at, minutes = found[0]
    rng = np.random.default_rng(_seed(ticker, day))
    start_ms = int(opens_at.timestamp()) * MS
    t = start_ms + np.arange(minutes, dtype=np.int64) * 60_000
    level = base_price(ticker) * (1 + rng.normal(0, 0.01))
    returns = lfilter([1.0], [1.0, -MOMENTUM], rng.normal(0, 0.0008, minutes))
    close = np.round(level * np.exp(np.cumsum(returns)), 4)
    open_ = np.round(np.concatenate([[level], close[:-1]]), 4)
    spread = np.abs(rng.normal(0, 0.0005, minutes)) * close
    high = np.round(np.maximum(open_, close) + spread, 4)
    low = np.round(np.minimum(open_, close) - spread, 4)
    crypto, option = ticker.startswith("X:"), ticker.startswith("O:")
    volume = rng.gamma(2.0, 0.8 if crypto else 40 if option else 5_000, minutes)
    volume = np.round(volume, 8) if crypto else np.floor(volume) + 1
    vwap = np.round((open_ + high + low + close) / 4, 4)
    trades = np.maximum(1, (volume / (0.05 if crypto else 5 if option else 120)).astype(np.int64))
    skip = 0.0 if ticker in ALWAYS_TRADED else 0.7 if option else 0.01
    keep = rng.random(minutes) >= skip
    return Bars(t[keep], open_[keep], high[keep], low[keep], close[keep], volume[keep], vwap[keep], trades[keep])


def day_bar(ticker: str, day: date) -> Bars:
    """The daily bar of the regular session: window start is 00:00 New York time (api_formats.md §1.2)."""
    m = session_bars(ticker, day)
    if len(m) == 0:
        return m
    t = int(datetime.combine(day, time(), tzinfo=NEW_YORK).timestamp()) * MS
    volume = m.v.sum()
    return Bars(np.array([t]), m.o[:1], np.array([m.h.max()]), np.array([m.low.min()]), m.c[-1:],
                np.array([volume]), np.array([round(float((m.vw * m.v).sum() / volume), 4)]), np.array([m.n.sum()]))


def bars(ticker: str, timespan: str, start_ms: int, end_ms: int, adjusted: bool = True,
         splits: tuple[Split, ...] = SPLITS) -> Bars:
    """Minute or day bars of ``ticker`` whose window starts in ``[start_ms, end_ms]``; ``adjusted`` applies
    ``splits`` (prices divided, volumes multiplied by the ratios of the splits executed after the bar's day)."""
    first = datetime.fromtimestamp(start_ms / MS, UTC).astimezone(NEW_YORK).date() - timedelta(days=1)
    last = datetime.fromtimestamp(end_ms / MS, UTC).astimezone(NEW_YORK).date() + timedelta(days=1)
    make = minute_bars if timespan == "minute" else day_bar
    parts = []
    for day, _, _ in trading_days(ticker, first, last):
        found = make(ticker, day)
        ratio = split_ratio(ticker, day, splits) if adjusted else 1.0
        if ratio != 1.0 and len(found):
            found = Bars(found.t, *(np.round(getattr(found, f) / ratio, 4) for f in ("o", "h", "low", "c")),
                         np.round(found.v * ratio), np.round(found.vw / ratio, 4), found.n)
        parts.append(found)
    found = Bars.concat(parts)
    inside = (found.t >= start_ms) & (found.t <= end_ms)
    return Bars(*(getattr(found, f)[inside] for f in ("t", "o", "h", "low", "c", "v", "vw", "n")))


def split_ratio(ticker: str, day: date, splits: tuple[Split, ...] = SPLITS) -> float:
    """How many of today's shares one share of ``day`` became: the product of the later splits' ratios."""
    ratio = 1.0
    for split in splits:
        if split.ticker == ticker and split.execution_date > day:
            ratio *= split.split_to / split.split_from
    return ratio


def dividends(ticker: str) -> list[dict]:
    """Quarterly cash dividends (ex-date the second Thursday of Feb, May, Aug and Nov, 2019-2026) in the
    shape of /v3/reference/dividends, newest first; a third of the tickers pay none."""
    if ticker.startswith(("X:", "O:")) or _seed("dividend", ticker) % 3 == 0:
        return []
    cash = round(base_price(ticker) * 0.004, 4)
    out = []
    for year in range(2019, 2027):
        for month in (2, 5, 8, 11):
            first = date(year, month, 1)
            ex = first + timedelta(days=(3 - first.weekday()) % 7 + 7)
            out.append({"cash_amount": cash, "currency": "USD",
                        "declaration_date": (ex - timedelta(days=28)).isoformat(), "dividend_type": "CD",
                        "ex_dividend_date": ex.isoformat(), "frequency": 4,
                        "id": "E" + hashlib.sha256(f"{ticker}|{ex}".encode()).hexdigest()[:64],
                        "pay_date": (ex + timedelta(days=14)).isoformat(),
                        "record_date": (ex + timedelta(days=1)).isoformat(), "ticker": ticker})
    return out[::-1]


@lru_cache(maxsize=1024)
def _ticks(kind: str, ticker: str, day: date) -> list[dict]:
    found = trading_days(ticker, day, day)
    if not found:
        return []
    _, opens_at, minutes = found[0]
    count = TRADES_PER_SESSION if kind == "trades" else QUOTES_PER_SESSION
    rng = np.random.default_rng(_seed(kind, ticker, day))
    start_ns = int(opens_at.timestamp()) * NS
    offsets = np.sort(rng.integers(0, minutes * 60 * NS, count))
    sip = start_ns + offsets
    price = np.round(base_price(ticker) * np.exp(np.cumsum(rng.normal(0, 0.0004, count))), 2)
    exchanges = rng.choice([4, 8, 10, 11, 12, 15, 19], count)
    sequence = np.cumsum(rng.integers(1, 50, count)) + _seed(ticker, day) % 1_000_000
    crypto, option = ticker.startswith("X:"), ticker.startswith("O:")
    out = []
    for i in range(count):
        s, x = int(sip[i]), int(exchanges[i])
        if kind == "trades":
            record = {"exchange": x, "price": float(price[i]), "size": int(rng.integers(1, 500))}
            if crypto:
                record.update(participant_timestamp=s, id=f"{day:%Y%m%d}{i:06d}", conditions=[int(rng.integers(1, 3))],
                              size=round(float(rng.gamma(1.0, 0.2)), 8))
            elif option:
                record.update(sip_timestamp=s, participant_timestamp=s - 150_000, conditions=[209])
            else:
                record.update(sip_timestamp=s, participant_timestamp=s - 200_000, id=str(100_000 + i),
                              sequence_number=int(sequence[i]), tape=3, conditions=[12, 37] if i % 7 == 0 else [])
                if i % 5 == 0:
                    record["trf_id"], record["trf_timestamp"] = 3, s - 300_000
        else:
            half = round(0.01 + (i % 3) * 0.01, 2)
            record = {"bid_price": round(float(price[i]) - half, 2), "ask_price": round(float(price[i]) + half, 2),
                      "bid_size": int(rng.integers(1, 20)), "ask_size": int(rng.integers(1, 20)),
                      "bid_exchange": x, "ask_exchange": int(exchanges[-i - 1]), "sip_timestamp": s,
                      "sequence_number": int(sequence[i])}
            if not option:
                record.update(participant_timestamp=s - 180_000, tape=3)
        out.append(record)
    return out


def ticks(kind: str, ticker: str, start_ns: int, end_ns: int) -> list[dict]:
    """Trades or quotes of ``ticker`` with ``start_ns <= time < end_ns``, oldest first."""
    key = "participant_timestamp" if kind == "trades" and ticker.startswith("X:") else "sip_timestamp"
    first = datetime.fromtimestamp(start_ns / NS, UTC).date() - timedelta(days=1)
    last = datetime.fromtimestamp(end_ns / NS, UTC).date()
    return [r for d, _, _ in trading_days(ticker, first, last) for r in _ticks(kind, ticker, d)
            if start_ns <= r[key] < end_ns]


def option_contracts(underlying: str, as_of: date, expiration_lte: date, strikes_each_side: int = 2) -> list[dict]:
    """Weekly contracts (Fridays) around the underlying's price level, calls and puts."""
    level = base_price(underlying)
    step = 1.0 if level < 50 else 5.0
    atm = round(level / step) * step
    fridays = [as_of + timedelta(days=d) for d in range((expiration_lte - as_of).days + 1)
               if (as_of + timedelta(days=d)).weekday() == 4]
    contracts = []
    for expiry in fridays:
        for k in range(-strikes_each_side, strikes_each_side + 1):
            strike = atm + k * step
            for kind, letter in (("call", "C"), ("put", "P")):
                ticker = f"O:{underlying}{expiry:%y%m%d}{letter}{int(round(strike * 1000)):08d}"
                contract = parse_occ(ticker)
                contracts.append({
                    "cfi": "OCASPS" if letter == "C" else "OPASPS", "contract_type": kind,
                    "exercise_style": "american", "expiration_date": contract.expiration.isoformat(),
                    "primary_exchange": "BATO", "shares_per_contract": 100, "strike_price": strike,
                    "ticker": ticker, "underlying_ticker": underlying,
                })
    return contracts
