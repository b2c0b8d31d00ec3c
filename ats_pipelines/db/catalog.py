"""What the database says a table looks like: columns, types, nullability, defaults and its natural key.

The schema in ``sql/`` is the single source of truth; writers read it from the catalog instead of
repeating it in Python.
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg

# PostgreSQL type names (pg_type.typname) grouped by how a DataFrame column must look to be written.
INTEGER_TYPES = {"int2": 2**15, "int4": 2**31, "int8": 2**63}
FLOAT_TYPES = {"float4", "float8"}
TEXT_TYPES = {"varchar", "bpchar", "text"}


@dataclass(frozen=True)
class Column:
    """One column of a table as the catalog describes it."""

    name: str
    type_name: str  # pg_type.typname: int4, numeric, varchar, timestamptz, _varchar, ...
    sql_type: str  # format_type(): "numeric(16,6)", "character varying(16)", ...
    not_null: bool
    has_default: bool
    max_length: int | None  # varchar(n) / char(n)
    numeric_precision: int | None
    numeric_scale: int | None
    default: str | None = None  # the default's SQL expression as the catalog prints it (pg_get_expr)

    @property
    def is_array(self) -> bool:
        return self.type_name.startswith("_")


@dataclass(frozen=True)
class TableInfo:
    """A table's columns and the unique key that makes writes idempotent."""

    name: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    key_nulls_not_distinct: bool

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)

    @property
    def time_column(self) -> str | None:
        """The key's ``timestamp`` column, which bounds every write to a time range; None if absent."""
        return "timestamp" if "timestamp" in self.key else None

    @property
    def defaulted_key_columns(self) -> dict[str, str]:
        """{key column: its default expression} of key columns whose default is a constant (no function call),
        so a batch that leaves them out writes that one value."""
        return {k: c.default for k in self.key if (c := self.column(k)).default and "(" not in c.default}

    @property
    def nullable_key_columns(self) -> frozenset[str]:
        return frozenset(k for k in self.key if not self.column(k).not_null)


_COLUMNS_SQL = """
SELECT a.attname, t.typname, format_type(a.atttypid, a.atttypmod), a.attnotnull, a.atthasdef,
       CASE WHEN t.typname IN ('varchar', 'bpchar') AND a.atttypmod > 4 THEN a.atttypmod - 4 END,
       CASE WHEN t.typname = 'numeric' AND a.atttypmod > 4 THEN ((a.atttypmod - 4) >> 16) & 65535 END,
       CASE WHEN t.typname = 'numeric' AND a.atttypmod > 4 THEN (a.atttypmod - 4) & 65535 END,
       pg_get_expr(d.adbin, d.adrelid)
FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
WHERE a.attrelid = %s::regclass AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attnum
"""

# Unique, non-partial, plain-column indexes; the primary key first, then by name.
_KEYS_SQL = """
SELECT i.indisprimary, i.indnullsnotdistinct,
       array_agg(a.attname::text ORDER BY k.ord) AS columns
FROM pg_index i
CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
JOIN pg_class ic ON ic.oid = i.indexrelid
WHERE i.indrelid = %s::regclass AND i.indisunique AND i.indpred IS NULL AND i.indexprs IS NULL
GROUP BY i.indexrelid, i.indisprimary, i.indnullsnotdistinct, ic.relname
ORDER BY i.indisprimary DESC, ic.relname
"""


def load_table_info(conn: psycopg.Connection, table: str) -> TableInfo:
    """Read ``table``'s columns and natural key from the catalog.

    The key is the primary key when there is one, otherwise the table's unique index (each
    time-series table in ``sql/schema`` has exactly one, containing ``timestamp``).
    """
    with conn.cursor() as cur:
        try:
            cur.execute(_COLUMNS_SQL, (table,))
        except psycopg.errors.UndefinedTable as exc:
            raise LookupError(f"table {table!r} does not exist; run `ats db upgrade`") from exc
        columns = tuple(Column(*row) for row in cur.fetchall())
        cur.execute(_KEYS_SQL, (table,))
        keys = cur.fetchall()
    if not keys:
        raise LookupError(f"table {table!r} has no primary key or unique index to write idempotently")
    _, nulls_not_distinct, key = keys[0]
    return TableInfo(table, columns, tuple(key), bool(nulls_not_distinct))
