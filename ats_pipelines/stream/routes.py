"""What each WebSocket event becomes: Redis's hot value on receipt, and a row batched into a table.

The rows go through the same column maps as the REST assets (``stream`` flavour) and the same writer, so a
bar seen by both paths has one key and is stored once. Ticks carry millisecond times on the stream and
nanosecond times over REST: the stream's are stored as ``source = 'polygon_ws'`` and replaced by REST's
when the trades/quotes assets load that window.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from ats_pipelines.ingest.columns import ColumnMap
from ats_pipelines.ingest.polygon_maps import CRYPTO_AGGS, CRYPTO_TRADES, QUOTES, STOCK_AGGS, TRADES, quote_rows
from ats_pipelines.resources import redis_keys

BAR_CONSTANTS = {"timeframe": "1m", "multiplier": 1, "timespan_unit": "minute", "source": "polygon"}
# Ticks from the stream are provisional: REST's (nanosecond times, other keys) replace them per window.
TICK_CONSTANTS = {"source": "polygon_ws"}


def crypto_ticker(pair: str) -> str:
    """``BTC-USD`` (the stream's pair) as ``X:BTCUSD`` (the REST ticker)."""
    return "X:" + pair.replace("-", "")


@dataclass(frozen=True)
class Route:
    """One event type of one cluster: its Redis key and, unless Redis-only, its table."""

    event: str
    symbol_field: str
    redis_key: Callable[[str], str]
    column_map: ColumnMap | None = None
    constants: Mapping[str, Any] = field(default_factory=dict)
    finish: Callable[[pl.DataFrame], pl.DataFrame] | None = None
    prepare: Callable[[dict], dict] | None = None  # fixes a field's JSON type before mapping

    def symbol(self, event: Mapping[str, Any]) -> str:
        raw = event[self.symbol_field]
        return crypto_ticker(raw) if self.symbol_field == "pair" else raw


def _crypto_trade(event: dict) -> dict:
    """Crypto trade ids arrive as numbers (spec) or strings (client): the table keeps text."""
    return {**event, "i": str(event["i"])} if "i" in event else event


ROUTES: dict[str, dict[str, Route]] = {
    "stocks": {
        "T": Route("T", "sym", lambda s: redis_keys.WS_LAST_TRADE.build(symbol=s), TRADES, TICK_CONSTANTS),
        "Q": Route("Q", "sym", lambda s: redis_keys.WS_LAST_QUOTE.build(symbol=s), QUOTES, TICK_CONSTANTS,
                   finish=quote_rows),
        # Live bars are the adjusted series' newest bars (a later split makes the re-fetch replace them).
        "AM": Route("AM", "sym", lambda s: redis_keys.WS_AGG.build(symbol=s, timeframe="1m"), STOCK_AGGS,
                    {**BAR_CONSTANTS, "adjusted": True}),
    },
    "crypto": {
        "XT": Route("XT", "pair", lambda s: redis_keys.WS_LAST_TRADE.build(symbol=s), CRYPTO_TRADES,
                    TICK_CONSTANTS, prepare=_crypto_trade),
        # Crypto quotes carry no sequence number, part of the quotes key: they stay Redis-only.
        "XQ": Route("XQ", "pair", lambda s: redis_keys.WS_LAST_QUOTE.build(symbol=s)),
        "XA": Route("XA", "pair", lambda s: redis_keys.WS_AGG.build(symbol=s, timeframe="1m"), CRYPTO_AGGS,
                    BAR_CONSTANTS),
    },
}
BAR_EVENTS = {"AM", "XA"}


def topics(cluster: str, symbols: list[str]) -> str:
    """The subscribe parameter for a cluster: every routed event of every symbol (crypto by pair)."""
    names = [f"{s[2:-3]}-{s[-3:]}" if cluster == "crypto" and s.startswith("X:") else s for s in symbols]
    return ",".join(f"{event}.{name}" for event in ROUTES[cluster] for name in names)
