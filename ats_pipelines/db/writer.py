"""Idempotent bulk writes of prepared frames, on TimescaleDB and plain PostgreSQL alike.

Three paths, all COPY-based and each in one transaction:

* **copy** — the batch's time range holds no rows yet for the batch's leading key values (a first
  load, a new day of a backfill): the rows are COPYed straight into the table. If a concurrent writer
  got there first the unique key rejects the COPY, the savepoint rolls back and the merge path runs.
* **merge** — rows may exist: COPY into a temporary stage, ``UPDATE .. FROM stage`` the rows whose
  values changed, then insert the stage rows whose key is absent. Unchanged rows are not touched, so a
  re-load writes nothing. (``MERGE .. WHEN MATCHED`` would be one statement, but TimescaleDB refuses it
  on hypertables with compression enabled; these two statements run on both servers.)
* **replace** — a partition re-materialisation: the time range (and key filter) becomes exactly the new
  rows. An empty range is a COPY; otherwise the rows are staged and only the difference is deleted,
  updated or inserted, so an unchanged partition writes nothing. Nothing old is gone before the new rows
  commit (lessons.md #9).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import psycopg
from psycopg import sql

from ats_pipelines.db.catalog import TableInfo
from ats_pipelines.db.frames import PreparedFrame

_COPY_CHUNK_BYTES = 1 << 20
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


def copy_csv(cur: psycopg.Cursor, target: sql.Composable, columns: Sequence[str], csv: bytes | memoryview) -> None:
    """Stream CSV bytes into ``target (columns)`` with COPY."""
    statement = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT csv)").format(
        target, sql.SQL(", ").join(map(sql.Identifier, columns))
    )
    view = memoryview(csv)
    with cur.copy(statement) as copy:
        for start in range(0, len(view), _COPY_CHUNK_BYTES):
            copy.write(view[start : start + _COPY_CHUNK_BYTES])


def upsert(conn: psycopg.Connection, info: TableInfo, frame: PreparedFrame) -> WriteResult:
    """Insert new keys and update changed rows; re-writing the same rows changes nothing."""
    if frame.rows == 0:
        return WriteResult(info.name, "copy", 0, duplicates_dropped=frame.duplicates_dropped)
    table = sql.Identifier(info.name)
    with conn.transaction(), conn.cursor() as cur:
        if frame.time_range is not None and not range_has_rows(cur, info, frame):
            try:
                with conn.transaction():
                    copy_csv(cur, table, frame.columns, frame.csv)
                return WriteResult(info.name, "copy", frame.rows, inserted=frame.rows,
                                   duplicates_dropped=frame.duplicates_dropped)
            except psycopg.errors.UniqueViolation:
                pass  # a concurrent writer landed rows in this range: merge instead
        return _merge(cur, info, frame)


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
                copy_csv(cur, sql.Identifier(info.name), frame.columns, frame.csv)
            return WriteResult(info.name, "copy", frame.rows, inserted=frame.rows,
                               duplicates_dropped=frame.duplicates_dropped)
        merge = statements.merge
        cur.execute(merge.create_stage)
        if frame.rows:
            copy_csv(cur, _STAGE, frame.columns, frame.csv)
            cur.execute(sql.SQL("ANALYZE {}").format(_STAGE))
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


def range_has_rows(cur: psycopg.Cursor, info: TableInfo, frame: PreparedFrame) -> bool:
    """Whether the table holds any row in the frame's time range with the frame's values of the other key
    columns (a day of 1d bars does not overlap the same day's 1m bars)."""
    conditions = [sql.SQL("{t} BETWEEN %s AND %s").format(t=sql.Identifier(info.time_column))]
    params: list[object] = list(frame.time_range)
    for column, values in frame.key_values.items():
        conditions.append(_any_condition(info, column))
        params.append(values)
    cur.execute(
        sql.SQL("SELECT EXISTS (SELECT 1 FROM {} WHERE {})").format(
            sql.Identifier(info.name), sql.SQL(" AND ").join(conditions)
        ),
        params,
    )
    return cur.fetchone()[0]


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


def _merge(cur: psycopg.Cursor, info: TableInfo, frame: PreparedFrame) -> WriteResult:
    statements = merge_statements(info, frame.columns, frame.time_range is not None, frame.stamp_columns)
    params = list(frame.time_range) if frame.time_range is not None else []
    cur.execute(statements.create_stage)
    copy_csv(cur, _STAGE, frame.columns, frame.csv)
    cur.execute(sql.SQL("ANALYZE {}").format(_STAGE))
    updated = 0
    if statements.update is not None:
        cur.execute(statements.update, params)
        updated = cur.rowcount
    cur.execute(statements.insert, params)
    inserted = cur.rowcount
    cur.execute(statements.drop_stage)
    return WriteResult(info.name, "merge", frame.rows, inserted=inserted, updated=updated,
                       duplicates_dropped=frame.duplicates_dropped)
