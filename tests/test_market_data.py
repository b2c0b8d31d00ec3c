"""Market-data assets end to end: the fake Polygon server → the real asset code → the real PostgreSQL."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, timedelta

import dagster as dg
import pytest

from ats_pipelines.defs.market_data.assets import (
    crypto_aggs,
    options_aggs,
    quotes,
    stock_aggs,
    stock_aggs_rollups,
    trades,
)
from ats_pipelines.defs.market_data.checks import bar_quality, sessions_complete
from ats_pipelines.fakes import polygon_data
from ats_pipelines.ingest.polygon_maps import STOCK_AGGS
from ats_pipelines.market_calendar import sessions
from tests.conftest import checks, market_resources, metadata, run

BAR_QUERY = ("SELECT symbol, timestamp, open, high, low, close, volume, vwap, transactions FROM stock_aggs"
             " WHERE timeframe = '1m' ORDER BY symbol, timestamp")


def expected_minute_bars(symbols: list[str], first: date, last: date) -> int:
    return sum(len(polygon_data.minute_bars(s, d.day)) for s in symbols for d in sessions(first, last))


def test_a_partition_lands_exactly_the_served_bars_and_a_rerun_changes_nothing(db, sql_conn, fake_polygon):
    resources = market_resources(db, fake_polygon, stocks="AAPL,MSFT")
    first = run([stock_aggs, stock_aggs_rollups], resources, "2024-03-07")
    stored = sql_conn.execute(BAR_QUERY).fetchall()
    served = [
        (symbol, datetime.fromtimestamp(t / 1000, UTC), o, h, low, c, v, vw, n)
        for symbol in ("AAPL", "MSFT")
        for t, o, h, low, c, v, vw, n in zip(*(getattr(polygon_data.minute_bars(symbol, date(2024, 3, 7)), f).tolist()
                                               for f in ("t", "o", "h", "low", "c", "v", "vw", "n")), strict=True)
    ]
    assert len(stored) == len(served) > 700
    assert [(r[0], r[1], float(r[2]), float(r[3]), float(r[4]), float(r[5]), r[6], float(r[7]), r[8])
            for r in stored] == served
    assert metadata(first, "stock_aggs")["rows_inserted"] == len(served) + 4  # plus 1d bars, adjusted and raw
    assert checks(first) == {"no_duplicate_keys": True, "ohlc_sane": True, "sessions_complete": True}

    again = run([stock_aggs, stock_aggs_rollups], resources, "2024-03-07")
    md = metadata(again, "stock_aggs")
    assert (md["rows_inserted"], md["rows_updated"], md["rows_unchanged"]) == (0, 0, len(served) + 4)
    assert sql_conn.execute(BAR_QUERY).fetchall() == stored
    rollup = sql_conn.execute("SELECT count(*), sum(bar_count), sum(volume) FROM stock_aggs_5m").fetchone()
    assert rollup[1] == len(served)
    assert rollup[2] == sum(r[6] for r in stored)


def test_a_30_day_backfill_of_5_symbols_is_one_run(db, sql_conn, fake_polygon):
    symbols = ["AAPL", "MSFT", "NVDA", "AMZN", "SPY"]
    instance = dg.DagsterInstance.ephemeral()
    result = run([stock_aggs], market_resources(db, fake_polygon, stocks=",".join(symbols)), "2024-03-01",
                 "2024-03-30", instance=instance)
    assert result.success
    assert len(instance.get_runs()) == 1
    expected = expected_minute_bars(symbols, date(2024, 3, 1), date(2024, 3, 30))
    assert sql_conn.execute("SELECT count(*) FROM stock_aggs WHERE timeframe = '1m'").fetchone()[0] == expected
    md = metadata(result, "stock_aggs")
    assert md["api_requests"] == 3 * len(symbols)  # one request per symbol and 1m, 1d, raw 1d covers 30 days
    partitions = {e.partition for e in result.get_asset_materialization_events()}
    assert len(partitions) == 30
    assert checks(result)["sessions_complete"]


def test_429_bursts_and_5xx_are_retried_and_the_data_arrives_complete(db, sql_conn, fake_polygon):
    fake_polygon.faults.rate_limit_first = 3
    fake_polygon.faults.rate_limit_every = 4
    fake_polygon.faults.server_error_every = 5
    fake_polygon.faults.retry_after = "0.05"
    result = run([stock_aggs], market_resources(db, fake_polygon, stocks="AAPL,MSFT,SPY"), "2024-03-04",
                 "2024-03-08")
    md = metadata(result, "stock_aggs")
    assert md["api_retries"] >= 5
    assert md["api_requests"] == fake_polygon.faults.served
    expected = expected_minute_bars(["AAPL", "MSFT", "SPY"], date(2024, 3, 4), date(2024, 3, 8))
    assert sql_conn.execute("SELECT count(*) FROM stock_aggs WHERE timeframe = '1m'").fetchone()[0] == expected


def test_malformed_records_are_rejected_with_reasons_and_the_good_rows_land(db, sql_conn, fake_polygon):
    fake_polygon.faults.malformed_tickers = frozenset({"MSFT"})
    result = run([stock_aggs], market_resources(db, fake_polygon, stocks="AAPL,MSFT"), "2024-03-04", "2024-03-08")
    served = expected_minute_bars(["MSFT"], date(2024, 3, 4), date(2024, 3, 8))
    bad = sum(1 for i in range(served) if i % 50 == 7)
    md = metadata(result, "stock_aggs")
    assert md["rows_rejected"] == bad
    assert set(md["reject_reasons"]) == {"field 'o' has a str ('n/a'), expected Float64", "missing 'c'",
                                         "OHLC inconsistent: high below open/close/low or low above open/close",
                                         "volume < 0"}
    rows = dict(sql_conn.execute(
        "SELECT symbol, count(*) FROM stock_aggs WHERE timeframe = '1m' GROUP BY symbol").fetchall())
    assert rows == {"AAPL": expected_minute_bars(["AAPL"], date(2024, 3, 4), date(2024, 3, 8)), "MSFT": served - bad}
    quarantined = sql_conn.execute("SELECT count(*), count(DISTINCT reason) FROM ingest_rejects"
                                   " WHERE table_name = 'stock_aggs' AND symbol = 'MSFT'").fetchone()
    assert quarantined == (bad, 4)
    run([stock_aggs], market_resources(db, fake_polygon, stocks="AAPL,MSFT"), "2024-03-04", "2024-03-08")
    assert sql_conn.execute("SELECT count(*) FROM ingest_rejects").fetchone()[0] == bad  # no duplicate rejects


@pytest.mark.parametrize(("day", "first_bar_utc", "minutes", "post_market_end_ny"), [
    ("2024-03-08", datetime(2024, 3, 8, 14, 30, tzinfo=UTC), 390, "20:00"),   # EST, the Friday before the change
    ("2024-03-11", datetime(2024, 3, 11, 13, 30, tzinfo=UTC), 390, "20:00"),  # EDT, the Monday after
    ("2024-11-04", datetime(2024, 11, 4, 14, 30, tzinfo=UTC), 390, "20:00"),  # EST again after November's change
    ("2024-11-29", datetime(2024, 11, 29, 14, 30, tzinfo=UTC), 210, "17:00"),  # early close, 13:00 New York
])
def test_timestamps_are_utc_and_dst_and_early_close_days_have_the_right_bars(db, sql_conn, fake_polygon, day,
                                                                             first_bar_utc, minutes,
                                                                             post_market_end_ny):
    """The regular session's bars sit at the right UTC times; the extended-hours bars around them are stored
    too (04:00 New York to the post-market's end; EST evenings cross midnight UTC) and the check passes."""
    result = run([stock_aggs], market_resources(db, fake_polygon, stocks="SPY"), day)
    close = first_bar_utc + timedelta(minutes=minutes)
    first, last, count = sql_conn.execute(
        "SELECT min(timestamp), max(timestamp), count(*) FROM stock_aggs WHERE timeframe = '1m'"
        " AND timestamp >= %s AND timestamp < %s", (first_bar_utc, close)).fetchone()
    assert (first, count) == (first_bar_utc, minutes)
    assert (last - first).total_seconds() == (minutes - 1) * 60
    pre, post = sql_conn.execute(
        "SELECT count(*) FILTER (WHERE timestamp < %s), count(*) FILTER (WHERE timestamp >= %s) FROM stock_aggs"
        " WHERE timeframe = '1m'", (first_bar_utc, close)).fetchone()
    served = polygon_data.minute_bars("SPY", date.fromisoformat(day))
    assert pre + count + post == len(served) and pre > 100 and post > 100
    earliest, latest = (t.astimezone(polygon_data.NEW_YORK) for t in sql_conn.execute(
        "SELECT min(timestamp), max(timestamp) FROM stock_aggs WHERE timeframe = '1m'").fetchone())
    assert earliest.time().isoformat() >= "04:00:00" and earliest.date().isoformat() == day
    assert latest.time().isoformat() < post_market_end_ny and latest.date().isoformat() == day
    daily = sql_conn.execute("SELECT timestamp FROM stock_aggs WHERE timeframe = '1d'").fetchone()[0]
    assert daily.astimezone(polygon_data.NEW_YORK).time().isoformat() == "00:00:00"  # Polygon's day start
    assert checks(result)["sessions_complete"]


def test_a_missing_session_fails_the_gap_check(db, fake_polygon):
    result = run([stock_aggs], market_resources(db, fake_polygon, stocks="SPY,QQQ"), "2024-03-06")
    assert checks(result)["sessions_complete"]
    db.execute("DELETE FROM stock_aggs WHERE symbol = 'QQQ'")
    window = (datetime(2024, 3, 6, tzinfo=UTC), datetime(2024, 3, 7, tzinfo=UTC))
    evaluation = sessions_complete(db, ["SPY", "QQQ"], window, adjusted=True)
    assert not evaluation.passed
    assert evaluation.metadata["missing_sessions"].value == ["QQQ 2024-03-06"]


def test_extended_hours_bars_never_stand_in_for_missing_regular_session_bars(db, sql_conn, fake_polygon):
    """QQQ keeps its pre- and post-market bars but loses the regular session's: the check fails on it."""
    result = run([stock_aggs], market_resources(db, fake_polygon, stocks="SPY,QQQ"), "2024-03-06")
    assert checks(result)["sessions_complete"]
    session = sessions(date(2024, 3, 6), date(2024, 3, 6))[0]
    deleted = db.execute("DELETE FROM stock_aggs WHERE symbol = 'QQQ' AND timeframe = '1m' AND timestamp >= %s"
                         " AND timestamp < %s", (session.open, session.close))
    assert deleted == 390
    extended = sql_conn.execute("SELECT count(*) FROM stock_aggs WHERE symbol = 'QQQ' AND timeframe = '1m'"
                                ).fetchone()[0]
    assert extended > 300  # QQQ trades most extended-hours minutes
    window = (datetime(2024, 3, 6, tzinfo=UTC), datetime(2024, 3, 7, tzinfo=UTC))
    evaluation = sessions_complete(db, ["SPY", "QQQ"], window, adjusted=True)
    assert not evaluation.passed
    assert evaluation.metadata["missing_sessions"].value == ["QQQ 2024-03-06"]


def test_an_invalid_api_key_fails_the_run_clearly_and_never_logs_the_key(db, fake_polygon, caplog):
    secret = "sk-live-7f3a9c1e5b2d"
    instance = dg.DagsterInstance.ephemeral()
    with caplog.at_level(logging.DEBUG):
        result = run([stock_aggs], market_resources(db, fake_polygon, api_key=secret, stocks="AAPL"), "2024-03-07",
                     instance=instance, raise_on_error=False)
    assert not result.success
    failure = result.get_step_failure_events()[0].step_failure_data.error.cause
    assert failure.cls_name == "ApiAuthError"
    assert "HTTP 401" in failure.message and "Unknown API Key" in failure.message
    logged = [record.getMessage() for record in caplog.records]
    logged += [str(entry.message) + str(entry.dagster_event) for entry in instance.all_logs(result.run_id)]
    assert logged and not any(secret in line for line in logged)


def test_crypto_options_trades_and_quotes_land(db, sql_conn, fake_polygon):
    resources = market_resources(db, fake_polygon, crypto="X:BTCUSD", option_underlyings="SPY",
                                 ticks="AAPL,X:BTCUSD")
    result = run([crypto_aggs, options_aggs, trades, quotes], resources, "2024-03-07")
    assert result.success
    assert sql_conn.execute("SELECT count(*) FROM crypto_aggs").fetchone()[0] == len(
        polygon_data.minute_bars("X:BTCUSD", date(2024, 3, 7)))
    contract = sql_conn.execute(
        "SELECT symbol, underlying, expiration, strike, option_type, timeframe FROM options_aggs LIMIT 1").fetchone()
    assert contract[0].startswith("O:SPY") and contract[1] == "SPY" and contract[4] in ("C", "P")
    assert contract[5] == "1d" and contract[2] >= date(2024, 3, 7)
    contracts = [r[0] for r in sql_conn.execute("SELECT DISTINCT symbol FROM options_aggs").fetchall()]
    assert contracts and min(map(len, contracts)) > 16  # OCC tickers: wider than the spec's VARCHAR(16)
    trade_counts = dict(sql_conn.execute("SELECT symbol, count(*) FROM trades GROUP BY symbol").fetchall())
    assert trade_counts == {s: polygon_data.TRADES_PER_SESSION for s in ("AAPL", "X:BTCUSD", *contracts)}
    quote_counts = dict(sql_conn.execute("SELECT symbol, count(*) FROM quotes GROUP BY symbol").fetchall())
    assert quote_counts == {s: polygon_data.QUOTES_PER_SESSION for s in ("AAPL", "X:BTCUSD", *contracts)}
    option_trade = sql_conn.execute("SELECT trade_id, price > 0 FROM trades WHERE symbol = %s LIMIT 1",
                                    (contracts[0],)).fetchone()
    assert option_trade[0].startswith("h") and option_trade[1]  # options trades: a derived, deterministic id
    tape, exchange = sql_conn.execute("SELECT tape, exchange FROM trades WHERE symbol = 'AAPL' LIMIT 1").fetchone()
    assert tape == "C" and exchange.isdigit()
    quote = sql_conn.execute("SELECT exchange, bid_price < ask_price FROM quotes WHERE symbol = 'AAPL' LIMIT 1"
                             ).fetchone()
    assert "/" in quote[0] and quote[1]
    again = run([crypto_aggs, options_aggs, trades, quotes], resources, "2024-03-07")
    assert sum(metadata(again, a)["rows_written"] for a in ("crypto_aggs", "options_aggs", "trades", "quotes")) == 0


def test_the_ohlc_check_catches_a_bad_bar_written_around_validation(db, sql_conn, fake_polygon):
    run([stock_aggs], market_resources(db, fake_polygon, stocks="SPY"), "2024-03-06")
    sql_conn.execute("UPDATE stock_aggs SET high = low - 1 WHERE timeframe = '1m'"
                     " AND timestamp = (SELECT min(timestamp) FROM stock_aggs WHERE timeframe = '1m')")
    window = (datetime(2024, 3, 6, tzinfo=UTC), datetime(2024, 3, 7, tzinfo=UTC))
    results = {r.check_name: r for r in bar_quality(db, "stock_aggs", ["SPY"], window)}
    assert not results["ohlc_sane"].passed and results["ohlc_sane"].metadata["violations"].value == 1
    assert results["no_duplicate_keys"].passed
    assert results["no_duplicate_keys"].metadata["unique_index"].value == "stock_aggs_symbol_timestamp_timeframe_key"


def test_daily_bars_of_days_that_hold_minute_bars_take_the_copy_path(db, fake_polygon):
    """The overlap probe filters on every key column, so 1d bars are not merged against the 1m bars."""
    resources = market_resources(db, fake_polygon, stocks="SPY,QQQ")
    run([stock_aggs], resources, "2024-03-06")
    db.execute("DELETE FROM stock_aggs WHERE timeframe = '1d'")
    window = (datetime(2024, 3, 6, tzinfo=UTC), datetime(2024, 3, 7, tzinfo=UTC))
    start_ms, end_ms = int(window[0].timestamp() * 1000), int(window[1].timestamp() * 1000) - 1
    with resources["polygon"].client() as client:
        records = [bar for page in client.aggregates("SPY", 1, "day", start_ms, end_ms) for bar in page]
    rows = STOCK_AGGS.map(records, constants={"symbol": "SPY", "timeframe": "1d", "adjusted": True},
                          window=window).rows
    assert db.write("stock_aggs", rows).path == "copy"


def test_a_refetch_lands_the_vendors_corrections_and_touches_nothing_else(db, sql_conn, fake_polygon):
    resources = market_resources(db, fake_polygon, stocks="SPY")
    run([stock_aggs], resources, "2024-03-06", "2024-03-08")
    # a bar we hold differs from what the vendor now serves (a late correction), one bar is missing
    sql_conn.execute("UPDATE stock_aggs SET close = close + 1 WHERE timestamp = '2024-03-07 15:00+00'"
                     " AND timeframe = '1m'")
    sql_conn.execute("DELETE FROM stock_aggs WHERE timestamp = '2024-03-08 15:00+00' AND timeframe = '1m'")
    md = metadata(run([stock_aggs], resources, "2024-03-06", "2024-03-08"), "stock_aggs")
    assert (md["rows_updated"], md["rows_inserted"]) == (1, 1)
    assert md["rows_unchanged"] == md["rows_received"] - 2
