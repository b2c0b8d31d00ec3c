"""Reference data: the recorded Polygon responses land in the right columns, re-loading changes nothing."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

import dagster as dg
import polars as pl

from ats_pipelines.defs.reference.assets import market_holidays, market_status, news_articles, ticker_details
from ats_pipelines.defs.reference.sensors import new_tickers_sensor
from tests.conftest import market_resources


def materialize(assets, resources, run_config=None):
    result = dg.materialize(assets, resources=resources, instance=dg.DagsterInstance.ephemeral(),
                            run_config=run_config)
    return {e.asset_key.to_user_string(): {k: v.value for k, v in e.materialization.metadata.items()}
            for e in result.get_asset_materialization_events()}


def snapshot(sql_conn, table: str, order: str) -> list[tuple]:
    return sql_conn.execute(f"SELECT * FROM {table} ORDER BY {order}").fetchall()


def test_ticker_details_land_in_their_columns_with_address_and_extras_as_jsonb(db, sql_conn, fake_polygon):
    resources = market_resources(db, fake_polygon, stocks="AAPL,MSFT")
    first = materialize([ticker_details], resources)["ticker_details"]
    row = sql_conn.execute(
        "SELECT ticker, name, market, locale, type, currency, active, primary_exchange, sic_code, ticker_root,"
        " total_employees, list_date, share_class_shares_outstanding, market_cap, phone_number, address, metadata,"
        " last_updated FROM ticker_details WHERE ticker = 'AAPL'").fetchone()
    assert row[:15] == ("AAPL", "Apple Inc.", "stocks", "us", "CS", "usd", True, "XNAS", "3571", "AAPL", 154000,
                        date(1980, 12, 12), 16319440000, 2488795282370, "(408) 996-1010")
    assert row[15] == {"address1": "ONE APPLE PARK WAY", "city": "CUPERTINO", "state": "CA", "postal_code": "95014"}
    assert row[16]["cik"] == "0000320193" and row[16]["branding"]["logo_url"].endswith("logo.svg")
    assert "address" not in row[16] and "ticker" not in row[16]
    assert (datetime.now(UTC) - row[17]).total_seconds() < 600
    assert first["rows_inserted"] == 2
    before = snapshot(sql_conn, "ticker_details", "ticker")
    again = materialize([ticker_details], resources)["ticker_details"]
    assert (again["rows_inserted"], again["rows_updated"], again["rows_unchanged"]) == (0, 0, 2)
    assert snapshot(sql_conn, "ticker_details", "ticker") == before  # last_updated included


def test_news_follows_next_url_and_lands_arrays_that_the_gin_index_serves(db, sql_conn, fake_polygon):
    resources = market_resources(db, fake_polygon)
    first = materialize([news_articles], resources)["news_articles"]
    assert (first["pages"], first["rows_inserted"], first["api_requests"]) == (2, 2, 2)
    rows = {r[0]: r[1:] for r in sql_conn.execute(
        "SELECT article_id, published_utc, title, author, tickers, keywords, source FROM news_articles")}
    nflx = rows["JeJEhAVoKaqJ2zF9nzQYMg07UlEeWlis6Dsop33TPQY"]
    assert nflx[0] == datetime(2022, 4, 28, 17, 8, tzinfo=UTC)
    assert nflx[3] == ["MSFT", "TSN", "NFLX", "AMZN"] and nflx[4] is None and nflx[5] == "MarketWatch"
    ubs = rows["8ec638777ca03b553ae516761c2a22ba2fdd2f37befae3ab6fdab74e9e5193eb"]
    assert ubs[3] == ["UBS"] and ubs[4] == ["Federal Reserve", "interest rates", "economic data"]
    assert ubs[5] == "Investing.com" and ubs[2] == "Sam Boughedda"
    before = snapshot(sql_conn, "news_articles", "article_id")
    again = materialize([news_articles], resources)["news_articles"]
    assert (again["rows_inserted"], again["rows_updated"]) == (0, 0)
    assert snapshot(sql_conn, "news_articles", "article_id") == before
    tagged = sql_conn.execute("SELECT article_id FROM news_articles WHERE tickers @> ARRAY['NFLX']::varchar[]")
    assert [r[0] for r in tagged] == ["JeJEhAVoKaqJ2zF9nzQYMg07UlEeWlis6Dsop33TPQY"]


def test_the_gin_index_serves_ticker_containment_on_a_table_with_enough_rows(db, sql_conn):
    n = 50_000
    articles = pl.DataFrame({
        "article_id": [f"a{i}" for i in range(n)],
        "published_utc": [datetime(2024, 1, 1, tzinfo=UTC)] * n,
        "title": ["t"] * n,
        "article_url": [f"https://example.com/{i}" for i in range(n)],
        "tickers": [[f"T{i % 5000}", f"T{(i * 7) % 5000}"] for i in range(n)],
        "source": ["test"] * n,
    })
    db.write("news_articles", articles)
    sql_conn.execute("ANALYZE news_articles")
    plan = "\n".join(r[0] for r in sql_conn.execute(
        "EXPLAIN SELECT article_id FROM news_articles WHERE tickers @> ARRAY['T42']::varchar[]"))
    assert "news_articles_tickers_idx" in plan, plan
    count = sql_conn.execute("SELECT count(*) FROM news_articles WHERE tickers @> ARRAY['T42']::varchar[]"
                             ).fetchone()[0]
    assert count == sum(1 for i in range(n) if 42 in (i % 5000, (i * 7) % 5000))


def test_market_status_maps_the_snapshot_to_the_four_markets(db, sql_conn, fake_polygon):
    resources = market_resources(db, fake_polygon)
    materialize([market_status], resources)
    rows = {r[0]: r[1:] for r in sql_conn.execute(
        "SELECT market, timestamp, status, next_open, next_close, early_close FROM market_status")}
    at = datetime(2022, 4, 28, 20, 48, 8, tzinfo=UTC)  # serverTime 16:48:08-04:00
    assert {m: r[1] for m, r in rows.items()} == {"us_equity": "extended_hours", "us_options": "closed",
                                                  "forex": "open", "crypto": "open"}
    assert all(r[0] == at for r in rows.values())
    assert rows["us_equity"][2:4] == (datetime(2022, 4, 29, 13, 30, tzinfo=UTC), datetime(2022, 4, 29, 20, 0,
                                                                                          tzinfo=UTC))
    assert rows["crypto"][2] is None
    materialize([market_status], resources)
    assert sql_conn.execute("SELECT count(*) FROM market_status").fetchone()[0] == 4


def test_market_holidays_combine_polygon_upcoming_and_the_calendar(db, sql_conn, fake_polygon):
    resources = market_resources(db, fake_polygon)
    first = materialize([market_holidays], resources)["market_holidays"]
    thanksgiving = sql_conn.execute(
        "SELECT name, status, open_time, close_time, year FROM market_holidays"
        " WHERE date = '2022-11-25' ORDER BY market").fetchall()
    assert thanksgiving == [("Thanksgiving", "early_close", time(9, 30), time(13, 0), 2022)] * 2
    memorial = sql_conn.execute("SELECT market, name, status FROM market_holidays WHERE date = '2022-05-30'"
                                " ORDER BY market").fetchall()
    assert memorial == [("us_equity", "Memorial Day", "closed"), ("us_options", "Memorial Day", "closed")]
    past = sql_conn.execute("SELECT name, status FROM market_holidays WHERE date = '2020-12-25'"
                            " AND market = 'us_equity'").fetchone()
    assert past == ("Christmas", "closed")
    assert first["announced_by_polygon"] == 2 * 7  # 14 rows for 7 dates from NYSE and NASDAQ, as 2 markets
    before = snapshot(sql_conn, "market_holidays", "date, market")
    again = materialize([market_holidays], resources)["market_holidays"]
    assert (again["rows_inserted"], again["rows_updated"]) == (0, 0)
    assert snapshot(sql_conn, "market_holidays", "date, market") == before


def test_the_sensor_asks_for_details_of_tickers_seen_in_news(db, sql_conn, fake_polygon):
    resources = market_resources(db, fake_polygon, stocks="AAPL")
    db.write("news_articles", pl.DataFrame({
        "article_id": ["n1"], "published_utc": [datetime.now(UTC)], "title": ["t"], "article_url": ["u"],
        "tickers": [["NFLX", "AAPL", "BRK.B", "X:BTCUSD"]], "source": ["s"]}))
    materialize([ticker_details], resources)
    with dg.build_sensor_context(resources={"timescale": db}) as context:
        request = new_tickers_sensor(context)
    tickers = request.run_config["ops"]["ticker_details"]["config"]["tickers"]
    assert tickers == ["BRK.B", "NFLX"]
    materialize([ticker_details], resources, run_config=request.run_config)
    assert sql_conn.execute("SELECT count(*) FROM ticker_details").fetchone()[0] == 3
    with dg.build_sensor_context(resources={"timescale": db}) as context:
        assert isinstance(new_tickers_sensor(context), dg.SkipReason)
