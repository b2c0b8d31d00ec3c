"""The migrated database against the spec: tables, columns, types, NOT NULL, defaults, keys, indexes."""

from __future__ import annotations

import re

import psycopg
import pytest

from ats_pipelines.db import migrate
from tests.conftest import recreate_database
from tests.spec_schema import pg_type, spec_hypertable_intervals, spec_tables

# Where the schema deliberately departs from the spec (docs/schema.md says why).
KEY_COLUMNS_MADE_NOT_NULL = {
    ("stock_aggs", "adjusted"),
    ("quotes", "sequence_number"),
    ("trades", "trade_id"),
    ("unusual_whales_options", "alert_id"),
}
TYPES_WIDENED = {  # migration 0009: option tickers (OCC, up to 21 characters with the O: prefix)
    ("trades", "symbol"): "character varying(32)",
    ("quotes", "symbol"): "character varying(32)",
    # migration 0011: sizes as the venue reports them (fractional crypto sizes, odd lots)
    ("trades", "size"): "numeric(20,8)",
    ("quotes", "bid_size"): "numeric(20,8)",
    ("quotes", "ask_size"): "numeric(20,8)",
}
FOREIGN_KEYS_WITHOUT_TARGET_TABLE: set[tuple[str, str]] = set()  # strategies came with migration 0008
HYPERTABLE_INTERVALS = spec_hypertable_intervals()

SPEC = spec_tables()


def _columns(conn: psycopg.Connection, table: str) -> dict[str, tuple[str, bool, str | None]]:
    rows = conn.execute(
        "SELECT a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull, pg_get_expr(d.adbin, d.adrelid)"
        " FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum"
        " WHERE a.attrelid = %s::regclass AND a.attnum > 0 AND NOT a.attisdropped",
        (table,),
    ).fetchall()
    return {name: (typ, not_null, default) for name, typ, not_null, default in rows}


def _indexes(conn: psycopg.Connection, table: str) -> list[tuple[list[str], str, bool, str | None]]:
    """(columns, access method, unique, predicate) of each index."""
    rows = conn.execute(
        "SELECT array_agg(a.attname::text ORDER BY k.ord), am.amname, i.indisunique, pg_get_expr(i.indpred, i.indrelid)"
        " FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid JOIN pg_am am ON am.oid = ic.relam"
        " CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY k(attnum, ord)"
        " JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum"
        " WHERE i.indrelid = %s::regclass GROUP BY i.indexrelid, am.amname, i.indisunique, i.indpred, i.indrelid",
        (table,),
    ).fetchall()
    return [(cols, am, unique, pred) for cols, am, unique, pred in rows]


def test_the_spec_has_21_tables_and_the_database_has_all_of_them(sql_conn):
    assert len(SPEC) == 21
    present = {r[0] for r in sql_conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}
    assert set(SPEC) <= present


@pytest.mark.parametrize("table", sorted(SPEC))
def test_columns_types_and_nullability_match_the_spec(sql_conn, table):
    actual = _columns(sql_conn, table)
    spec = SPEC[table]
    assert [c.name for c in spec.columns] == list(actual)  # same names, same order
    for column in spec.columns:
        typ, not_null, default = actual[column.name]
        assert typ == TYPES_WIDENED.get((table, column.name), pg_type(column.type)), column.name
        spec_not_null = "NOT NULL" in column.constraints or "PRIMARY KEY" in column.constraints
        if (table, column.name) in KEY_COLUMNS_MADE_NOT_NULL:
            assert not_null, f"{column.name} is a key column and must be NOT NULL"
        else:
            assert not_null == spec_not_null, column.name
        if m := re.search(r"DEFAULT (\S+)", column.constraints):
            expected = m[1].strip("'").lower()
            assert default is not None and default.lower().startswith((f"'{expected}'", expected)), column.name
        else:
            assert default is None, column.name


@pytest.mark.parametrize("table", sorted(SPEC))
def test_primary_unique_and_foreign_keys_match_the_spec(sql_conn, table):
    spec = SPEC[table]
    indexes = _indexes(sql_conn, table)
    pk = sql_conn.execute(
        "SELECT array_agg(a.attname::text) FROM pg_index i JOIN pg_attribute a"
        " ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) WHERE i.indrelid = %s::regclass AND i.indisprimary",
        (table,),
    ).fetchone()[0]
    spec_pk = [c.name for c in spec.columns if "PRIMARY KEY" in c.constraints]
    for index in spec.indexes:
        if m := re.match(r"Primary key on \(([^)]*)\)", index):
            spec_pk = [c.strip(" `") for c in m[1].split(",")]
    assert sorted(pk or []) == sorted(spec_pk)
    # Every table has a unique key to write idempotently; on time-series tables it contains timestamp.
    unique = [cols for cols, _, is_unique, pred in indexes if is_unique and pred is None]
    assert unique
    if table in HYPERTABLE_INTERVALS:
        assert all("timestamp" in cols for cols in unique)
    for column in spec.columns:
        if "UNIQUE" in column.constraints:
            assert [column.name] in unique
    fks = dict(sql_conn.execute(
        "SELECT a.attname, c.confrelid::regclass::text FROM pg_constraint c JOIN pg_attribute a"
        " ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1] WHERE c.conrelid = %s::regclass AND c.contype = 'f'",
        (table,),
    ).fetchall())
    spec_fks = {c.name for c in spec.columns if "FOREIGN KEY" in c.constraints}
    assert set(fks) == spec_fks - {c for t, c in FOREIGN_KEYS_WITHOUT_TARGET_TABLE if t == table}
    for column, target in fks.items():
        assert target == {"model_id": "models", "signal_id": "trading_signals", "strategy_id": "strategies"}[column]


@pytest.mark.parametrize("table", sorted(SPEC))
def test_every_spec_index_is_served(sql_conn, table):
    """Each index of the spec exists, as its own index or as the leading columns of a wider unique key."""
    indexes = _indexes(sql_conn, table)
    for index in SPEC[table].indexes:
        m = re.match(r"Index on \(([^)]*)\)( using GIN)?( WHERE (.*))?$", index)
        if not m:
            continue  # hypertable partitioning and primary keys are checked elsewhere
        columns = [c.strip(" `") for c in m[1].split(",")]
        method = "gin" if m[2] else "btree"
        predicate = m[4]
        assert any(
            cols[: len(columns)] == columns and am == method
            and ((pred is None) if predicate is None else (pred is not None and "IS NOT NULL" in pred))
            for cols, am, _, pred in indexes
        ), f"{table}: no index for {index}"


def test_the_spec_names_nine_hypertables():
    assert sorted(HYPERTABLE_INTERVALS) == sorted([
        "stock_aggs", "crypto_aggs", "quotes", "trades", "options_aggs", "unusual_whales_options",
        "features", "system_metrics", "trading_metrics",
    ])


def test_downgrade_to_base_and_upgrade_again(database_url):
    url = database_url.rsplit("/", 1)[0] + "/ats_test_migrations"
    recreate_database(url)
    migrate.upgrade(url)
    assert migrate.current_revision(url) == migrate.head_revision()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("INSERT INTO market_holidays VALUES"
                     " ('2024-12-25', 'Christmas', 'us_equity', 'closed', NULL, NULL, 2024)")
    migrate.downgrade(url, "base")
    assert migrate.current_revision(url) is None
    with psycopg.connect(url) as conn:
        left = conn.execute(
            "SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'alembic_version'"
        ).fetchone()[0]
    assert left == 0
    migrate.upgrade(url)
    with psycopg.connect(url) as conn:
        tables = {r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}
        assert set(SPEC) <= tables
        assert conn.execute("SELECT count(*) FROM market_holidays").fetchone()[0] == 0


def test_roles_writer_can_write_and_reader_only_read(sql_conn):
    privileges = dict(sql_conn.execute(
        "SELECT r, array_agg(p ORDER BY p) FROM unnest(ARRAY['ats_writer','ats_reader']) r,"
        " unnest(ARRAY['SELECT','INSERT','UPDATE','DELETE']) p"
        " WHERE has_table_privilege(r, 'stock_aggs', p) GROUP BY r"
    ).fetchall())
    assert privileges == {"ats_writer": ["DELETE", "INSERT", "SELECT", "UPDATE"], "ats_reader": ["SELECT"]}
