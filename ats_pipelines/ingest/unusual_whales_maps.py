"""Unusual Whales flow alerts → unusual_whales_options (api_formats.md §3).

The API sends numbers as strings (REST) or numbers (stream) and lacks several NOT NULL columns of the
spec. The rules, applied in order:

* **contract**: ``underlying``, ``expiration``, ``option_type`` and ``strike`` are parsed from the OCC
  ``option_chain`` (the stream has no expiry/strike/type fields); ``symbol`` is ``O:`` + the chain, as
  in options_aggs. A REST ``type`` other than call/put is rejected, and so is one that disagrees with the
  chain.
* **side**: ask share = ask-side premium / (ask-side + bid-side premium). At least 0.6: the buyer lifted
  the offer (``premium_type`` debit); at most 0.4: the seller hit the bid (credit); in between: mixed.
* **sentiment**: calls bought and puts sold are bullish, calls sold and puts bought bearish, mixed
  neutral.
* **days_to_expiration**: expiration minus the alert's New York date; an alert on an expired contract is
  rejected.
* **trade_type**: sweep, floor, multileg or single, from the has_* flags in that order.
* **alert_id**: the API's ``id``; without one, ``uw-`` + a hash of (option_chain, created_at, alert_rule),
  so re-fetching never duplicates. ``unusual_score`` and ``size_notation`` are not sent: NULL.
* the raw alert is kept in ``unusual_whales_raw_alerts`` for audit.
"""

from __future__ import annotations

import hashlib

import polars as pl

from ats_pipelines.ingest.columns import JSON, WHOLE_RECORD, ColumnMap, Field, Rule, epoch_ms
from ats_pipelines.ingest.polygon_reference_maps import iso_datetime
from ats_pipelines.market_calendar import NEW_YORK

RAW_ALERT = "raw_alert"
RAW_ALERTS_TABLE = "unusual_whales_raw_alerts"
OCC = r"^(?<root>[A-Z.]{1,6})(?<expiry>\d{6})(?<kind>[CP])(?<strike>\d{8})$"


def number(expr: pl.Expr) -> pl.Expr:
    """A number sent as text (REST) → Float64; unreadable text → null."""
    return expr.str.strip_chars().cast(pl.Float64, strict=False)


def _alert_id_hash(value: str) -> str:
    return "uw-" + hashlib.blake2b(value.encode(), digest_size=16).hexdigest()


_chain = pl.col("_chain").str.extract_groups(OCC)
_ask, _bid = pl.col("_ask_premium").fill_null(0), pl.col("_bid_premium").fill_null(0)
_ask_share = pl.when(_ask + _bid > 0).then(_ask / (_ask + _bid))
_side = pl.when(_ask_share >= 0.6).then(pl.lit("ask")).when(_ask_share <= 0.4).then(pl.lit("bid")).otherwise(
    pl.lit("mixed"))
_bullish = ((pl.col("option_type") == "C") & (pl.col("_side") == "ask")) | (
    (pl.col("option_type") == "P") & (pl.col("_side") == "bid"))
_identity = pl.concat_str([pl.col("_chain"), pl.col("_created_text"), pl.col("_rule").fill_null("")], separator="|")

FLOW_ALERTS = ColumnMap(
    table="unusual_whales_options",
    fields=(
        Field("timestamp", "created_at", "executed_at", raw=pl.String, convert=iso_datetime,
              stream_raw=pl.Int64, stream_convert=epoch_ms),
        Field("_created_text", "created_at", "executed_at", raw=pl.String, stream_raw=pl.Int64,
              stream_convert=lambda e: e.cast(pl.String)),
        Field("_chain", "option_chain", "option_chain", raw=pl.String),
        Field("underlying", "ticker", "ticker", raw=pl.String),
        Field("underlying_price", "underlying_price", "underlying_price", raw=pl.String, convert=number,
              stream_raw=pl.Float64, required=False),
        Field("_type", "type", None, raw=pl.String, required=False),
        Field("premium", "total_premium", "total_premium", raw=pl.String, convert=number, stream_raw=pl.Float64),
        Field("_ask_premium", "total_ask_side_prem", "total_ask_side_prem", raw=pl.String, convert=number,
              stream_raw=pl.Float64, required=False),
        Field("_bid_premium", "total_bid_side_prem", "total_bid_side_prem", raw=pl.String, convert=number,
              stream_raw=pl.Float64, required=False),
        Field("volume", "volume", "volume", raw=pl.Int64),
        Field("open_interest", "open_interest", "open_interest", raw=pl.Int64, required=False),
        Field("volume_oi_ratio", "volume_oi_ratio", "volume_oi_ratio", raw=pl.String, convert=number,
              stream_raw=pl.Float64, required=False),
        Field("implied_volatility", "iv_end", None, raw=pl.String, convert=number, required=False),
        Field("_sweep", "has_sweep", "has_sweep", raw=pl.Boolean, required=False),
        Field("_floor", "has_floor", "has_floor", raw=pl.Boolean, required=False),
        Field("_multileg", "has_multileg", "has_multileg", raw=pl.Boolean, required=False),
        Field("_id", "id", "id", raw=pl.String, required=False),
        Field("_rule", "alert_rule", "rule_name", raw=pl.String, required=False),
        Field("sector", "sector", None, raw=pl.String, required=False),
        Field(RAW_ALERT, WHOLE_RECORD, WHOLE_RECORD, raw=JSON),
    ),
    derived=(
        ("symbol", pl.lit("O:") + pl.col("_chain")),
        ("option_type", _chain.struct.field("kind")),
        ("expiration", _chain.struct.field("expiry").str.to_date("%y%m%d", strict=False)),
        ("strike", _chain.struct.field("strike").cast(pl.Float64, strict=False) / 1000),
        ("_side", _side),
        ("premium_type", pl.col("_side").replace_strict({"ask": "debit", "bid": "credit", "mixed": "mixed"})),
        ("sentiment", pl.when(pl.col("_side") == "mixed").then(pl.lit("neutral"))
         .when(_bullish).then(pl.lit("bullish")).otherwise(pl.lit("bearish"))),
        ("days_to_expiration",
         (pl.col("expiration") - pl.col("timestamp").dt.convert_time_zone(str(NEW_YORK)).dt.date())
         .dt.total_days().cast(pl.Int32)),
        ("trade_type", pl.when(pl.col("_sweep")).then(pl.lit("sweep")).when(pl.col("_floor")).then(pl.lit("floor"))
         .when(pl.col("_multileg")).then(pl.lit("multileg")).otherwise(pl.lit("single"))),
        ("alert_id", pl.coalesce(pl.col("_id"), _identity.map_elements(_alert_id_hash, return_dtype=pl.String))),
    ),
    rules=(
        Rule("option_chain is not an OCC symbol", pl.col("option_type").is_null() | pl.col("expiration").is_null()),
        Rule("unknown option type (expected call or put)",
             pl.col("_type").is_not_null() & ~pl.col("_type").str.to_lowercase().is_in(["call", "put"])),
        Rule("type disagrees with option_chain",
             pl.col("_type").is_not_null() & (pl.col("_type").str.to_uppercase().str.slice(0, 1)
                                              != pl.col("option_type"))),
        Rule("premium < 0", pl.col("premium") < 0),
        Rule("volume < 0", pl.col("volume") < 0),
        Rule("contract expired before the alert", pl.col("days_to_expiration") < 0),
    ),
    helpers=frozenset({"_created_text", "_chain", "_type", "_ask_premium", "_bid_premium", "_sweep", "_floor",
                       "_multileg", "_id", "_rule", "_side"}),
)


def raw_alert_rows(mapped: pl.DataFrame) -> pl.DataFrame:
    """The audit rows of mapped alerts: their key and the alert as received."""
    return mapped.select("alert_id", "timestamp", pl.col(RAW_ALERT).alias("alert"))


def alert_rows(mapped: pl.DataFrame) -> pl.DataFrame:
    """The unusual_whales_options rows of mapped alerts."""
    return mapped.drop(RAW_ALERT)
