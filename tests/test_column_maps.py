"""Declarative column maps: REST and stream records map to the same rows; bad records are explained."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import polars as pl
import pytest

from ats_pipelines.ingest.occ import parse_occ
from ats_pipelines.ingest.polygon_maps import QUOTES, STOCK_AGGS, TRADES, derived_trade_id, quote_rows

WINDOW = (datetime(2024, 3, 7, tzinfo=UTC), datetime(2024, 3, 8, tzinfo=UTC))


def test_a_rest_bar_and_a_stream_bar_map_to_the_same_row():
    rest = {"v": 1200.0, "vw": 10.05, "o": 10.0, "c": 10.1, "h": 10.2, "l": 9.9, "t": 1709821800000, "n": 12}
    stream = {"ev": "AM", "sym": "AAPL", "v": 1200, "av": 99999, "op": 9.5, "vw": 10.05, "o": 10.0, "c": 10.1,
              "h": 10.2, "l": 9.9, "a": 10.01, "z": 100, "s": 1709821800000, "e": 1709821860000}
    from_rest = STOCK_AGGS.map([rest], constants={"symbol": "AAPL"}, window=WINDOW).rows
    from_stream = STOCK_AGGS.map([stream], flavour="stream", window=WINDOW).rows
    columns = ["symbol", "timestamp", "open", "high", "low", "close", "volume", "vwap", "otc"]
    assert from_rest.select(columns).to_dicts() == from_stream.select(columns).to_dicts()
    assert from_rest["timestamp"][0] == datetime(2024, 3, 7, 14, 30, tzinfo=UTC)
    assert from_rest["otc"][0] is False and from_rest["transactions"][0] == 12


@pytest.mark.parametrize("flavour", ["rest", "stream"])
def test_wrong_json_types_are_rejected_even_when_the_rest_of_the_page_is_clean(flavour):
    """Polars alone reads ``true`` as 1.0, ``"12.5"`` as 12.5 and 4.5 as 4 when the page is otherwise clean."""
    time_field, symbol = ("t", {}) if flavour == "rest" else ("s", {"sym": "AAPL"})
    good = [{"v": 10.0 + i, "o": 1.0, "c": 1.0, "h": 1.0, "l": 1.0, time_field: 1709821800000 + i * 60_000,
             **symbol} for i in range(50)]
    bad = [{**good[0], "v": True}, {**good[1], "c": "12.5"}, {**good[2], time_field: 1709821800000.5},
           {**good[3], "o": False}]
    batch = STOCK_AGGS.map([*good[4:], *bad], flavour=flavour, constants={"symbol": "AAPL"} if not symbol else {})
    assert batch.rows.height == 46 and batch.rows["volume"].to_list() == list(range(14, 60))
    assert [r.reason for r in batch.rejects] == [
        "field 'v' has a bool ('True'), expected Float64", "field 'c' has a str ('12.5'), expected Float64",
        f"field '{time_field}' has a float ('1709821800000.5'), expected Int64",
        "field 'o' has a bool ('False'), expected Float64"]
    stream_trade = {"ev": "T", "sym": "AAPL", "x": 4, "z": 3, "p": 171.5, "s": 0.25, "t": 1709821800000, "q": 1}
    trades = TRADES.map([stream_trade, {**stream_trade, "i": "7"}], flavour="stream")
    assert [r.reason for r in trades.rejects] == ["missing 'i'"]  # the stream's trade id is its key
    assert trades.rows["size"].to_list() == [0.25]  # fractional sizes are kept, not rounded


def test_bad_records_are_rejected_with_a_reason_and_the_good_ones_kept():
    good = {"v": 10.0, "o": 1.0, "c": 1.0, "h": 1.0, "l": 1.0, "t": 1709821800000}
    records = [
        good,
        {**good, "o": "1.0"},                      # wrong JSON type
        {**good, "c": None},                       # null in a required field
        {**good, "h": 0.5},                        # high below open/close
        {**good, "o": -1.0, "l": -1.0},            # price <= 0
        {**good, "t": 1709769600000 - 60_000},     # the day before the partition
        "not an object",
    ]
    batch = STOCK_AGGS.map(records, constants={"symbol": "AAPL"}, window=WINDOW)
    assert batch.rows.height == 1
    expected = ["field 'o' has a str ('1.0'), expected Float64", "record is a str, not an object", "missing 'c'",
                "OHLC inconsistent: high below open/close/low or low above open/close", "price <= 0",
                "timestamp outside [2024-03-07T00:00:00+00:00, 2024-03-08T00:00:00+00:00)"]
    assert [r.reason for r in batch.rejects] == expected
    assert batch.rejects[0].record == records[1]


def test_trade_and_quote_maps_follow_the_documented_choices():
    trade = {"conditions": [12, 37], "exchange": 11, "id": "183276", "participant_timestamp": 1651181822461636600,
             "price": 156.43, "sequence_number": 7179341, "sip_timestamp": 1651181822461979400, "size": 10,
             "tape": 3}
    day = (datetime(2022, 4, 28, tzinfo=UTC), datetime(2022, 4, 29, tzinfo=UTC))
    row = TRADES.map([trade], constants={"symbol": "AAPL"}, window=day).rows.row(0, named=True)
    assert row["timestamp"] == datetime(2022, 4, 28, 21, 37, 2, 461979, tzinfo=UTC)  # SIP time, in µs
    assert (row["exchange"], row["tape"], row["conditions"], row["trade_id"]) == ("11", "C", ["12", "37"], "183276")
    options_trade = {k: v for k, v in trade.items() if k not in ("id", "sequence_number", "tape")}
    first = derived_trade_id(TRADES.map([options_trade], constants={"symbol": "O:X"}, window=day).rows)
    second = derived_trade_id(TRADES.map([options_trade], constants={"symbol": "O:X"}, window=day).rows)
    assert first["trade_id"][0] == second["trade_id"][0] and len(first["trade_id"][0]) <= 32
    quote = {"ask_exchange": 0, "ask_price": 0, "ask_size": 0, "bid_exchange": 19, "bid_price": 155.85,
             "bid_size": 4, "sip_timestamp": 1652191872800638700, "sequence_number": 1}
    rows = quote_rows(QUOTES.map([quote, {**quote, "bid_price": 0}], constants={"symbol": "AAPL"},
                                 window=(datetime(2022, 5, 10, tzinfo=UTC), datetime(2022, 5, 11, tzinfo=UTC))).rows)
    assert rows.height == 1 and rows["exchange"][0] == "19/0"  # one-sided kept; no bid and no ask rejected
    assert "bid_exchange" not in rows.columns


@pytest.mark.parametrize(("symbol", "parts"), [
    ("O:AAPL240315C00170000", ("AAPL", date(2024, 3, 15), "C", Decimal("170"))),
    ("MSFT231222C00375000", ("MSFT", date(2023, 12, 22), "C", Decimal("375"))),
    ("O:SPY240308P00512500", ("SPY", date(2024, 3, 8), "P", Decimal("512.5"))),
])
def test_occ_symbols_parse_and_round_trip(symbol, parts):
    contract = parse_occ(symbol)
    assert (contract.underlying, contract.expiration, contract.option_type, contract.strike) == parts
    assert contract.polygon_ticker == ("O:" + symbol).replace("O:O:", "O:")


@pytest.mark.parametrize("bad", ["AAPL", "O:AAPL241315C00170000", "O:AAPL240315X00170000", ""])
def test_bad_occ_symbols_raise_a_clear_error(bad):
    with pytest.raises(ValueError, match="option symbol"):
        parse_occ(bad)


def test_an_empty_page_maps_to_no_rows():
    batch = STOCK_AGGS.map([], constants={"symbol": "AAPL"}, window=WINDOW)
    assert batch.rows.height == 0 and batch.rejects == []
    assert isinstance(batch.rows, pl.DataFrame)


def test_stream_events_of_symbols_outside_the_universe_are_rejected():
    event = {"ev": "AM", "v": 100, "vw": 10.0, "o": 10.0, "c": 10.0, "h": 10.0, "l": 10.0, "s": 1709821800000}
    batch = STOCK_AGGS.map([{**event, "sym": "AAPL"}, {**event, "sym": "ZZZZ"}], flavour="stream", window=WINDOW,
                           symbols=frozenset({"AAPL"}))
    assert batch.rows["symbol"].to_list() == ["AAPL"]
    assert [(r.reason, r.record["sym"]) for r in batch.rejects] == [("symbol not in the universe", "ZZZZ")]
