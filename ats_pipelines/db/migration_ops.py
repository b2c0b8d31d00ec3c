"""Operations the Alembic revisions use: run a schema SQL file, decide on TimescaleDB, change compressed tables."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import psycopg
from alembic import op
from psycopg import sql

from ats_pipelines.settings import timescale_setting
from ats_pipelines.sql_files import read_sql

log = logging.getLogger("ats_pipelines.migrations")


def raw_connection() -> psycopg.Connection:
    """The psycopg connection under Alembic's, inside the migration's transaction."""
    return op.get_bind().connection.dbapi_connection


def execute_sql_file(relative_path: str) -> None:
    """Run ``sql/<relative_path>`` as one script (psycopg sends a parameterless script as-is)."""
    with raw_connection().cursor() as cur:
        cur.execute(read_sql(relative_path))


def timescale_installed() -> bool:
    with raw_connection().cursor() as cur:
        cur.execute("SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb')")
        return cur.fetchone()[0]


def relation_exists(name: str) -> bool:
    """Whether a table, view or materialized view ``name`` is visible in the search path."""
    with raw_connection().cursor() as cur:
        cur.execute("SELECT to_regclass(%s) IS NOT NULL", (name,))
        return cur.fetchone()[0]


def is_plain_table(name: str) -> bool:
    """Whether ``name`` is an ordinary table (a continuous aggregate is a view)."""
    with raw_connection().cursor() as cur:
        cur.execute("SELECT relkind = 'r' FROM pg_class WHERE oid = to_regclass(%s)", (name,))
        row = cur.fetchone()
        return bool(row and row[0])


def enable_timescale() -> bool:
    """Install the timescaledb extension when ``ATS_TIMESCALE`` allows it and the server has it.

    Returns whether TimescaleDB features should be applied. ``ATS_TIMESCALE=require`` turns a missing
    extension into an error; ``off`` keeps plain PostgreSQL even where TimescaleDB is available.
    """
    setting = timescale_setting()
    if setting == "off":
        log.warning("ATS_TIMESCALE=off: plain PostgreSQL mode, TimescaleDB features skipped")
        return False
    conn = raw_connection()
    with conn.cursor() as cur:
        cur.execute("SELECT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb')")
        available = cur.fetchone()[0]
        if available:
            try:
                with conn.transaction():
                    cur.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
            except psycopg.Error as exc:  # e.g. not in shared_preload_libraries
                if setting == "require":
                    raise
                log.warning("timescaledb is available but could not be created (%s); plain PostgreSQL mode",
                            str(exc).strip())
                return False
            return True
    if setting == "require":
        raise RuntimeError("ATS_TIMESCALE=require but this server has no timescaledb extension")
    log.warning("no timescaledb extension on this server: plain PostgreSQL mode, TimescaleDB features skipped")
    return False


@contextmanager
def compression_suspended(tables: Sequence[str]) -> Iterator[None]:
    """Run the block with TimescaleDB compression off on those of ``tables`` that have it, then restore it.

    TimescaleDB refuses ``ALTER COLUMN .. TYPE`` on a hypertable with compression enabled. For each such
    table this removes the compression policy, decompresses its chunks and disables compression; afterwards
    it enables compression with the same segmentby/orderby, re-adds the policy with the same
    ``compress_after`` and compresses again the chunks that were compressed. A no-op on plain PostgreSQL.
    """
    suspended = []
    if timescale_installed():
        with raw_connection().cursor() as cur:
            for table in tables:
                cur.execute(read_sql("schema/timescale_compression_state.sql"), {"table": table})
                state = cur.fetchone()
                if state is None:
                    continue
                suspended.append((table, *state))
                cur.execute("SELECT remove_compression_policy(%s::regclass, if_exists => true)", (table,))
                cur.execute("SELECT decompress_chunk(c, if_compressed => true) FROM show_chunks(%s::regclass) c",
                            (table,))
                cur.execute(sql.SQL("ALTER TABLE {} SET (timescaledb.compress = false)").format(sql.Identifier(table)))
    yield
    with raw_connection().cursor() as cur:
        for table, segmentby, orderby, compress_after, compressed_chunks in suspended:
            cur.execute(sql.SQL("ALTER TABLE {} SET (timescaledb.compress, timescaledb.compress_segmentby = {},"
                                " timescaledb.compress_orderby = {})").format(
                sql.Identifier(table), sql.Literal(segmentby or ""), sql.Literal(orderby or "")))
            if compress_after is not None:
                cur.execute("SELECT add_compression_policy(%s::regclass, compress_after => %s::interval)",
                            (table, compress_after))
            for chunk in compressed_chunks:
                cur.execute("SELECT compress_chunk(%s::regclass, if_not_compressed => true)", (chunk,))
