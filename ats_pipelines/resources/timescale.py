"""TimescaleResource: the only way assets read or write the market-data database."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import datetime

import dagster as dg
import polars as pl
import psycopg
from psycopg import sql
from psycopg_pool import ConnectionPool
from pydantic import Field, PrivateAttr

from ats_pipelines.db import writer
from ats_pipelines.db.binary_copy import parse_series
from ats_pipelines.db.catalog import TableInfo, load_table_info
from ats_pipelines.db.frames import FrameValidationError, PreparedFrame, parse_copy_csv, prepare_frame
from ats_pipelines.db.mode import DatabaseMode, detect_mode
from ats_pipelines.db.writer import WriteResult
from ats_pipelines.settings import database_url, redact_url

# Planner settings of a series read: the shards are the parallelism (no extra workers), and the arrays are
# built by a hash aggregate in memory, never by sorting millions of rows into groups the reader does not need
# in order (the row estimates of a sharded filter are guesses, which would otherwise pick a spilling sort).
SERIES_SETTINGS = {"work_mem": "256MB", "max_parallel_workers_per_gather": "0", "enable_sort": "off"}


def _configure_session(conn: psycopg.Connection) -> None:
    conn.execute("SET TIME ZONE 'UTC'")
    conn.commit()


class TimescaleResource(dg.ConfigurableResource):
    """TimescaleDB / PostgreSQL through a psycopg 3 connection pool.

    Writes take Polars frames and are idempotent (see :mod:`ats_pipelines.db.writer`); reads return
    Polars frames. Sessions run in UTC. The URL defaults to ``ATS_DATABASE_URL``.
    """

    database_url: str | None = Field(
        default=None, description="libpq URL; defaults to the ATS_DATABASE_URL environment variable"
    )
    pool_size: int = Field(default=4, description="most connections the pool opens")
    connect_timeout_seconds: float = Field(default=30.0, description="how long to wait for a connection")

    _pool: ConnectionPool | None = PrivateAttr(default=None)
    _tables: dict[str, TableInfo] = PrivateAttr(default_factory=dict)

    @property
    def url(self) -> str:
        return self.database_url or database_url()

    @property
    def safe_url(self) -> str:
        """The URL without its password, for logs."""
        return redact_url(self.url)

    @contextmanager
    def connection(self) -> Iterator[psycopg.Connection]:
        """A pooled connection; commit or roll back is the caller's (``with conn.transaction()``)."""
        if self._pool is None:
            # One direct connection first: a database that is down or refuses the URL's settings (sslmode, user)
            # raises its own error now, where the pool would only time out after retrying in the background.
            psycopg.connect(self.url, connect_timeout=max(1, round(self.connect_timeout_seconds))).close()
            self._pool = ConnectionPool(
                self.url, min_size=1, max_size=self.pool_size, configure=_configure_session, open=True,
                name="ats_timescale", timeout=self.connect_timeout_seconds,
            )
            self._pool.wait(timeout=self.connect_timeout_seconds)
        with self._pool.connection() as conn:
            yield conn

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
            self._pool = None

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        self.close()

    def mode(self) -> DatabaseMode:
        """TimescaleDB or plain PostgreSQL, as the server reports it now."""
        with self.connection() as conn:
            return detect_mode(conn)

    def table_info(self, table: str) -> TableInfo:
        """Columns and natural key of ``table`` (read once per resource instance)."""
        if table not in self._tables:
            with self.connection() as conn:
                self._tables[table] = load_table_info(conn, table)
        return self._tables[table]

    def write(self, table: str, df: pl.DataFrame) -> WriteResult:
        """Idempotent bulk write: new keys are inserted, changed rows updated, identical rows left alone.

        Raises :class:`FrameValidationError` (naming table and column) before writing anything when the
        frame has an unknown column, a wrong dtype, or a NULL in a NOT NULL column.
        """
        return self.write_prepared(table, self.prepare(table, df))

    def prepare(self, table: str, df: pl.DataFrame, stamp_columns: frozenset[str] = frozenset()) -> PreparedFrame:
        """Validate and serialise ``df`` for ``table`` (the CPU half of :meth:`write`, so a pipeline can do
        it while the database is busy with the previous batch). ``stamp_columns``: see
        :func:`~ats_pipelines.db.frames.prepare_frame`."""
        return prepare_frame(self.table_info(table), df, stamp_columns)

    def write_prepared(self, table: str, frame: PreparedFrame) -> WriteResult:
        """The database half of :meth:`write`."""
        with self.connection() as conn:
            return writer.upsert(conn, self.table_info(table), frame)

    def replace_range(
        self,
        table: str,
        df: pl.DataFrame,
        start: datetime,
        end: datetime,
        match: Mapping[str, Sequence[object]] | None = None,
    ) -> WriteResult:
        """Replace the rows with ``start <= timestamp < end`` (and ``column IN values`` for each ``match``)
        by ``df``, in one transaction. Every row of ``df`` must fall inside that selection.
        """
        info = self.table_info(table)
        match = dict(match or {})
        frame = prepare_frame(info, df)
        _check_inside(info, df, start, end, match)
        with self.connection() as conn:
            return writer.replace_range(conn, info, frame, start, end, match)

    def read(self, query: str | sql.Composable, params: Sequence[object] | Mapping[str, object] | None = None
             ) -> pl.DataFrame:
        """Run a query and return its rows as a DataFrame (NUMERIC arrives as Decimal)."""
        with self.connection() as conn, conn.cursor() as cur:
            cur.execute(query, params)
            names = [d.name for d in cur.description]
            rows = cur.fetchall()
            conn.rollback()
        return pl.DataFrame(rows, schema=names, orient="row", infer_schema_length=None)

    def read_copy(self, query: str | sql.Composable, params: Mapping[str, object] | None,
                  schema: Mapping[str, pl.DataType]) -> pl.DataFrame:
        """Run a query through ``COPY .. TO STDOUT`` and parse its CSV with Polars: the read for large results
        (about ten times :meth:`read`, which builds Python objects). ``schema`` lists the query's output
        columns in order with their dtypes; ``Datetime`` columns arrive in UTC. Parameters are bound
        client-side, as COPY takes none of the server's."""
        return parse_copy_csv(self._copy_out(_copy_to_stdout(query, "csv"), params), schema)

    def read_series(self, query: str | sql.Composable, params: Mapping[str, object], keys: int, arrays: int,
                    shards: int = 2) -> list[tuple]:
        """Rows of a query whose rows are whole series: ``keys`` text columns, then ``arrays`` one-dimensional
        arrays (int8, float8 or timestamptz, the last as Unix microseconds) as NumPy arrays. The read for
        millions of values: binary COPY (the server formats no text), run as ``shards`` parts at once on
        separate connections with ``%(shard)s`` and ``%(shards)s`` bound for the query to split its rows by,
        each planned as one in-memory hash aggregate (:data:`SERIES_SETTINGS`)."""
        statement = _copy_to_stdout(query, "binary")
        with ThreadPoolExecutor(max_workers=shards) as pool:
            return [row for part in pool.map(lambda shard: parse_series(
                self._copy_out(statement, {**params, "shard": shard, "shards": shards}, SERIES_SETTINGS), keys,
                arrays), range(shards)) for row in part]

    def _copy_out(self, statement: sql.Composable, params: Mapping[str, object] | None,
                  settings: Mapping[str, str] | None = None) -> bytes:
        buffer = bytearray()
        with self.connection() as conn, conn.cursor() as cur:
            for name, value in (settings or {}).items():  # for this transaction only
                cur.execute("SELECT set_config(%s, %s, true)", [name, value])
            with cur.copy(statement, params) as copy:
                for block in copy:
                    buffer += block
            conn.rollback()
        return bytes(buffer)

    def execute(self, query: str | sql.Composable, params: Sequence[object] | Mapping[str, object] | None = None
                ) -> int:
        """Run one statement in its own transaction; returns the affected row count."""
        with self.connection() as conn, conn.transaction(), conn.cursor() as cur:
            cur.execute(query, params)
            return cur.rowcount


    def execute_many(self, query: str | sql.Composable, params: Sequence[Mapping[str, object]]) -> int:
        """Run one statement once per parameter set, all in one transaction and one round trip (psycopg
        pipelines ``executemany``); returns the affected row count summed."""
        if not params:
            return 0
        with self.connection() as conn, conn.transaction(), conn.cursor() as cur:
            cur.executemany(query, params)
            return cur.rowcount

    def execute_in_transaction(self, *statements: tuple[str | sql.Composable, Mapping[str, object] | None]
                               ) -> list[int]:
        """Run several statements in one transaction; returns each one's affected row count."""
        with self.connection() as conn, conn.transaction(), conn.cursor() as cur:
            counts = []
            for query, params in statements:
                cur.execute(query, params)
                counts.append(cur.rowcount)
            return counts

    def execute_outside_transaction(self, query: str | sql.Composable, params: Mapping[str, object] | None = None
                                    ) -> None:
        """Run a statement that refuses transaction blocks (``CALL refresh_continuous_aggregate``)."""
        with self.connection() as conn:
            conn.autocommit = True
            try:
                conn.execute(query, params)
            finally:
                conn.autocommit = False


    def refresh_statistics(self, table: str) -> None:
        """ANALYZE ``table``: after a bulk load the planner's row estimates are stale, and the queries that
        follow (checks, roll-ups) would pick plans for an empty table."""
        with self.connection() as conn:
            conn.execute(sql.SQL("ANALYZE {}").format(sql.Identifier(table)))
            conn.commit()


def _copy_to_stdout(query: str | sql.Composable, format_name: str) -> sql.Composed:
    return sql.SQL("COPY ({}) TO STDOUT (FORMAT {})").format(sql.SQL(query) if isinstance(query, str) else query,
                                                             sql.SQL(format_name))


def _check_inside(info: TableInfo, df: pl.DataFrame, start: datetime, end: datetime,
                  match: Mapping[str, Sequence[object]]) -> None:
    time_column = info.time_column
    if time_column is None:
        raise ValueError(f"{info.name} has no time column in its key; replace_range needs one")
    if df.height == 0:
        return
    if time_column not in df.columns:
        raise FrameValidationError(info.name, time_column, "replace_range needs the time column in the frame")
    outside = df.filter((pl.col(time_column) < start) | (pl.col(time_column) >= end)).height
    if outside:
        raise FrameValidationError(info.name, time_column, f"{outside} row(s) outside [{start}, {end})")
    for column, values in match.items():
        if column not in df.columns:
            raise FrameValidationError(info.name, column, "replace_range matches on it but the frame lacks it")
        stray = df.filter(~pl.col(column).is_in(list(values))).height
        if stray:
            raise FrameValidationError(info.name, column, f"{stray} row(s) outside the replaced values")
