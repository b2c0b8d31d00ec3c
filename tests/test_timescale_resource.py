"""TimescaleResource against the real PostgreSQL: idempotent writes, replaces, bad input, reads, mode."""

from __future__ import annotations

import json
import threading
import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import polars as pl
import pytest

from ats_pipelines.db.frames import FrameValidationError

T0 = datetime(2024, 3, 6, 14, 30, tzinfo=UTC)


def bars(n: int = 10, symbols: tuple[str, ...] = ("AAPL", "MSFT"), start: datetime = T0, close: float = 100.5
         ) -> pl.DataFrame:
    rows = [
        {
            "timestamp": start + timedelta(minutes=i), "symbol": s, "open": 100.0 + i, "high": 101.0 + i,
            "low": 99.0 + i, "close": close + i, "volume": 1000 + i, "vwap": 100.25 + i, "transactions": 10 + i,
            "timeframe": "1m",
        }
        for s in symbols for i in range(n)
    ]
    return pl.DataFrame(rows).with_columns(pl.col("transactions").cast(pl.Int32))


def table_rows(conn, table: str, order: str = "symbol, timestamp") -> list[tuple]:
    return conn.execute(f"SELECT * FROM {table} ORDER BY {order}").fetchall()


def test_writing_the_same_frame_twice_leaves_the_same_rows(db, sql_conn):
    frame = bars()
    first = db.write("stock_aggs", frame)
    after_first = table_rows(sql_conn, "stock_aggs")
    second = db.write("stock_aggs", frame)
    assert first.inserted == 20 and first.path == "copy"
    assert (second.inserted, second.updated, second.unchanged, second.path) == (0, 0, 20, "merge")
    assert table_rows(sql_conn, "stock_aggs") == after_first
    assert len(after_first) == 20


def test_an_overlapping_load_leaves_exactly_the_batch_and_stages_only_changed_rows(db, sql_conn):
    """An overlapping backfill: the earlier 60 of 100 minutes are stored (one of them with an old value, and one
    stored row the batch does not bring); the batch's 40 new rows are COPYed, the one changed row updated, the
    rest left alone, and the row outside the batch stays."""
    frame = bars(n=100)
    stored = frame.head(60).with_columns(  # AAPL's first 60 minutes
        pl.when(pl.col("timestamp") == T0).then(1.5).otherwise(pl.col("close")).alias("close"))
    db.write("stock_aggs", pl.concat([stored, bars(n=1, symbols=("SPY",))]))
    result = db.write("stock_aggs", frame)
    assert (result.path, result.inserted, result.updated, result.unchanged) == ("merge", 140, 1, 59)
    rows = sql_conn.execute("SELECT symbol, timestamp, close::float8, volume FROM stock_aggs"
                            " WHERE symbol <> 'SPY' ORDER BY symbol, timestamp").fetchall()
    assert rows == [(r["symbol"], r["timestamp"], r["close"], r["volume"])
                    for r in frame.sort("symbol", "timestamp").iter_rows(named=True)]
    assert sql_conn.execute("SELECT count(*) FROM stock_aggs WHERE symbol = 'SPY'").fetchone()[0] == 1
    again = db.write("stock_aggs", frame)
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 200)


def test_values_are_stored_exactly_with_defaults_filled(db, sql_conn):
    db.write("stock_aggs", bars(n=1, symbols=("AAPL",)))
    row = sql_conn.execute(
        "SELECT timestamp, open, close, volume, vwap, source, multiplier, timespan_unit, adjusted, otc FROM stock_aggs"
    ).fetchone()
    assert row == (T0, Decimal("100.000000"), Decimal("100.500000"), 1000, Decimal("100.250000"),
                   "polygon", 1, "minute", False, False)


def test_a_changed_value_updates_only_that_row(db, sql_conn):
    db.write("stock_aggs", bars())
    corrected = bars().with_columns(
        pl.when((pl.col("symbol") == "AAPL") & (pl.col("timestamp") == T0)).then(555.5).otherwise(pl.col("close"))
        .alias("close")
    )
    result = db.write("stock_aggs", corrected)
    assert (result.inserted, result.updated, result.unchanged) == (0, 1, 19)
    assert sql_conn.execute(
        "SELECT close FROM stock_aggs WHERE symbol = 'AAPL' AND timestamp = %s", (T0,)
    ).fetchone()[0] == Decimal("555.500000")
    assert sql_conn.execute("SELECT count(*) FROM stock_aggs").fetchone()[0] == 20


def test_overlapping_batch_inserts_only_the_new_keys(db, sql_conn):
    db.write("stock_aggs", bars(n=10))
    result = db.write("stock_aggs", bars(n=15))
    assert (result.path, result.inserted, result.updated) == ("merge", 10, 0)
    assert sql_conn.execute("SELECT count(*) FROM stock_aggs").fetchone()[0] == 30


def test_repeated_keys_inside_a_batch_keep_the_last_row(db, sql_conn):
    frame = pl.concat([bars(n=3, symbols=("AAPL",)), bars(n=1, symbols=("AAPL",), close=200.0)])
    result = db.write("stock_aggs", frame)
    assert (result.rows, result.duplicates_dropped) == (3, 1)
    assert sql_conn.execute(
        "SELECT close FROM stock_aggs WHERE timestamp = %s", (T0,)
    ).fetchone()[0] == Decimal("200.000000")


def test_raw_and_adjusted_bars_coexist(db, sql_conn):
    db.write("stock_aggs", bars(n=2, symbols=("AAPL",)))
    db.write("stock_aggs", bars(n=2, symbols=("AAPL",)).with_columns(pl.lit(True).alias("adjusted")))
    assert sql_conn.execute("SELECT count(*) FROM stock_aggs WHERE adjusted").fetchone()[0] == 2
    assert sql_conn.execute("SELECT count(*) FROM stock_aggs").fetchone()[0] == 4


@pytest.mark.parametrize(
    ("change", "column", "reason"),
    [
        (lambda df: df.with_columns(pl.lit(1).alias("bogus")), "bogus", "no such column"),
        (lambda df: df.with_columns(pl.col("volume").cast(pl.Float64)), "volume", "integer"),
        (lambda df: df.with_columns(pl.col("open").cast(pl.String)), "open", "numeric"),
        (lambda df: df.with_columns(pl.col("timestamp").dt.replace_time_zone(None)), "timestamp", "naive"),
        (lambda df: df.drop("timeframe"), "timeframe", "missing"),
        (lambda df: df.with_columns(pl.when(pl.col("open") > 105).then(None).otherwise(pl.col("low")).alias("low")),
         "low", "NULL"),
        (lambda df: df.with_columns(pl.lit("X" * 17).alias("symbol")), "symbol", "exceeds the limit of 16"),
        (lambda df: df.with_columns(pl.lit(1e12).alias("high")), "high", "does not fit numeric(16,6)"),
        (lambda df: df.with_columns(pl.lit(float("nan")).alias("vwap")), "vwap", "NaN"),
    ],
)
def test_bad_input_names_table_and_column_and_writes_nothing(db, sql_conn, change, column, reason):
    with pytest.raises(FrameValidationError) as raised:
        db.write("stock_aggs", change(bars()))
    assert raised.value.table == "stock_aggs" and raised.value.column == column
    assert reason in str(raised.value) and str(raised.value).startswith(f"stock_aggs.{column}:")
    assert sql_conn.execute("SELECT count(*) FROM stock_aggs").fetchone()[0] == 0


def test_unknown_table_is_a_clear_error(db):
    with pytest.raises(LookupError, match="no_such_table"):
        db.write("no_such_table", bars())


def test_replace_range_swaps_a_partition_in_one_transaction(db, sql_conn):
    db.write("stock_aggs", bars(n=10, symbols=("AAPL", "MSFT")))
    day_end = T0 + timedelta(days=1)
    fresh = bars(n=4, symbols=("AAPL",), close=300.0)
    result = db.replace_range("stock_aggs", fresh, T0, day_end, match={"symbol": ["AAPL"], "timeframe": ["1m"]})
    # Only the difference is written: 6 bars gone, the 4 kept ones changed their close.
    assert (result.path, result.deleted, result.updated, result.inserted) == ("replace", 6, 4, 0)
    again = db.replace_range("stock_aggs", fresh, T0, day_end, match={"symbol": ["AAPL"], "timeframe": ["1m"]})
    assert (again.deleted, again.updated, again.inserted, again.unchanged) == (0, 0, 0, 4)
    counts = dict(sql_conn.execute("SELECT symbol, count(*) FROM stock_aggs GROUP BY symbol").fetchall())
    assert counts == {"AAPL": 4, "MSFT": 10}
    assert sql_conn.execute("SELECT min(close) FROM stock_aggs WHERE symbol = 'AAPL'").fetchone()[0] == Decimal("300")


def test_replace_range_refuses_rows_outside_the_range(db, sql_conn):
    db.write("stock_aggs", bars(n=2))
    with pytest.raises(FrameValidationError, match="outside"):
        db.replace_range("stock_aggs", bars(n=3), T0, T0 + timedelta(minutes=2))
    with pytest.raises(FrameValidationError, match="outside the replaced values"):
        db.replace_range("stock_aggs", bars(n=1), T0, T0 + timedelta(days=1), match={"symbol": ["AAPL"]})
    assert sql_conn.execute("SELECT count(*) FROM stock_aggs").fetchone()[0] == 4


def test_concurrent_writers_of_the_same_rows_never_duplicate(db, database_url, sql_conn):
    from ats_pipelines.resources import TimescaleResource

    frame = bars(n=200, symbols=("AAPL", "MSFT", "NVDA"))
    errors: list[BaseException] = []

    def write() -> None:
        resource = TimescaleResource(database_url=database_url)
        try:
            resource.write("stock_aggs", frame)
        except BaseException as exc:  # noqa: BLE001 - collected for the assertion below
            errors.append(exc)
        finally:
            resource.close()

    threads = [threading.Thread(target=write) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sql_conn.execute("SELECT count(*) FROM stock_aggs").fetchone()[0] == 600


def test_arrays_and_json_round_trip_and_upsert_by_primary_key(db, sql_conn):
    articles = pl.DataFrame({
        "article_id": ["a1", "a2"],
        "published_utc": [T0, T0 + timedelta(hours=1)],
        "title": ['Apple "beats"', "Chips, again"],
        "article_url": ["https://example.com/1", "https://example.com/2"],
        "tickers": [["AAPL", "MSFT"], ["NVDA"]],
        "keywords": [["earnings", 'quote"d', "back\\slash", "comma,here"], []],
        "source": ["Benzinga", "Zacks"],
    })
    db.write("news_articles", articles)
    db.write("news_articles", articles.with_columns(pl.lit("Updated").alias("title")).head(1))
    rows = sql_conn.execute("SELECT article_id, title, tickers, keywords FROM news_articles ORDER BY 1").fetchall()
    assert rows == [
        ("a1", "Updated", ["AAPL", "MSFT"], ["earnings", 'quote"d', "back\\slash", "comma,here"]),
        ("a2", "Chips, again", ["NVDA"], []),
    ]
    details = pl.DataFrame({
        "ticker": ["AAPL"], "name": ["Apple Inc."], "market": ["stocks"], "locale": ["us"], "type": ["CS"],
        "currency": ["usd"], "last_updated": [T0], "list_date": [date(1980, 12, 12)],
        "address": [json.dumps({"city": "Cupertino", "state": "CA"})],
    })
    db.write("ticker_details", details)
    db.write("ticker_details", details)
    assert sql_conn.execute("SELECT address->>'city', list_date FROM ticker_details").fetchall() == [
        ("Cupertino", date(1980, 12, 12))
    ]


def test_optional_key_dimensions_are_matched_as_equal_when_null(db, sql_conn):
    strategy = str(uuid.uuid4())
    metrics = pl.DataFrame({
        "timestamp": [T0, T0, T0],
        "metric_name": ["pnl", "pnl", "pnl"],
        "metric_value": [1.5, 2.5, 3.5],
        "symbol": [None, "AAPL", None],
        "strategy_id": [None, None, strategy],
    })
    db.write("trading_metrics", metrics)
    result = db.write("trading_metrics", metrics.with_columns(pl.col("metric_value") + 1))
    assert (result.inserted, result.updated) == (0, 3)
    totals = sql_conn.execute("SELECT count(*), sum(metric_value) FROM trading_metrics").fetchone()
    assert totals == (3, Decimal("10.5"))


def test_uuid_columns_are_checked(db, sql_conn):
    alert = {
        "timestamp": [T0], "alert_type": ["gap"], "severity": ["warning"], "message": ["missing bars"],
        "component": ["market_data"], "status": ["open"],
    }
    with pytest.raises(FrameValidationError, match="alerts.alert_id: value is not a UUID"):
        db.write("alerts", pl.DataFrame({"alert_id": ["not-a-uuid"], **alert}))
    db.write("alerts", pl.DataFrame({"alert_id": [str(uuid.uuid4())], **alert}))
    assert sql_conn.execute("SELECT count(*) FROM alerts").fetchone()[0] == 1


def test_read_returns_a_polars_frame(db):
    db.write("stock_aggs", bars(n=3, symbols=("AAPL",)))
    frame = db.read("SELECT symbol, timestamp, volume FROM stock_aggs WHERE symbol = %s ORDER BY timestamp", ["AAPL"])
    assert frame.columns == ["symbol", "timestamp", "volume"]
    assert frame["volume"].to_list() == [1000, 1001, 1002]
    assert frame["timestamp"][0] == T0


def test_mode_says_plain_postgresql_here(db):
    mode = db.mode()
    assert mode.kind == "plain" and mode.timescale_version is None
    assert mode.describe().startswith("plain PostgreSQL mode")


def test_safe_url_hides_the_password():
    from ats_pipelines.resources import TimescaleResource

    resource = TimescaleResource(database_url="postgresql://writer:s3cret@db.internal:5432/ats?sslmode=require")
    assert resource.safe_url == "postgresql://writer:***@db.internal:5432/ats"


def test_stamp_columns_change_only_along_with_the_data(db, sql_conn):
    def details(name: str, seen: datetime) -> pl.DataFrame:
        return pl.DataFrame({"ticker": ["ZZZ"], "name": [name], "market": ["stocks"], "locale": ["us"],
                             "type": ["CS"], "currency": ["usd"], "last_updated": [seen]})

    def write(frame: pl.DataFrame):
        return db.write_prepared("ticker_details", db.prepare("ticker_details", frame, frozenset({"last_updated"})))

    t1, t2, t3 = (datetime(2024, 1, d, tzinfo=UTC) for d in (1, 2, 3))
    write(details("Zed Corp.", t1))
    second = write(details("Zed Corp.", t2))  # fetched again, nothing new
    assert (second.inserted, second.updated) == (0, 0)
    assert sql_conn.execute("SELECT last_updated FROM ticker_details").fetchone()[0] == t1
    third = write(details("Zed Holdings", t3))  # a real change carries its stamp
    assert third.updated == 1
    assert sql_conn.execute("SELECT name, last_updated FROM ticker_details").fetchone() == ("Zed Holdings", t3)
