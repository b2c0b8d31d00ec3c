"""Our TimescaleDB SQL against real TimescaleDB code (2.23 in PGlite, tests/timescale_server).

Run with ``pytest -m timescale``. The server takes one connection at a time and no COPY, so these tests
run the product's SQL (migrations, merge statements, continuous aggregates, the plain-path roll-up)
with rows inserted by INSERT; the COPY-based bulk paths are tested on PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import polars as pl
import psycopg
import pytest
from psycopg import sql

from ats_pipelines.db import migrate, writer
from ats_pipelines.db.catalog import load_table_info
from ats_pipelines.db.frames import prepare_frame
from ats_pipelines.db.mode import detect_mode
from ats_pipelines.defs import market_data
from ats_pipelines.resources import TimescaleResource
from ats_pipelines.sql_files import read_sql, read_sql_beside
from tests.conftest import _timescale_required
from tests.spec_schema import spec_hypertable_intervals

pytestmark = pytest.mark.timescale

DERIVE_BARS_SQL = read_sql_beside(market_data.__file__, "derive_bars.sql")
CAGGS = {"stock_aggs_5m": "5 minutes", "stock_aggs_15m": "15 minutes", "stock_aggs_1h": "1 hour"}
T0 = datetime(2024, 3, 8, 14, 30, tzinfo=UTC)
BAR_COLUMNS = ["timestamp", "symbol", "open", "high", "low", "close", "volume", "vwap", "transactions", "timeframe"]


@contextmanager
def connect(url: str) -> Iterator[psycopg.Connection]:
    """A connection to the test server. Its clients share one backend session, so a statement prepared by one
    connection would clash with the next one's: server-side prepared statements stay off."""
    with psycopg.connect(url, autocommit=True, prepare_threshold=None) as conn:
        yield conn


def minute_bars(minutes: int = 150, symbols: tuple[str, ...] = ("AAPL", "MSFT", "SPY")) -> pl.DataFrame:
    rows = []
    for s_index, symbol in enumerate(symbols):
        for i in range(minutes):
            if i % 17 == 5:
                continue  # minutes without trades have no bar
            price = 100 + s_index * 50 + (i * 37 % 23) / 10
            rows.append({
                "timestamp": T0 + timedelta(minutes=i), "symbol": symbol, "open": price, "high": price + 0.7,
                "low": price - 0.6, "close": price + 0.1, "volume": 1000 + i * 13 % 700,
                "vwap": None if i % 11 == 3 else price + 0.05, "transactions": 5 + i % 9, "timeframe": "1m",
            })
    return pl.DataFrame(rows).with_columns(pl.col("transactions").cast(pl.Int32))


def insert_rows(cur: psycopg.Cursor, table: str, df: pl.DataFrame) -> None:
    """INSERT rows one statement at a time: this server takes neither COPY nor the large protocol buffers
    that executemany's pipeline sends."""
    statement = sql.SQL("INSERT INTO {} ({}) VALUES ({})").format(
        sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, df.columns)),
        sql.SQL(", ").join(sql.Placeholder() * len(df.columns)),
    )
    for row in df.rows():
        cur.execute(statement, row)


def chunk_interval_mismatches(conn: psycopg.Connection) -> dict[str, tuple[timedelta | None, timedelta | None]]:
    """{hypertable: (spec interval, actual interval)} for every table whose chunking differs from the spec."""
    actual = dict(conn.execute(
        "SELECT hypertable_name, time_interval FROM timescaledb_information.dimensions"
        " WHERE column_name = 'timestamp' AND hypertable_name NOT LIKE '\\_%'"
    ).fetchall())
    expected = {
        table: timedelta(**{unit if unit.endswith("s") else unit + "s": int(n)})
        for table, (n, unit) in ((t, i.split()) for t, i in spec_hypertable_intervals().items())
    }
    return {t: (expected.get(t), actual.get(t)) for t in expected.keys() | actual.keys()
            if expected.get(t) != actual.get(t)}


def test_mode_detection_recognises_timescaledb(timescale_url):
    with connect(timescale_url) as conn:
        mode = detect_mode(conn)
        info = load_table_info(conn, "stock_aggs")
    assert mode.is_timescale and mode.timescale_version.startswith("2.23")
    assert mode.describe().startswith("TimescaleDB mode: TimescaleDB 2.23")
    assert info.key == ("symbol", "timestamp", "timeframe", "adjusted")
    resource = TimescaleResource(database_url=timescale_url, pool_size=1)
    try:
        assert resource.mode().kind == "timescale"
    finally:
        resource.close()


def test_hypertables_have_the_spec_chunk_intervals(timescale_url):
    with connect(timescale_url) as conn:
        assert chunk_interval_mismatches(conn) == {}


def test_compression_and_policies_are_registered(timescale_url):
    with connect(timescale_url) as conn:
        settings = {r[0]: (r[1], r[2]) for r in conn.execute(
            "SELECT hypertable::text, segmentby, orderby FROM timescaledb_information.hypertable_compression_settings"
            " WHERE hypertable::text NOT LIKE '\\_timescaledb\\_internal.%'"  # caggs' own materialization tables
        )}
        jobs = conn.execute(
            "SELECT proc_name, hypertable_name, config FROM timescaledb_information.jobs"
            " WHERE proc_name LIKE 'policy_%' AND hypertable_name IS NOT NULL"
        ).fetchall()
        cagg_sources = dict(conn.execute(
            "SELECT view_name, hypertable_name FROM timescaledb_information.continuous_aggregates"
        ).fetchall())
    hypertables = set(spec_hypertable_intervals())
    assert set(settings) == hypertables
    for table, (segmentby, orderby) in settings.items():
        assert segmentby, table
        assert '"timestamp" DESC' in orderby, table
    compression = {h: c["compress_after"] for p, h, c in jobs if p == "policy_compression"}
    assert set(compression) == hypertables
    # Market data is re-fetched for 7 days to land late corrections: those chunks must stay uncompressed.
    for table in ("stock_aggs", "crypto_aggs", "options_aggs"):
        assert compression[table] == "14 days"
    retention = {h: c["drop_after"] for p, h, c in jobs if p == "policy_retention"}
    assert retention == {"quotes": "90 days", "trades": "365 days", "system_metrics": "30 days"}
    refresh = {h for p, h, _ in jobs if p == "policy_refresh_continuous_aggregate"}
    assert refresh == set(CAGGS)
    assert cagg_sources == {name: "stock_aggs" for name in CAGGS}


def test_continuous_aggregates_equal_the_plain_postgresql_roll_up(timescale_url, db):
    bars = minute_bars()
    db.write("stock_aggs", bars)  # the plain-PostgreSQL path, through the resource
    params = {"start": T0, "end": T0 + timedelta(hours=3), "symbols": ["AAPL", "MSFT", "SPY"]}
    with connect(timescale_url) as conn:
        with conn.cursor() as cur:
            insert_rows(cur, "stock_aggs", bars)
        cagg_rows, timescale_rollup = {}, {}
        for view, bucket in CAGGS.items():
            conn.execute(sql.SQL("CALL refresh_continuous_aggregate({}, NULL, NULL)").format(sql.Literal(view)))
            cagg_rows[view] = conn.execute(sql.SQL(
                "SELECT timestamp, symbol, adjusted, open, high, low, close, volume, vwap, transactions, bar_count"
                " FROM {} ORDER BY symbol, adjusted, timestamp").format(sql.Identifier(view))).fetchall()
            timescale_rollup[view] = conn.execute(DERIVE_BARS_SQL, {**params, "bucket": bucket}).fetchall()
        conn.execute("TRUNCATE stock_aggs")
        for view in CAGGS:
            conn.execute(sql.SQL("CALL refresh_continuous_aggregate({}, NULL, NULL)").format(sql.Literal(view)))
    with db.connection() as conn:
        plain_rollup = {view: conn.execute(DERIVE_BARS_SQL, {**params, "bucket": bucket}).fetchall()
                        for view, bucket in CAGGS.items()}

    def normalised(rows):  # vwap is stored as NUMERIC(16,6): compare at that precision
        return [r[:8] + (None if r[8] is None else r[8].quantize(Decimal("0.000001")),) + r[9:] for r in rows]

    assert len(cagg_rows["stock_aggs_5m"]) == 3 * 30 and len(cagg_rows["stock_aggs_1h"]) == 3 * 3
    assert sum(r[10] for r in cagg_rows["stock_aggs_15m"]) == bars.height
    for view in CAGGS:
        assert normalised(cagg_rows[view]) == normalised(plain_rollup[view]), view
        assert normalised(cagg_rows[view]) == normalised(timescale_rollup[view]), view


def test_idempotent_upserts_work_into_compressed_chunks(timescale_url):
    bars = minute_bars(minutes=60, symbols=("AAPL", "MSFT"))
    with connect(timescale_url) as conn:
        with conn.cursor() as cur:
            insert_rows(cur, "stock_aggs", bars)
        conn.execute("SELECT compress_chunk(c) FROM show_chunks('stock_aggs') c")
        assert conn.execute(
            "SELECT bool_and(is_compressed) FROM timescaledb_information.chunks WHERE hypertable_name = 'stock_aggs'"
        ).fetchone()[0] is True
        info = load_table_info(conn, "stock_aggs")

        def merge(frame: pl.DataFrame) -> tuple[int, int]:
            """The product's merge statements, with the stage filled by INSERT instead of COPY."""
            prepared = prepare_frame(info, frame)
            statements = writer.merge_statements(info, prepared.columns, time_bounded=True)
            with conn.transaction(), conn.cursor() as cur:
                statement, params = writer.stored_rows_statement(info, prepared)  # the read of the diff path
                low, high = prepared.time_range
                overlapped = bars.filter(pl.col("timestamp").is_between(low, high),
                                         pl.col("symbol").is_in(frame["symbol"].unique().to_list()))
                assert len(cur.execute(statement, params).fetchall()) == overlapped.height
                cur.execute(statements.create_stage)
                insert_rows(cur, writer.STAGE_TABLE, frame)
                cur.execute(statements.update, prepared.time_range)
                updated = cur.rowcount
                cur.execute(statements.insert, prepared.time_range)
                inserted = cur.rowcount
                cur.execute(statements.drop_stage)
            return inserted, updated

        assert merge(bars.head(20)) == (0, 0)
        changed = bars.head(3).with_columns(pl.when(pl.int_range(3) == 0).then(999.0).otherwise(pl.col("close"))
                                            .alias("close"))
        new_row = bars.tail(1).with_columns(pl.col("timestamp") + timedelta(hours=2))
        assert merge(pl.concat([changed, new_row])) == (1, 1)
        total, distinct = conn.execute(
            "SELECT count(*), count(DISTINCT (symbol, timestamp, timeframe, adjusted)) FROM stock_aggs"
        ).fetchone()
        assert total == distinct == bars.height + 1
        assert conn.execute("SELECT count(*) FROM stock_aggs WHERE close = 999").fetchone()[0] == 1
        conn.execute("SELECT decompress_chunk(c, true) FROM show_chunks('stock_aggs') c")
        conn.execute("TRUNCATE stock_aggs")


def test_range_replace_works_into_compressed_feature_chunks(timescale_url):
    """The product's replace statements (probe, delete-absent, update, insert) on the features hypertable with
    every chunk compressed: a changed value, a vanished row and a new row, then a re-run that writes nothing."""
    t1 = T0 + timedelta(minutes=1)
    rows = pl.DataFrame({
        "timestamp": [T0, T0, t1, t1], "symbol": ["AAPL", "MSFT", "AAPL", "MSFT"],
        "feature_name": ["rsi_14"] * 4, "feature_value": [55.5, 44.4, 56.0, 43.0],
        "timeframe": ["1m"] * 4, "feature_group": ["momentum"] * 4,
    })
    with connect(timescale_url) as conn:
        with conn.cursor() as cur:
            insert_rows(cur, "features", rows)
        conn.execute("SELECT compress_chunk(c) FROM show_chunks('features') c")
        info = load_table_info(conn, "features")
        window = [T0, T0 + timedelta(days=1), ["1m"]]

        def replace(frame: pl.DataFrame) -> tuple[int, int, int]:
            prepared = prepare_frame(info, frame)
            statements = writer.replace_statements(info, prepared.columns, ["timeframe"])
            with conn.transaction(), conn.cursor() as cur:
                cur.execute(statements.probe, window)
                assert cur.fetchone()[0]
                cur.execute(statements.merge.create_stage)
                insert_rows(cur, writer.STAGE_TABLE, frame)
                cur.execute(statements.delete_absent, window)
                deleted = cur.rowcount
                cur.execute(statements.merge.update, prepared.time_range)
                updated = cur.rowcount
                cur.execute(statements.merge.insert, prepared.time_range)
                inserted = cur.rowcount
                cur.execute(statements.merge.drop_stage)
            return deleted, updated, inserted

        new = rows.filter(pl.col("symbol") != "MSFT").with_columns(
            pl.when(pl.col("timestamp") == T0).then(60.0).otherwise(pl.col("feature_value")).alias("feature_value"))
        new = pl.concat([new, new.head(1).with_columns(pl.lit("NVDA").alias("symbol"))])
        assert replace(new) == (2, 1, 1)
        assert replace(new) == (0, 0, 0)
        stored = conn.execute("SELECT symbol, timestamp, feature_value::float8 FROM features ORDER BY 1, 2").fetchall()
        assert stored == [("AAPL", T0, 60.0), ("AAPL", t1, 56.0), ("NVDA", T0, 60.0)]
        conn.execute("SELECT decompress_chunk(c, true) FROM show_chunks('features') c")
        conn.execute("TRUNCATE features")


def test_a_wrong_chunk_interval_in_the_migration_is_caught(timescale_url):
    good = read_sql("schema/0002_timescale.up.sql")
    wrong = good.replace("('quotes',                 INTERVAL '1 hour')",
                         "('quotes',                 INTERVAL '1 day')")
    assert wrong != good
    with _timescale_required():
        migrate.downgrade(timescale_url, "base")
    migrate.upgrade(timescale_url, "0001")
    with connect(timescale_url) as conn, conn.transaction():  # DDL is transactional: apply, look, roll back
        conn.execute(wrong)
        mismatches = chunk_interval_mismatches(conn)
        raise psycopg.Rollback()
    assert mismatches == {"quotes": (timedelta(hours=1), timedelta(days=1))}
    with _timescale_required():
        migrate.upgrade(timescale_url)
    with connect(timescale_url) as conn:
        assert chunk_interval_mismatches(conn) == {}


def test_a_broken_timescale_statement_fails_the_upgrade_and_keeps_the_revision(timescale_url, monkeypatch):
    from ats_pipelines.db import migration_ops

    def broken(path: str) -> str:
        text = read_sql(path)
        return text.replace("compress_segmentby = 'symbol'", "compress_segmentby = 'no_such_column'")

    with _timescale_required():
        migrate.downgrade(timescale_url, "0001")
        monkeypatch.setattr(migration_ops, "read_sql", broken)
        with pytest.raises(psycopg.Error, match="no_such_column"):
            migrate.upgrade(timescale_url)
        assert migrate.current_revision(timescale_url) == "0001"
        monkeypatch.undo()
        migrate.upgrade(timescale_url)
    assert migrate.current_revision(timescale_url) == migrate.head_revision()


def test_downgrade_removes_the_timescale_features_and_upgrade_restores_them(timescale_url):
    with _timescale_required():
        migrate.downgrade(timescale_url, "0001")
    with connect(timescale_url) as conn:
        assert conn.execute("SELECT count(*) FROM timescaledb_information.continuous_aggregates").fetchone()[0] == 0
        assert conn.execute(
            "SELECT count(*) FROM timescaledb_information.jobs WHERE proc_name LIKE 'policy_%'"
            " AND hypertable_name IS NOT NULL"
        ).fetchone()[0] == 0
        assert conn.execute(
            "SELECT count(*) FROM timescaledb_information.hypertables WHERE compression_enabled"
        ).fetchone()[0] == 0
    with _timescale_required():
        migrate.downgrade(timescale_url, "base")
    with connect(timescale_url) as conn:
        assert conn.execute("SELECT count(*) FROM timescaledb_information.hypertables").fetchone()[0] == 0
        assert conn.execute(
            "SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'alembic_version'"
        ).fetchone()[0] == 0
    with _timescale_required():
        migrate.upgrade(timescale_url)
    with connect(timescale_url) as conn:
        assert chunk_interval_mismatches(conn) == {}
        assert conn.execute("SELECT count(*) FROM timescaledb_information.continuous_aggregates").fetchone()[0] == 3


def compression_state(conn: psycopg.Connection, table: str, column: str) -> psycopg.Cursor:
    """A hypertable's segmentby, orderby, compress_after, whether every chunk is compressed, and the type of
    ``column``: what a migration that suspends compression must give back."""
    return conn.execute(
        "SELECT s.segmentby, s.orderby, j.config ->> 'compress_after',"
        " (SELECT bool_and(is_compressed) FROM timescaledb_information.chunks WHERE hypertable_name = %(table)s),"
        " (SELECT format_type(atttypid, atttypmod) FROM pg_attribute"
        "  WHERE attrelid = %(table)s::regclass AND attname = %(column)s)"
        " FROM timescaledb_information.hypertable_compression_settings s"
        " JOIN timescaledb_information.jobs j ON j.hypertable_name = %(table)s AND j.proc_name = 'policy_compression'"
        " WHERE s.hypertable = %(table)s::regclass", {"table": table, "column": column})


def test_widening_the_tick_symbols_keeps_compression_and_the_compressed_rows(timescale_url):
    """Migration 0009 on hypertables with compression enabled and a compressed chunk: down to 0008 and up
    again keeps the rows, the segmentby/orderby, the policy and the compressed state; then an OCC-ticker
    trade lands in the compressed chunk."""
    trade = {"timestamp": T0, "symbol": "AAPL", "price": 171.5, "size": 100, "exchange": "4", "trade_id": "t1"}
    with connect(timescale_url) as conn:
        with conn.cursor() as cur:
            insert_rows(cur, "trades", pl.DataFrame([trade]))
        conn.execute("SELECT compress_chunk(c) FROM show_chunks('trades') c")
        before = compression_state(conn, "trades", "symbol").fetchone()
    assert before[3] is True and before[4] == "character varying(32)"
    with _timescale_required():
        migrate.downgrade(timescale_url, "0008")
    with connect(timescale_url) as conn:
        assert compression_state(conn, "trades", "symbol").fetchone() == (*before[:4], "character varying(16)")
    with _timescale_required():
        migrate.upgrade(timescale_url)
    with connect(timescale_url) as conn:
        assert compression_state(conn, "trades", "symbol").fetchone() == before
        with conn.cursor() as cur:
            insert_rows(cur, "trades", pl.DataFrame([{**trade, "symbol": "O:SPY240315C00500000", "trade_id": "h1"}]))
        assert conn.execute("SELECT symbol, price::float8 FROM trades ORDER BY symbol").fetchall() == [
            ("AAPL", 171.5), ("O:SPY240315C00500000", 171.5)]
        conn.execute("SELECT decompress_chunk(c, true) FROM show_chunks('trades') c")
        conn.execute("TRUNCATE trades")


def test_fractional_sizes_migration_keeps_compression_and_the_compressed_rows(timescale_url):
    """Migration 0011 on compressed tick hypertables: down to 0010 (sizes rounded back to INTEGER) and up again
    keeps the rows, segmentby/orderby, the policy and the compressed state; then 0.06 lands exactly."""
    trade = {"timestamp": T0, "symbol": "X:BTCUSD", "price": 64000.5, "size": 2, "exchange": "1", "trade_id": "c1"}
    with connect(timescale_url) as conn:
        with conn.cursor() as cur:
            insert_rows(cur, "trades", pl.DataFrame([trade]))
        conn.execute("SELECT compress_chunk(c) FROM show_chunks('trades') c")
        before = compression_state(conn, "trades", "size").fetchone()
    assert before[3] is True and before[4] == "numeric(20,8)"
    with _timescale_required():
        migrate.downgrade(timescale_url, "0010")
    with connect(timescale_url) as conn:
        assert compression_state(conn, "trades", "size").fetchone() == (*before[:4], "integer")
        assert conn.execute("SELECT to_regclass('stream_bar_watermarks')").fetchone()[0] is None
    with _timescale_required():
        migrate.upgrade(timescale_url)
    with connect(timescale_url) as conn:
        assert compression_state(conn, "trades", "size").fetchone() == before
        with conn.cursor() as cur:
            insert_rows(cur, "trades", pl.DataFrame([{**trade, "size": 0.06, "trade_id": "c2"}]))
        assert conn.execute("SELECT trade_id, size FROM trades ORDER BY trade_id").fetchall() == [
            ("c1", Decimal("2")), ("c2", Decimal("0.06"))]
        conn.execute("SELECT decompress_chunk(c, true) FROM show_chunks('trades') c")
        conn.execute("TRUNCATE trades")
