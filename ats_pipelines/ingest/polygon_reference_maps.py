"""Column maps of Polygon's reference data: ticker details, news, market holidays and market status.

Choices the spec leaves open:

* ticker_details: ``currency`` is ``currency_name``; ``last_updated`` is when we first fetched the details
  as they now are (the details endpoint sends no update time; a re-fetch that finds nothing new leaves
  it alone); ``address`` is kept as sent (JSONB); every field no column
  takes (cik, FIGIs, branding, round lot, ...) goes to ``metadata``. Share counts and market cap are
  rounded to whole numbers (BIGINT).
* news_articles: ``source`` is the publisher's name; tickers and keywords are text arrays.
* market_holidays: Polygon lists NYSE, NASDAQ and OTC; US equity options follow the same holidays, so
  each date becomes one ``us_equity`` and one ``us_options`` row. Early-close open/close times are stored
  as New York local times (TIME has no zone); ``early-close`` becomes the spec's ``early_close``.
* stock_splits, dividends (additions to the spec, migration 0010): keyed by (symbol, execution date) and
  (symbol, ex-dividend date, dividend type), since the vendor's ``id`` is optional (the recorded pages
  lack it) and kept as ``polygon_id``. ``history_adjusted_at`` is written NULL as a stamp column: a split
  whose ratio the vendor corrects is re-applied to the adjusted history, an unchanged one is left alone.
* market_status: ``us_equity`` follows the overall ``market`` field, ``us_options`` has no extended
  session (extended hours count as closed), ``forex`` and ``crypto`` come from ``currencies``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import polars as pl

from ats_pipelines.ingest.columns import EXTRA_FIELDS, JSON, ColumnMap, Field, Rule, rounded_int
from ats_pipelines.market_calendar import NEW_YORK, holidays, next_session_times, sessions


def iso_datetime(expr: pl.Expr) -> pl.Expr:
    """RFC 3339 text (``Z`` or an offset, space or ``T``) → UTC timestamp; unreadable text → null."""
    text = expr.str.replace(" ", "T", literal=True).str.replace("Z$", "+00:00")
    return text.str.to_datetime("%Y-%m-%dT%H:%M:%S%.f%z", strict=False, time_zone="UTC")


def iso_date(expr: pl.Expr) -> pl.Expr:
    return expr.str.to_date("%Y-%m-%d", strict=False)


TICKER_DETAILS = ColumnMap(
    table="ticker_details",
    time_column="last_updated",
    stamp_columns=frozenset({"last_updated"}),
    fields=(
        Field("ticker", "ticker", raw=pl.String),
        Field("name", "name", raw=pl.String),
        Field("market", "market", raw=pl.String),
        Field("locale", "locale", raw=pl.String),
        Field("type", "type", raw=pl.String),
        Field("currency", "currency_name", raw=pl.String),
        Field("active", "active", raw=pl.Boolean, required=False),
        Field("primary_exchange", "primary_exchange", raw=pl.String, required=False),
        Field("description", "description", raw=pl.String, required=False),
        Field("sic_code", "sic_code", raw=pl.String, required=False),
        Field("sic_description", "sic_description", raw=pl.String, required=False),
        Field("ticker_root", "ticker_root", raw=pl.String, required=False),
        Field("homepage_url", "homepage_url", raw=pl.String, required=False),
        Field("total_employees", "total_employees", raw=pl.Int64, required=False),
        Field("list_date", "list_date", raw=pl.String, convert=iso_date, required=False),
        Field("share_class_shares_outstanding", "share_class_shares_outstanding", convert=rounded_int,
              required=False),
        Field("weighted_shares_outstanding", "weighted_shares_outstanding", convert=rounded_int, required=False),
        Field("market_cap", "market_cap", convert=rounded_int, required=False),
        Field("phone_number", "phone_number", raw=pl.String, required=False),
        Field("address", "address", raw=JSON, required=False),
        Field("metadata", EXTRA_FIELDS, raw=JSON, required=False),
    ),
)

NEWS_ARTICLES = ColumnMap(
    table="news_articles",
    time_column="published_utc",
    fields=(
        Field("article_id", "id", raw=pl.String),
        Field("published_utc", "published_utc", raw=pl.String, convert=iso_datetime),
        Field("title", "title", raw=pl.String),
        Field("author", "author", raw=pl.String, required=False),
        Field("article_url", "article_url", raw=pl.String),
        Field("tickers", "tickers", raw=pl.List(pl.String), required=False),
        Field("image_url", "image_url", raw=pl.String, required=False),
        Field("description", "description", raw=pl.String, required=False),
        Field("keywords", "keywords", raw=pl.List(pl.String), required=False),
        Field("source", "publisher", raw=pl.Struct({"name": pl.String}), convert=lambda e: e.struct.field("name")),
    ),
)

STOCK_SPLITS = ColumnMap(
    table="stock_splits",
    time_column="execution_date",
    stamp_columns=frozenset({"history_adjusted_at"}),
    fields=(
        Field("symbol", "ticker", raw=pl.String),
        Field("execution_date", "execution_date", raw=pl.String, convert=iso_date),
        Field("split_from", "split_from"),
        Field("split_to", "split_to"),
        Field("polygon_id", "id", raw=pl.String, required=False),
    ),
    rules=(Rule("split ratio not positive", (pl.col("split_from") <= 0) | (pl.col("split_to") <= 0)),),
    derived=(("history_adjusted_at", pl.lit(None, dtype=pl.Datetime("us", "UTC"))),),
)

DIVIDENDS = ColumnMap(
    table="dividends",
    time_column="ex_dividend_date",
    fields=(
        Field("symbol", "ticker", raw=pl.String),
        Field("ex_dividend_date", "ex_dividend_date", raw=pl.String, convert=iso_date),
        Field("dividend_type", "dividend_type", raw=pl.String),
        Field("cash_amount", "cash_amount"),
        Field("currency", "currency", raw=pl.String, required=False),
        Field("declaration_date", "declaration_date", raw=pl.String, convert=iso_date, required=False),
        Field("record_date", "record_date", raw=pl.String, convert=iso_date, required=False),
        Field("pay_date", "pay_date", raw=pl.String, convert=iso_date, required=False),
        Field("frequency", "frequency", raw=pl.Int64, convert=lambda e: e.cast(pl.Int32), required=False),
        Field("polygon_id", "id", raw=pl.String, required=False),
    ),
    rules=(Rule("unknown dividend_type", ~pl.col("dividend_type").is_in(["CD", "SC", "LT", "ST"])),
           Rule("cash_amount negative", pl.col("cash_amount") < 0)),
)

_EXCHANGE_TIME = pl.Datetime("us", "UTC")


def _new_york_time(expr: pl.Expr) -> pl.Expr:
    return iso_datetime(expr).dt.convert_time_zone(str(NEW_YORK)).dt.time()


UPCOMING_HOLIDAYS = ColumnMap(
    table="market_holidays",
    time_column="date",
    fields=(
        Field("date", "date", raw=pl.String, convert=iso_date),
        Field("name", "name", raw=pl.String),
        Field("exchange", "exchange", raw=pl.String),
        Field("status", "status", raw=pl.String, convert=lambda e: e.str.replace("-", "_", literal=True)),
        Field("open_time", "open", raw=pl.String, convert=_new_york_time, required=False),
        Field("close_time", "close", raw=pl.String, convert=_new_york_time, required=False),
    ),
    derived=(("year", pl.col("date").dt.year().cast(pl.Int32)),),
    helpers=frozenset({"exchange"}),
)

HOLIDAY_MARKETS = ("us_equity", "us_options")


def holiday_rows(mapped: pl.DataFrame) -> pl.DataFrame:
    """One row per date and market: the exchanges' rows of a date agree, the first one stands."""
    per_date = mapped.unique(subset=["date"], keep="first", maintain_order=True)
    return pl.concat([per_date.with_columns(pl.lit(m).alias("market")) for m in HOLIDAY_MARKETS])


def calendar_holiday_rows(first_year: int, last_year: int) -> pl.DataFrame:
    """Holidays and early closes of past years from the exchange calendar, in market_holidays' shape."""
    rows = [
        {"date": h.day, "name": h.name, "status": h.status, "open_time": h.open_time, "close_time": h.close_time,
         "year": h.day.year, "market": market}
        for h in holidays(first_year, last_year) for market in HOLIDAY_MARKETS
    ]
    return pl.DataFrame(rows, schema={"date": pl.Date, "name": pl.String, "status": pl.String,
                                      "open_time": pl.Time, "close_time": pl.Time, "year": pl.Int32,
                                      "market": pl.String})


_STATUS = {"open": "open", "closed": "closed", "extended-hours": "extended_hours"}


def market_status_rows(now: dict[str, Any]) -> pl.DataFrame:
    """The four markets' rows of one /v1/marketstatus/now snapshot (timestamp = the server's time)."""
    at = datetime.fromisoformat(now["serverTime"])
    equity = _STATUS.get(now.get("market", ""), "closed")
    currencies = now.get("currencies") or {}
    next_open, next_close = next_session_times(at)
    local_day = at.astimezone(NEW_YORK).date()
    today = sessions(local_day, local_day)
    early = bool(today and today[0].early_close)
    rows = [
        ("us_equity", equity, next_open, next_close, early),
        ("us_options", "open" if equity == "open" else "closed", next_open, next_close, early),
        ("forex", _STATUS.get(currencies.get("fx", ""), "closed"), None, None, False),
        ("crypto", _STATUS.get(currencies.get("crypto", ""), "closed"), None, None, False),
    ]
    return pl.DataFrame(
        [{"timestamp": at, "market": m, "status": s, "next_open": o, "next_close": c, "early_close": e,
          "late_open": False} for m, s, o, c, e in rows],
        schema={"timestamp": _EXCHANGE_TIME, "market": pl.String, "status": pl.String, "next_open": _EXCHANGE_TIME,
                "next_close": _EXCHANGE_TIME, "early_close": pl.Boolean, "late_open": pl.Boolean},
    )
