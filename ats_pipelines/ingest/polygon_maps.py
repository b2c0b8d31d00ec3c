"""Column maps of the Polygon market-data tables: REST (api_formats.md §1) and WebSocket (§2) fields.

Choices the spec leaves open, made here once:

* Bars: ``t`` (REST) / ``s`` (stream) is the window start. Stock volume is rounded to whole shares
  (BIGINT); crypto volume stays fractional. ``otc`` is only sent when true.
* Trades: the time is ``sip_timestamp`` (ns; crypto trades have only ``participant_timestamp``), the
  exchange id is kept as text, tapes 1/2/3 become A/B/C. Options trades carry no ``id``: the asset
  derives a deterministic one (see :func:`derived_trade_id`).
* Trade and quote sizes are stored as the venue reports them, fractional ones included (crypto, odd lots:
  NUMERIC since migration 0011). A stream trade must carry its id ``i`` (REST options trades have none and
  get a derived one).
* Quotes: bid and ask sizes are Polygon's (round lots for stocks); ``exchange`` holds ``bid/ask``
  exchange ids (``19/15``); a one-sided quote keeps its 0 side. Crypto quotes (stream ``XQ``) have no
  sequence number, part of the quotes key: :data:`CRYPTO_QUOTES` validates them for Redis only.
"""

from __future__ import annotations

import hashlib

import polars as pl

from ats_pipelines.ingest.columns import (
    ColumnMap,
    Field,
    Rule,
    as_text,
    epoch_ms,
    epoch_ns,
    int_list_as_text,
    rounded_int,
)

_open, _high, _low, _close = pl.col("open"), pl.col("high"), pl.col("low"), pl.col("close")

BAR_RULES = (
    Rule("price <= 0", (_open <= 0) | (_high <= 0) | (_low <= 0) | (_close <= 0)),
    Rule("OHLC inconsistent: high below open/close/low or low above open/close",
         (_high < pl.max_horizontal(_open, _close, _low)) | (_low > pl.min_horizontal(_open, _close))),
    Rule("volume < 0", pl.col("volume") < 0),
    # A bar of another start than a whole minute cannot share a key with the vendor's bar of that minute.
    Rule("bar start not on a whole minute", pl.col("timestamp").dt.epoch("ms") % 60_000 != 0),
)

_TAPES = {1: "A", 2: "B", 3: "C"}


def _tape(expr: pl.Expr) -> pl.Expr:
    return expr.replace_strict(_TAPES, default=None, return_dtype=pl.String)


def _bar_fields(volume: Field) -> tuple[Field, ...]:
    return (
        Field("timestamp", "t", "s", raw=pl.Int64, convert=epoch_ms),
        Field("open", "o", "o"),
        Field("high", "h", "h"),
        Field("low", "l", "l"),
        Field("close", "c", "c"),
        volume,
    )


def crypto_ticker(pair: pl.Expr) -> pl.Expr:
    """The stream's crypto pair (``BTC-USD``) as the REST ticker (``X:BTCUSD``)."""
    return pl.lit("X:") + pair.str.replace_all("-", "", literal=True)


def _traded_bar_fields(symbol: Field, volume: Field) -> tuple[Field, ...]:
    """Bars with VWAP and trade count (stocks and crypto)."""
    return (
        symbol,
        *_bar_fields(volume),
        Field("vwap", "vw", "vw", required=False),
        Field("transactions", "n", None, raw=pl.Int64, required=False),
    )


STOCK_AGGS = ColumnMap(
    table="stock_aggs",
    fields=(
        *_traded_bar_fields(Field("symbol", None, "sym", raw=pl.String),
                            Field("volume", "v", "v", convert=rounded_int)),
        Field("otc", "otc", "otc", raw=pl.Boolean, convert=lambda e: e.fill_null(False), required=False),
    ),
    rules=BAR_RULES,
)

CRYPTO_SYMBOL = Field("symbol", None, "pair", raw=pl.String, stream_convert=crypto_ticker)
CRYPTO_AGGS = ColumnMap(table="crypto_aggs", fields=_traded_bar_fields(CRYPTO_SYMBOL, Field("volume", "v", "v")),
                        rules=BAR_RULES)

OPTIONS_AGGS = ColumnMap(
    table="options_aggs",
    fields=(
        Field("symbol", None, "sym", raw=pl.String),
        *_bar_fields(Field("volume", "v", "v", convert=rounded_int)),
    ),
    rules=BAR_RULES,
)

TRADES = ColumnMap(
    table="trades",
    fields=(
        Field("symbol", None, "sym", raw=pl.String),
        Field("timestamp", "sip_timestamp", "t", raw=pl.Int64, convert=epoch_ns, stream_convert=epoch_ms),
        Field("price", "price", "p"),
        Field("size", "size", "s"),
        Field("exchange", "exchange", "x", raw=pl.Int64, convert=as_text),
        Field("conditions", "conditions", "c", raw=pl.List(pl.Int64), convert=int_list_as_text, required=False),
        Field("tape", "tape", "z", raw=pl.Int64, convert=_tape, required=False),
        Field("sequence_number", "sequence_number", "q", raw=pl.Int64, required=False),
        Field("trade_id", "id", "i", raw=pl.String, required=False, stream_required=True),
    ),
    rules=(
        Rule("price <= 0", pl.col("price") <= 0),
        Rule("size < 0", pl.col("size") < 0),
    ),
)

# Crypto trades have no sip_timestamp: the exchange's participant_timestamp is their time; the stream
# names the pair (``BTC-USD``) where REST requests name the ticker.
CRYPTO_TRADES = ColumnMap(
    table="trades",
    fields=tuple(
        Field("timestamp", "participant_timestamp", "t", raw=pl.Int64, convert=epoch_ns, stream_convert=epoch_ms)
        if f.column == "timestamp" else CRYPTO_SYMBOL if f.column == "symbol" else f
        for f in TRADES.fields
    ),
    rules=TRADES.rules,
)

QUOTES = ColumnMap(
    table="quotes",
    fields=(
        Field("symbol", None, "sym", raw=pl.String),
        Field("timestamp", "sip_timestamp", "t", raw=pl.Int64, convert=epoch_ns, stream_convert=epoch_ms),
        Field("bid_price", "bid_price", "bp"),
        Field("ask_price", "ask_price", "ap"),
        Field("bid_size", "bid_size", "bs"),
        Field("ask_size", "ask_size", "as"),
        Field("bid_exchange", "bid_exchange", "bx", raw=pl.Int64, required=False),
        Field("ask_exchange", "ask_exchange", "ax", raw=pl.Int64, required=False),
        Field("conditions", "conditions", None, raw=pl.List(pl.Int64), convert=int_list_as_text, required=False),
        Field("sequence_number", "sequence_number", "q", raw=pl.Int64),
        Field("tape", "tape", "z", raw=pl.Int64, convert=_tape, required=False),
    ),
    rules=(
        Rule("bid or ask price < 0", (pl.col("bid_price") < 0) | (pl.col("ask_price") < 0)),
        Rule("no bid and no ask", (pl.col("bid_price") == 0) & (pl.col("ask_price") == 0)),
        Rule("bid or ask size < 0", (pl.col("bid_size") < 0) | (pl.col("ask_size") < 0)),
    ),
)


# The stream's crypto quotes (XQ): validated like the stock quotes, kept in Redis only (no sequence number).
CRYPTO_QUOTES = ColumnMap(
    table="quotes",
    fields=(
        CRYPTO_SYMBOL,
        Field("timestamp", None, "t", raw=pl.Int64, convert=epoch_ms),
        Field("bid_price", None, "bp"),
        Field("ask_price", None, "ap"),
        Field("bid_size", None, "bs"),
        Field("ask_size", None, "as"),
        Field("exchange", None, "x", raw=pl.Int64, convert=as_text, required=False),
    ),
    rules=QUOTES.rules,
)


def quote_rows(mapped: pl.DataFrame) -> pl.DataFrame:
    """Fold the two exchange ids of mapped quotes into the table's one ``exchange`` column (``bid/ask``)."""
    exchange = pl.concat_str([pl.col("bid_exchange").fill_null(0), pl.col("ask_exchange").fill_null(0)],
                             separator="/")
    return mapped.select(pl.exclude("bid_exchange", "ask_exchange"), exchange.alias("exchange"))


def derived_trade_id(mapped: pl.DataFrame) -> pl.DataFrame:
    """Fill missing trade ids (options trades have none) with a stable hash of what identifies the print:
    time, exchange, price, size and conditions. The same print always gets the same id."""
    if mapped.height == 0 or mapped["trade_id"].null_count() == 0:
        return mapped
    basis = pl.concat_str(
        [pl.col("timestamp").dt.epoch("us").cast(pl.String), pl.col("exchange"), pl.col("price").cast(pl.String),
         pl.col("size").cast(pl.String), pl.col("conditions").list.join(",").fill_null("")],
        separator="|",
    )
    digest = basis.map_elements(lambda s: "h" + hashlib.blake2b(s.encode(), digest_size=12).hexdigest(),
                                return_dtype=pl.String)
    return mapped.with_columns(pl.coalesce(pl.col("trade_id"), digest).alias("trade_id"))
