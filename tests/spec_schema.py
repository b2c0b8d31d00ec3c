"""Reads the schema spec (docs/spec/database_schema.md, a copy of shared/spec) so tests compare the
database with the spec's own text rather than with a transcription of it."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

SPEC_PATH = Path(__file__).resolve().parent.parent / "docs" / "spec" / "database_schema.md"

# Spec type spelling -> PostgreSQL format_type() spelling.
_TYPE_NAMES = {
    "TIMESTAMPTZ": "timestamp with time zone",
    "BIGINT": "bigint",
    "INTEGER": "integer",
    "BOOLEAN": "boolean",
    "TEXT": "text",
    "JSONB": "jsonb",
    "DATE": "date",
    "TIME": "time without time zone",
    "UUID": "uuid",
}


def pg_type(spec_type: str) -> str:
    spec_type = spec_type.strip()
    if spec_type in _TYPE_NAMES:
        return _TYPE_NAMES[spec_type]
    if m := re.fullmatch(r"VARCHAR\((\d+)\)", spec_type):
        return f"character varying({m[1]})"
    if spec_type == "VARCHAR[]":
        return "character varying[]"
    if m := re.fullmatch(r"CHAR\((\d+)\)", spec_type):
        return f"character({m[1]})"
    if m := re.fullmatch(r"NUMERIC\((\d+),(\d+)\)", spec_type):
        return f"numeric({m[1]},{m[2]})"
    raise ValueError(f"unknown spec type {spec_type}")


@dataclass
class SpecColumn:
    name: str
    type: str
    constraints: str


@dataclass
class SpecTable:
    name: str
    columns: list[SpecColumn] = field(default_factory=list)
    indexes: list[str] = field(default_factory=list)


def spec_tables() -> dict[str, SpecTable]:
    tables: dict[str, SpecTable] = {}
    current: SpecTable | None = None
    in_indexes = False
    for line in SPEC_PATH.read_text().splitlines():
        if line.startswith("## Redis Schema"):
            break
        if m := re.match(r"^#### `(\w+)`", line):
            current = tables.setdefault(m[1], SpecTable(m[1]))
            in_indexes = False
        elif current and line.startswith("**Indexes**"):
            in_indexes = True
        elif current and in_indexes and line.startswith("- "):
            current.indexes.append(line[2:].strip())
        elif current and not in_indexes and (m := re.match(r"^\| `(\w+)` \|([^|]+)\|[^|]*\|([^|]*)\|", line)):
            current.columns.append(SpecColumn(m[1], m[2].strip(), m[3].strip()))
    return tables


def spec_redis_patterns() -> list[str]:
    text = SPEC_PATH.read_text().split("## Redis Schema", 1)[1].split("## Database Migrations", 1)[0]
    return re.findall(r"^- `([^`]+)`", text, flags=re.M)


def spec_hypertable_intervals() -> dict[str, str]:
    """{table: chunk interval text} for every table the spec makes a hypertable ("1 day", "1 hour")."""
    intervals = {}
    for name, table in spec_tables().items():
        for index in table.indexes:
            if m := re.search(r"hypertable partition on `timestamp` with chunk interval of (\d+ \w+)", index):
                intervals[name] = m[1]
    return intervals
