"""Every Redis key of the spec (shared/spec/database_schema.md, "Redis Schema"), and the live loop's bar stream.

No other module writes a key string by hand: they call the builders here. Parts may not be empty or
contain whitespace; only symbols may contain ':' (``X:BTCUSD``, ``O:SPY251219C00650000``), and since
every other part is colon-free a key still parses unambiguously from the right.
"""

from __future__ import annotations

import hashlib
import re
import string
from dataclasses import dataclass

import polars as pl

_FIELD = re.compile(r"^[^\s:]+$")
_SYMBOL = re.compile(r"^[^\s]+$")


@dataclass(frozen=True)
class KeyPattern:
    """One key pattern: the spec's template and the Redis type stored under it."""

    template: str
    redis_type: str  # string, hash, zset or set
    description: str

    @property
    def fields(self) -> tuple[str, ...]:
        return tuple(name for _, name, _, _ in string.Formatter().parse(self.template) if name)

    def build(self, **parts: object) -> str:
        """The key for these parts; every field of the template must be given, and only those."""
        if set(parts) != set(self.fields):
            raise ValueError(f"{self.template} needs {self.fields}, got {tuple(parts)}")
        for name, value in parts.items():
            text = str(value)
            pattern = _SYMBOL if name == "symbol" else _FIELD
            if not pattern.match(text):
                raise ValueError(f"bad {name} {text!r} for key {self.template}")
        return self.template.format(**{k: str(v) for k, v in parts.items()})

    def column(self, frame: pl.DataFrame, **parts: str) -> pl.Series:
        """The keys of every row of ``frame``, each part taken from the named column: the vectorised
        :meth:`build`, with the same rules, for bulk refreshes."""
        if set(parts) != set(self.fields):
            raise ValueError(f"{self.template} needs {self.fields}, got {tuple(parts)}")
        for name, column in parts.items():
            values = frame[column].cast(pl.String)
            bad = values.is_null() | ~values.str.contains(_SYMBOL.pattern if name == "symbol" else _FIELD.pattern)
            if bad.any():
                raise ValueError(f"bad {name} {values.filter(bad).head(1).to_list()} for key {self.template}")
        pieces: list[pl.Expr] = []
        for literal, name, _, _ in string.Formatter().parse(self.template):
            if literal:
                pieces.append(pl.lit(literal))
            if name:
                pieces.append(pl.col(parts[name]).cast(pl.String))
        return frame.select(pl.concat_str(pieces).alias("key"))["key"]


FEATURE = KeyPattern("feature:{symbol}:{feature_name}:{timeframe}", "string", "Latest feature value")
FEATURE_HISTORY = KeyPattern(
    "feature_history:{symbol}:{feature_name}:{timeframe}", "zset", "Recent feature history (score = epoch s)"
)
MODEL_METADATA = KeyPattern("model:{model_id}:metadata", "hash", "Model metadata")
MODEL_PREDICTIONS = KeyPattern(
    "model:{model_id}:predictions:{symbol}", "zset", "Recent predictions (score = epoch s)"
)
ACTIVE_POSITIONS = KeyPattern("active_positions", "set", "Symbols with active positions")
POSITION = KeyPattern("position:{symbol}", "hash", "Position details")
ORDER = KeyPattern("order:{order_id}", "hash", "Order details")
PENDING_ORDERS = KeyPattern("pending_orders", "set", "Pending order ids")
SYSTEM_STATUS = KeyPattern("system:status", "hash", "Overall system status")
COMPONENT_STATUS = KeyPattern("component:{component_name}:status", "hash", "Component status")
EMERGENCY_STATUS = KeyPattern("emergency:status", "string", "Emergency status flag")
WS_LAST_TRADE = KeyPattern("ws:last_trade:{symbol}", "string", "Last trade for a symbol (JSON)")
WS_LAST_QUOTE = KeyPattern("ws:last_quote:{symbol}", "string", "Last quote for a symbol (JSON)")
WS_AGG = KeyPattern("ws:agg:{symbol}:{timeframe}", "string", "Latest aggregate bar (JSON)")
# Beyond the spec (docs/schema.md): the Redis Stream that carries completed bars from `ats stream` to `ats live`.
LIVE_BARS = KeyPattern("live:bars:{timeframe}", "stream", "Completed bars for the live decision loop")
# Beyond the spec: the token bucket every process spending one vendor API key shares (resources/rate_limit.py).
RATE_LIMIT = KeyPattern("rate_limit:{vendor}:{key_digest}", "hash", "A vendor API key's shared token bucket")

ALL_PATTERNS: tuple[KeyPattern, ...] = (
    FEATURE, FEATURE_HISTORY, MODEL_METADATA, MODEL_PREDICTIONS, ACTIVE_POSITIONS, POSITION, ORDER,
    PENDING_ORDERS, SYSTEM_STATUS, COMPONENT_STATUS, EMERGENCY_STATUS, WS_LAST_TRADE, WS_LAST_QUOTE, WS_AGG,
)

# Additions to the spec's keys: each strategy's own positions (the spec's position:{symbol} is one per symbol,
# so it holds the symbol across strategies).
STRATEGY_POSITIONS = KeyPattern("strategy:{strategy_id}:positions", "set", "Symbols a strategy holds")
STRATEGY_POSITION = KeyPattern("strategy:{strategy_id}:position:{symbol}", "hash", "A strategy's position")


def feature(symbol: str, feature_name: str, timeframe: str) -> str:
    return FEATURE.build(symbol=symbol, feature_name=feature_name, timeframe=timeframe)


def feature_history(symbol: str, feature_name: str, timeframe: str) -> str:
    return FEATURE_HISTORY.build(symbol=symbol, feature_name=feature_name, timeframe=timeframe)


def model_metadata(model_id: object) -> str:
    return MODEL_METADATA.build(model_id=model_id)


def model_predictions(model_id: object, symbol: str) -> str:
    return MODEL_PREDICTIONS.build(model_id=model_id, symbol=symbol)


def active_positions() -> str:
    return ACTIVE_POSITIONS.build()


def position(symbol: str) -> str:
    return POSITION.build(symbol=symbol)


def order(order_id: object) -> str:
    return ORDER.build(order_id=order_id)


def pending_orders() -> str:
    return PENDING_ORDERS.build()


def system_status() -> str:
    return SYSTEM_STATUS.build()


def component_status(component_name: str) -> str:
    return COMPONENT_STATUS.build(component_name=component_name)


def emergency_status() -> str:
    return EMERGENCY_STATUS.build()


def ws_last_trade(symbol: str) -> str:
    return WS_LAST_TRADE.build(symbol=symbol)


def ws_last_quote(symbol: str) -> str:
    return WS_LAST_QUOTE.build(symbol=symbol)


def ws_agg(symbol: str, timeframe: str) -> str:
    return WS_AGG.build(symbol=symbol, timeframe=timeframe)


def rate_limit(vendor: str, api_key: str) -> str:
    """The bucket of ``api_key`` at ``vendor``, named by a SHA-256 digest of both (128 bits): the key itself
    never reaches Redis, and two vendors never share a bucket."""
    digest = hashlib.sha256(f"{vendor}\n{api_key}".encode()).hexdigest()[:32]
    return RATE_LIMIT.build(vendor=re.sub(r"\W+", "_", vendor.strip().lower()), key_digest=digest)
