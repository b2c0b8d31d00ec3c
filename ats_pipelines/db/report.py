"""A human-readable report of the schema: mode, tables, keys, sizes and TimescaleDB settings."""

from __future__ import annotations

from typing import TYPE_CHECKING

from psycopg import sql

from ats_pipelines.db.catalog import load_table_info

if TYPE_CHECKING:
    from ats_pipelines.resources.timescale import TimescaleResource

_TABLES_SQL = """
SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') AND c.relname <> 'alembic_version'
ORDER BY c.relname
"""

_HYPERTABLES_SQL = """
SELECT h.hypertable_name, d.time_interval, h.compression_enabled,
       (SELECT count(*) FROM timescaledb_information.chunks ch
        WHERE ch.hypertable_name = h.hypertable_name AND ch.hypertable_schema = h.hypertable_schema)
FROM timescaledb_information.hypertables h
JOIN timescaledb_information.dimensions d
  ON d.hypertable_name = h.hypertable_name AND d.hypertable_schema = h.hypertable_schema
WHERE h.hypertable_schema = current_schema()
"""


def schema_report(resource: TimescaleResource) -> str:
    """Mode line, then one line per table: key, estimated rows, and chunk/compression facts."""
    mode = resource.mode()
    lines = [mode.describe(), ""]
    with resource.connection() as conn, conn.cursor() as cur:
        cur.execute(_TABLES_SQL)
        tables = [row[0] for row in cur.fetchall()]
        hypertables = {}
        if mode.is_timescale:
            cur.execute(_HYPERTABLES_SQL)
            hypertables = {name: (interval, compressed, chunks) for name, interval, compressed, chunks in cur}
        lines.append(f"{'table':<26} {'rows~':>10}  {'key':<46} timescale")
        for table in tables:
            info = load_table_info(conn, table)
            if table in hypertables:
                cur.execute("SELECT approximate_row_count(%s::regclass)", (table,))
            else:  # the planner's estimate
                cur.execute("SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass", (table,))
            rows = cur.fetchone()[0]
            if rows < 0:  # never analyzed: count
                cur.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table)))
                rows = cur.fetchone()[0]
            ts = ""
            if table in hypertables:
                interval, compressed, chunks = hypertables[table]
                ts = f"chunks of {interval}, {chunks} chunk(s), compression {'on' if compressed else 'off'}"
            lines.append(f"{table:<26} {rows:>10}  {'(' + ', '.join(info.key) + ')':<46} {ts}")
        conn.rollback()
    lines.append("")
    lines.append(f"{len(tables)} tables")
    return "\n".join(lines)
