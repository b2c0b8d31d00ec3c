"""What each WebSocket event becomes: Redis's hot value on receipt, and a row batched into a table.

Every event is validated by the same column maps as the REST assets (``stream`` flavour: strict JSON
types, required fields, the table's rules and text lengths) before it touches Redis or a batch. A bar seen
by both paths has one key and is stored once. Ticks carry millisecond times on the stream and nanosecond
times over REST: the stream's are stored as ``source = 'polygon_ws'`` and replaced by REST's when the
trades/quotes assets load that window.

A hot value is the event as received plus two fields that say how old it is: ``event_ms`` (the event's
time, a bar's end) and ``received_ms`` (when the stream read its frame), both Unix milliseconds.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
import polars as pl

from ats_pipelines.ingest.columns import ColumnMap, Mapper, Reject, Rule
from ats_pipelines.ingest.polygon_maps import (
    CRYPTO_AGGS,
    CRYPTO_QUOTES,
    CRYPTO_TRADES,
    QUOTES,
    STOCK_AGGS,
    TRADES,
    quote_rows,
)
from ats_pipelines.resources import redis_keys

BAR_CONSTANTS = {"timeframe": "1m", "multiplier": 1, "timespan_unit": "minute", "source": "polygon"}
BAR_MS = 60_000
# Ticks from the stream are provisional: REST's (nanosecond times, other keys) replace them per window.
TICK_CONSTANTS = {"source": "polygon_ws"}


@dataclass
class ValidatedEvents:
    """The events of one type that passed validation: their rows, hot values, and the rejected rest."""

    rows: pl.DataFrame
    hot: list[tuple[str, int, bytes]]  # (Redis key, event time in ms, value), in arrival order
    rejects: list[Reject]
    symbols: list[str] = field(default_factory=list)  # of each row, as the rows name it
    event_ms: list[int] = field(default_factory=list)  # of each row: its event time (a bar's end)


@dataclass(frozen=True)
class Route:
    """One event type of one cluster: its column map (validation and rows), Redis key, and whether its rows
    are stored (crypto quotes are Redis-only)."""

    event: str
    column_map: ColumnMap
    redis_key: Callable[[str], str]
    constants: Mapping[str, Any] = field(default_factory=dict)
    stored: bool = True
    finish: Callable[[pl.DataFrame], pl.DataFrame] | None = None
    prepare: Callable[[dict], dict] | None = None  # fixes a field's JSON type before mapping
    duration_ms: int = 0  # a bar's length: its event time is its end

    @property
    def is_bar(self) -> bool:
        return self.duration_ms > 0

    @functools.cached_property
    def time_field(self) -> str:
        """The event's field of its time (Unix milliseconds on the stream; a bar's start)."""
        return next(f.stream for f in self.column_map.fields if f.column == self.column_map.time_column)

    def mapper(self, symbols: frozenset[str] | None = None, rules: Sequence[Rule] = ()) -> Mapper:
        """The column map's stream mapping of this event: only ``symbols`` (the subscribed universe, as REST
        tickers), with the table's extra ``rules`` (text lengths)."""
        return self.column_map.mapper(flavour="stream", constants=self.constants, symbols=symbols,
                                      extra_rules=rules)

    def validate(self, events: Sequence[dict], received_ms: Sequence[int], mapper: Mapper) -> ValidatedEvents:
        """Map ``events`` (received at ``received_ms``) with ``mapper`` (:meth:`mapper`); only the good ones get
        a hot value."""
        records = [self.prepare(e) for e in events] if self.prepare else events
        batch = mapper.map(records)
        rows = batch.rows
        if not rows.height:
            return ValidatedEvents(rows, [], batch.rejects)
        symbols = rows["symbol"].to_list()
        event_ms = [events[index][self.time_field] + self.duration_ms for index in batch.index]  # validated ms
        hot = [(self.redis_key(symbol), at, orjson.dumps({**events[index], "event_ms": at,
                                                         "received_ms": received_ms[index]}))
               for index, symbol, at in zip(batch.index, symbols, event_ms, strict=True)]
        return ValidatedEvents(self.finish(rows) if self.finish else rows, hot, batch.rejects, symbols, event_ms)


def _crypto_trade(event: dict) -> dict:
    """Crypto trade ids arrive as numbers (spec) or strings (client): the table keeps text. Any other type
    stays as it is, for the column map to reject."""
    trade_id = event.get("i")
    return {**event, "i": str(trade_id)} if type(trade_id) is int else event


# Key builders validate what they format: built once per symbol, not per event.
@functools.lru_cache(maxsize=65_536)
def _last_trade(symbol: str) -> str:
    return redis_keys.WS_LAST_TRADE.build(symbol=symbol)


@functools.lru_cache(maxsize=65_536)
def _last_quote(symbol: str) -> str:
    return redis_keys.WS_LAST_QUOTE.build(symbol=symbol)


@functools.lru_cache(maxsize=65_536)
def _minute_agg(symbol: str) -> str:
    return redis_keys.WS_AGG.build(symbol=symbol, timeframe="1m")


ROUTES: dict[str, dict[str, Route]] = {
    "stocks": {
        "T": Route("T", TRADES, _last_trade, TICK_CONSTANTS),
        "Q": Route("Q", QUOTES, _last_quote, TICK_CONSTANTS, finish=quote_rows),
        # Live bars are the adjusted series' newest bars (a later split makes the re-fetch replace them).
        "AM": Route("AM", STOCK_AGGS, _minute_agg, {**BAR_CONSTANTS, "adjusted": True}, duration_ms=BAR_MS),
    },
    "crypto": {
        "XT": Route("XT", CRYPTO_TRADES, _last_trade, TICK_CONSTANTS, prepare=_crypto_trade),
        "XQ": Route("XQ", CRYPTO_QUOTES, _last_quote, stored=False),
        "XA": Route("XA", CRYPTO_AGGS, _minute_agg, BAR_CONSTANTS, duration_ms=BAR_MS),
    },
}
BAR_ROUTES = {cluster: next(r for r in routes.values() if r.is_bar) for cluster, routes in ROUTES.items()}


# Quote currencies of Polygon's crypto tickers, longest first: X:ETHUSDT is the pair ETH-USDT, not ETHU-SDT.
QUOTE_CURRENCIES = ("USDT", "USDC", "BUSD", "DAI", "USD", "EUR", "GBP", "JPY", "AUD", "CAD", "CHF", "BTC", "ETH")


def crypto_pair(ticker: str) -> str:
    """The stream's pair of a REST crypto ticker: ``X:BTCUSD`` -> ``BTC-USD``, ``X:ETHUSDT`` -> ``ETH-USDT``."""
    name = ticker.removeprefix("X:")
    quote = next((q for q in QUOTE_CURRENCIES if name.endswith(q) and len(name) > len(q)), name[-3:])
    return f"{name[:-len(quote)]}-{quote}"


def topics(cluster: str, symbols: list[str]) -> str:
    """The subscribe parameter for a cluster: every routed event of every symbol (crypto by pair)."""
    names = [crypto_pair(s) if cluster == "crypto" else s for s in symbols]
    return ",".join(f"{event}.{name}" for event in ROUTES[cluster] for name in names)
