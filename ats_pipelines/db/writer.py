"""Idempotent bulk writes of prepared frames, on TimescaleDB and plain PostgreSQL alike.

Three paths, all COPY-based and each in one transaction:

* **copy** — the batch's range (time range and key values) holds no stored rows yet (a first load, a new
  day of a backfill): the rows are COPYed straight into the table.
* **merge** — the range holds rows: they are read back with one COPY and compared with the batch in
  Polars; rows with new keys are COPYed into the table, rows whose key is stored with other values are
  staged and applied by ``UPDATE .. FROM stage``, equal rows are left alone (a re-load writes nothing).
  If a concurrent writer lands some of the keys meanwhile, the unique key rejects the COPY, its savepoint
  rolls back and the whole batch takes the stage merge: ``UPDATE`` changed rows, then ``INSERT`` the absent
  keys. (``MERGE .. WHEN MATCHED`` would be one statement, but TimescaleDB refuses it on hypertables with
  compression enabled; these statements run on both servers.)
* **replace** — a partition re-materialisation: the time range (and key filter) becomes exactly the new
  rows. An empty range is a COPY; otherwise the rows are staged and only the difference is deleted,
  updated or inserted, so an unchanged partition writes nothing. Nothing old is gone before the new rows
  commit (lessons.md #9).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import polars as pl
import psycopg
from psycopg import sql

from ats_pipelines.db.catalog import TableInfo
from ats_pipelines.db.frames import PreparedFrame, csv_bytes, parse_copy_csv

COPY_SLICE_ROWS = 50_000
STAGE_TABLE = "_ats_write_stage"
_STAGE = sql.Identifier(STAGE_TABLE)


@dataclass(frozen=True)
class WriteResult:
    """What one write did; ``rows`` counts the batch after dropping repeated keys."""

    table: str
    path: str
    rows: int
    inserted: int = 0
    updated: int = 0
    deleted: int = 0
    duplicates_dropped: int = 0

    @property
    def unchanged(self) -> int:
        return self.rows - self.inserted - self.updated if self.path in {"merge", "replace"} else 0

    def plus(self, other: WriteResult) -> WriteResult:
        """The counts of this write and ``other`` (a later write of the same table, on the same path)."""
        return WriteResult(self.table, other.path, self.rows + other.rows, self.inserted + other.inserted,
                           self.updated + other.updated, self.deleted + other.deleted,
                           self.duplicates_dropped + other.duplicates_dropped)

    def as_metadata(self) -> dict[str, int | str]:
        """Counts for Dagster metadata."""
        return {
            "write_path": self.path,
            "rows_written": self.inserted + self.updated,
            "rows_inserted": self.inserted,
            "rows_updated": self.updated,
            "rows_unchanged": self.unchanged,
            "rows_deleted": self.deleted,
            "duplicate_keys_dropped": self.duplicates_dropped,
        }


def copy_rows(cur: psycopg.Cursor, target: sql.Composable, columns: Sequence[str], rows: pl.DataFrame) -> None:
    """Stream ``rows`` into ``target (columns)`` with CSV COPY, in slices: the next slice is encoded on a thread
    while the server parses this one, so the client's encoding hides behind the server's work. Rows that fit
    in one slice are encoded on this thread (there is nothing to overlap, and a thread costs a small write more
    than its encoding)."""
    statement = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT csv)").format(
        target, sql.SQL(", ").join(map(sql.Identifier, columns))
    )
    if rows.height <= COPY_SLICE_ROWS:
        with cur.copy(statement) as copy:
            copy.write(csv_bytes(rows))
        return
    starts = range(0, rows.height, COPY_SLICE_ROWS)
    with ThreadPoolExecutor(max_workers=1) as encoder, cur.copy(statement) as copy:
        pending = [encoder.submit(csv_bytes, rows.slice(start, COPY_SLICE_ROWS)) for start in starts[:1]]
        for start in starts:
            encoded = pending.pop().result()
            if start + COPY_SLICE_ROWS < rows.height:
                pending.append(encoder.submit(csv_bytes, rows.slice(start + COPY_SLICE_ROWS, COPY_SLICE_ROWS)))
            copy.write(encoded)


def upsert(conn: psycopg.Connection, info: TableInfo, frame: PreparedFrame) -> WriteResult:
    """Insert new keys and update changed rows; re-writing the same rows changes nothing.

    The rows stored in the batch's range (bounded like an overlap probe: time range and key values) are read
    with one COPY and compared with the batch in Polars. Rows equal to what is stored are dropped, rows with a
    new key are COPYed straight into the table, and only rows whose key is stored with other values go
    through the stage and an ``UPDATE`` (which compares again on the server, the authority on equality).
    A load that overlaps stored rows therefore costs a read of them plus a COPY of the rest, not a stage of
    the whole batch. Without a time range, or with key columns left to their defaults, the stage merge runs.
    """
    if frame.rows == 0:
        return WriteResult(info.name, "copy", 0, duplicates_dropped=frame.duplicates_dropped)
    with conn.transaction(), conn.cursor() as cur:
        if frame.time_range is None or not set(info.key) <= {*frame.columns, *info.defaulted_key_columns}:
            return _merge(cur, info, frame)
        stored = stored_rows(cur, info, frame)
        fresh, changed = split_against_stored(info, frame, stored)
        inserted = updated = 0
        if fresh.height:
            try:
                with conn.transaction():
                    copy_rows(cur, sql.Identifier(info.name), frame.columns, fresh)
                inserted = fresh.height
            except psycopg.errors.UniqueViolation:
                return _merge(cur, info, frame)  # a concurrent writer landed some of these keys meanwhile
        if changed.height:
            updated = _update_from_stage(cur, info, frame, changed)
    return WriteResult(info.name, "copy" if stored.is_empty() else "merge", frame.rows, inserted=inserted,
                       updated=updated, duplicates_dropped=frame.duplicates_dropped)


def stored_rows_statement(info: TableInfo, frame: PreparedFrame) -> tuple[sql.Composed, list[object]]:
    """The query (and its parameters) of the stored rows a batch may overlap: the batch's compared columns
    (see :func:`compared_columns`, booleans as text for the CSV parser) within its time range and key values."""
    conditions = [sql.SQL("{t} BETWEEN %s AND %s").format(t=sql.Identifier(info.time_column))]
    params: list[object] = list(frame.time_range)
    for column, values in frame.key_values.items():
        conditions.append(_any_condition(info, column))
        params.append(values)
    for column, default in info.defaulted_key_columns.items():
        if column not in frame.columns:  # the batch writes the default: the catalog's own constant expression
            conditions.append(sql.SQL("{} = {}").format(sql.Identifier(column), sql.SQL(default)))
    selected = [sql.SQL("{}::text" if info.column(c).type_name == "bool" else "{}").format(sql.Identifier(c))
                for c in compared_columns(info, frame)]
    statement = sql.SQL("SELECT {} FROM {} WHERE {}").format(
        sql.SQL(", ").join(selected), sql.Identifier(info.name), sql.SQL(" AND ").join(conditions))
    return statement, params


def compared_columns(info: TableInfo, frame: PreparedFrame) -> list[str]:
    """The batch's columns that decide whether a stored row differs: all but the stamp columns."""
    return [c for c in frame.columns if c not in frame.stamp_columns or c in info.key]


def stored_rows(cur: psycopg.Cursor, info: TableInfo, frame: PreparedFrame) -> pl.DataFrame:
    """The stored rows the batch may overlap, in the batch's dtypes (:func:`stored_rows_statement`)."""
    statement, params = stored_rows_statement(info, frame)
    buffer = bytearray()
    with cur.copy(sql.SQL("COPY ({}) TO STDOUT (FORMAT csv)").format(statement), params) as copy:
        for block in copy:
            buffer += block
    schema = {c: _comparable(frame.data.schema[c]) for c in compared_columns(info, frame)}
    return parse_copy_csv(bytes(buffer), schema)


def split_against_stored(info: TableInfo, frame: PreparedFrame, stored: pl.DataFrame
                         ) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(rows whose key is not stored, rows whose key is stored with other values) of the batch; rows equal
    to the stored ones are in neither."""
    if stored.is_empty():
        return frame.data, frame.data.clear()
    compared = list(stored.columns)
    batch = frame.data.with_row_index("_row").with_columns(
        pl.col(c).cast(stored.schema[c]) for c in compared if frame.data.schema[c] != stored.schema[c])
    differs = batch.join(stored, on=compared, how="anti", nulls_equal=True)
    key = [k for k in info.key if k in compared]  # key columns left out of the batch were fixed by the read
    keys = stored.select(key)
    fresh = differs.join(keys, on=key, how="anti", nulls_equal=True)["_row"]
    changed = differs.join(keys, on=key, how="semi", nulls_equal=True)["_row"]
    return frame.data[fresh], frame.data[changed]


def _comparable(dtype: pl.DataType) -> pl.DataType:
    """The dtype a stored column is parsed as to compare with a batch column of ``dtype``."""
    return pl.String if dtype == pl.Null else dtype


def _update_from_stage(cur: psycopg.Cursor, info: TableInfo, frame: PreparedFrame, rows: pl.DataFrame) -> int:
    """Stage ``rows`` (stored keys with other values) and update the table from the stage."""
    statements = merge_statements(info, frame.columns, time_bounded=True, stamp_columns=frame.stamp_columns)
    if statements.update is None:
        return 0
    _fill_stage(cur, statements, frame.columns, rows)
    cur.execute(statements.update, frame.time_range)
    updated = cur.rowcount
    cur.execute(statements.drop_stage)
    return updated


def replace_range(
    conn: psycopg.Connection,
    info: TableInfo,
    frame: PreparedFrame,
    start: object,
    end: object,
    match: Mapping[str, Sequence[object]],
) -> WriteResult:
    """Make the rows with ``start <= time < end`` (and each ``match`` column in its values) exactly ``frame``.

    An empty selection is a plain COPY. Otherwise the frame is staged and only the difference is written:
    rows missing from the frame are deleted, changed rows updated, new ones inserted, and equal rows left
    alone, so re-materialising a partition whose input did not change writes nothing.
    """
    statements = replace_statements(info, frame.columns, list(match), frame.stamp_columns)
    params = [start, end, *match.values()]
    with conn.transaction(), conn.cursor() as cur:
        cur.execute(statements.probe, params)
        if not cur.fetchone()[0]:
            if frame.rows:
                copy_rows(cur, sql.Identifier(info.name), frame.columns, frame.data)
            return WriteResult(info.name, "copy", frame.rows, inserted=frame.rows,
                               duplicates_dropped=frame.duplicates_dropped)
        merge = statements.merge
        _fill_stage(cur, merge, frame.columns, frame.data)
        # The stage has no index: a nested-loop anti join against it is quadratic (the planner picks one when
        # the table's statistics predate a bulk load), so only hash or merge anti joins are allowed here.
        cur.execute("SET LOCAL enable_nestloop = off")
        cur.execute(statements.delete_absent, params)
        deleted = cur.rowcount
        cur.execute("RESET enable_nestloop")
        updated = inserted = 0
        if frame.rows:
            if merge.update is not None:
                cur.execute(merge.update, frame.time_range)
                updated = cur.rowcount
            cur.execute(merge.insert, frame.time_range)
            inserted = cur.rowcount
        cur.execute(merge.drop_stage)
    return WriteResult(info.name, "replace", frame.rows, inserted=inserted, updated=updated, deleted=deleted,
                       duplicates_dropped=frame.duplicates_dropped)


@dataclass(frozen=True)
class ReplaceStatements:
    """The SQL of a range replace. ``probe`` and ``delete_absent`` take the selection's parameters
    (start, end, then one array per match column); ``merge`` writes the staged rows."""

    probe: sql.Composed
    delete_absent: sql.Composed
    merge: MergeStatements


def replace_statements(info: TableInfo, columns: Sequence[str], match_columns: Sequence[str],
                       stamp_columns: frozenset[str] = frozenset()) -> ReplaceStatements:
    """Statements that make a time range (narrowed by ``match_columns``) of ``info``'s table equal the stage."""
    time_column = info.time_column
    if time_column is None:
        raise ValueError(f"{info.name} has no time column in its key; replace_range needs one")
    table = sql.Identifier(info.name)
    selection = sql.SQL(" AND ").join([
        sql.SQL("t.{c} >= %s AND t.{c} < %s").format(c=sql.Identifier(time_column)),
        *(_any_condition(info, column, "t") for column in match_columns),
    ])
    return ReplaceStatements(
        probe=sql.SQL("SELECT EXISTS (SELECT 1 FROM {} AS t WHERE {})").format(table, selection),
        delete_absent=sql.SQL("DELETE FROM {} AS t WHERE {} AND NOT EXISTS (SELECT 1 FROM {} AS s WHERE {})").format(
            table, selection, _STAGE, _key_match(info)),
        merge=merge_statements(info, columns, time_bounded=True, stamp_columns=stamp_columns),
    )


def _any_condition(info: TableInfo, column: str, alias: str | None = None) -> sql.Composable:
    # The array parameter is cast to the column's own type so uuid, date or varchar columns all compare.
    name = sql.Identifier(alias, column) if alias else sql.Identifier(column)
    return sql.SQL("{} = ANY(%s::{}[])").format(name, sql.SQL(info.column(column).sql_type))


def _key_match(info: TableInfo) -> sql.Composable:
    """``t`` (the table) and ``s`` (the stage) hold the same key; NULL matches NULL in nullable key columns."""
    return sql.SQL(" AND ").join(
        sql.SQL("t.{c} IS NOT DISTINCT FROM s.{c}" if k in info.nullable_key_columns else "t.{c} = s.{c}").format(
            c=sql.Identifier(k)
        )
        for k in info.key
    )


@dataclass(frozen=True)
class MergeStatements:
    """The SQL of the merge path for one table and column set; ``update`` is None without value columns."""

    create_stage: sql.Composed
    update: sql.Composed | None
    insert: sql.Composed
    drop_stage: sql.Composed


def merge_statements(info: TableInfo, columns: Sequence[str], time_bounded: bool,
                     stamp_columns: frozenset[str] = frozenset()) -> MergeStatements:
    """Statements that merge the stage table into ``info``'s table.

    With ``time_bounded`` both joins take ``%s, %s`` parameters, the batch's min and max time, which
    bound the target side: chunk exclusion on TimescaleDB, an index range on PostgreSQL. A row is updated
    when a value column other than ``stamp_columns`` differs; the stamps are then updated with it.
    """
    table = sql.Identifier(info.name)
    match = [_key_match(info)]
    if time_bounded:
        match.append(sql.SQL("t.{} BETWEEN %s AND %s").format(sql.Identifier(info.time_column)))
    match_sql = sql.SQL(" AND ").join(match)

    update = None
    value_columns = [sql.Identifier(c) for c in columns if c not in info.key]
    compared = [sql.Identifier(c) for c in columns if c not in info.key and c not in stamp_columns]
    if compared:
        update = sql.SQL(
            "UPDATE {table} AS t SET {assignments} FROM {stage} AS s WHERE {match}"
            " AND ({t_values}) IS DISTINCT FROM ({s_values})"
        ).format(
            table=table,
            stage=_STAGE,
            assignments=sql.SQL(", ").join(sql.SQL("{c} = s.{c}").format(c=c) for c in value_columns),
            match=match_sql,
            t_values=sql.SQL(", ").join(sql.SQL("t.{}").format(c) for c in compared),
            s_values=sql.SQL(", ").join(sql.SQL("s.{}").format(c) for c in compared),
        )
    all_columns = sql.SQL(", ").join(map(sql.Identifier, info.column_names))
    insert = sql.SQL(
        "INSERT INTO {table} ({columns}) SELECT {columns} FROM {stage} AS s"
        " WHERE NOT EXISTS (SELECT 1 FROM {table} AS t WHERE {match}) ON CONFLICT DO NOTHING"
    ).format(table=table, columns=all_columns, stage=_STAGE, match=match_sql)
    return MergeStatements(
        create_stage=sql.SQL("CREATE TEMP TABLE {} (LIKE {} INCLUDING DEFAULTS) ON COMMIT DROP").format(_STAGE, table),
        update=update,
        insert=insert,
        drop_stage=sql.SQL("DROP TABLE {}").format(_STAGE),
    )


def _fill_stage(cur: psycopg.Cursor, statements: MergeStatements, columns: Sequence[str], rows: pl.DataFrame) -> None:
    """Create the temporary stage and COPY ``rows`` into it, with statistics for the joins that read it."""
    cur.execute(statements.create_stage)
    if rows.height:
        copy_rows(cur, _STAGE, columns, rows)
        cur.execute(sql.SQL("ANALYZE {}").format(_STAGE))


def _merge(cur: psycopg.Cursor, info: TableInfo, frame: PreparedFrame) -> WriteResult:
    statements = merge_statements(info, frame.columns, frame.time_range is not None, frame.stamp_columns)
    params = list(frame.time_range) if frame.time_range is not None else []
    _fill_stage(cur, statements, frame.columns, frame.data)
    updated = 0
    if statements.update is not None:
        cur.execute(statements.update, params)
        updated = cur.rowcount
    cur.execute(statements.insert, params)
    inserted = cur.rowcount
    cur.execute(statements.drop_stage)
    return WriteResult(info.name, "merge", frame.rows, inserted=inserted, updated=updated,
                       duplicates_dropped=frame.duplicates_dropped)
