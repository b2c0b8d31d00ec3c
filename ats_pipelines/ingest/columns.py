"""Declarative mapping of vendor records to table rows, with per-record validation.

A :class:`ColumnMap` says, once per table, which vendor field feeds which column (by flavour: ``rest``
for REST records, ``stream`` for WebSocket events), how the raw value converts, and which rules a row
must pass. :meth:`ColumnMap.map` turns a page of records into a frame of good rows and a list of
:class:`Reject` (reason plus the raw record), so a bad record never stops the good ones of its batch.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson
import polars as pl

Convert = Callable[[pl.Expr], pl.Expr]
ROW_INDEX = "_record"
JSON = pl.Object  # Field.raw of a nested value kept whole, as JSON text for a JSONB column
EXTRA_FIELDS = "__extra__"  # Field.rest/stream meaning "every field no other column takes", as one JSON object
WHOLE_RECORD = "__record__"  # Field.rest/stream meaning "the record as received", as one JSON object
_NUMERIC = (pl.Float64, pl.Int64)


def epoch_ms(expr: pl.Expr) -> pl.Expr:
    """Unix milliseconds → UTC timestamp."""
    return pl.from_epoch(expr, time_unit="ms").dt.replace_time_zone("UTC")


def epoch_ns(expr: pl.Expr) -> pl.Expr:
    """Unix nanoseconds → UTC timestamp (microsecond precision, as PostgreSQL stores it)."""
    return pl.from_epoch(expr // 1000, time_unit="us").dt.replace_time_zone("UTC")


def rounded_int(expr: pl.Expr) -> pl.Expr:
    return expr.round(0).cast(pl.Int64)


def int_list_as_text(expr: pl.Expr) -> pl.Expr:
    return expr.list.eval(pl.element().cast(pl.String))


def as_text(expr: pl.Expr) -> pl.Expr:
    return expr.cast(pl.String)


@dataclass(frozen=True)
class Field:
    """One column fed from a vendor field (``rest`` / ``stream`` name it; None: not sent in that flavour).

    ``raw`` is the JSON type to expect and ``convert`` turns it into the column's value; ``stream_raw`` and
    ``stream_convert`` override them where the stream sends the field differently (ms instead of ns, ...).
    """

    column: str
    rest: str | None
    stream: str | None = None
    raw: pl.DataType = pl.Float64
    convert: Convert | None = None
    required: bool = True
    stream_raw: pl.DataType | None = None
    stream_convert: Convert | None = None

    def source(self, flavour: str) -> str | None:
        return self.rest if flavour == "rest" else self.stream

    def raw_type(self, flavour: str) -> pl.DataType:
        return self.stream_raw if flavour == "stream" and self.stream_raw is not None else self.raw

    def expression(self, flavour: str) -> pl.Expr:
        convert = self.stream_convert if flavour == "stream" and self.stream_convert else self.convert
        value = pl.col(self.source(flavour))
        return (convert(value) if convert else value).alias(self.column)


@dataclass(frozen=True)
class Rule:
    """A row breaks the rule where ``bad`` is true; ``reason`` is what the quarantine records."""

    reason: str
    bad: pl.Expr

    @property
    def columns(self) -> set[str]:
        return set(self.bad.meta.root_names())


def length_rules(columns: Sequence[tuple[str, int]]) -> list[Rule]:
    """Reject text longer than its column allows, (name, max length) each, rather than fail the batch
    (applied where the mapped column is text)."""
    return [Rule(f"{name} longer than {limit} characters", pl.col(name).str.len_chars() > limit)
            for name, limit in columns]


@dataclass(frozen=True)
class Reject:
    """A record that did not become a row, and why."""

    reason: str
    record: Any


@dataclass
class MappedBatch:
    """The good rows of a page (table columns only) and its rejected records."""

    rows: pl.DataFrame
    rejects: list[Reject] = field(default_factory=list)


@dataclass(frozen=True)
class ColumnMap:
    """How records of one vendor endpoint become rows of ``table``."""

    table: str
    fields: tuple[Field, ...]
    rules: tuple[Rule, ...] = ()
    time_column: str = "timestamp"
    derived: tuple[tuple[str, pl.Expr], ...] = ()  # columns computed from mapped ones, in order
    helpers: frozenset[str] = frozenset()  # mapped or derived columns that are not table columns
    stamp_columns: frozenset[str] = frozenset()  # when we fetched, not what was sent: no change by themselves

    def raw_schema(self, flavour: str) -> dict[str, pl.DataType]:
        return {f.source(flavour): (pl.String if f.raw_type(flavour) == JSON else f.raw_type(flavour))
                for f in self.fields if f.source(flavour)}

    def _as_json_text(self, records: Sequence[Any], flavour: str) -> Sequence[Any]:
        """Records with their JSON fields (and the extra fields, gathered) encoded as JSON text."""
        nested = [f.source(flavour) for f in self.fields if f.raw_type(flavour) == JSON and f.source(flavour)]
        if not nested:
            return records
        taken = {f.source(flavour) for f in self.fields}
        out = []
        for record in records:
            if not isinstance(record, Mapping):
                out.append(record)
                continue
            record = dict(record)
            if EXTRA_FIELDS in nested:
                record[EXTRA_FIELDS] = {k: v for k, v in record.items() if k not in taken}
            if WHOLE_RECORD in nested:
                record[WHOLE_RECORD] = {k: v for k, v in record.items() if k != EXTRA_FIELDS}
            for name in nested:
                if record.get(name) is not None:
                    record[name] = orjson.dumps(record[name]).decode()
            out.append(record)
        return out

    def map(
        self,
        records: Sequence[Mapping[str, Any]],
        *,
        flavour: str = "rest",
        constants: Mapping[str, Any] | None = None,
        window: tuple[datetime, datetime] | None = None,
        symbols: frozenset[str] | None = None,
        extra_rules: Sequence[Rule] = (),
    ) -> MappedBatch:
        """Map a page of records. ``constants`` fill columns the records do not carry (symbol of the
        request, timeframe, ...); rows outside ``window``, with a symbol not in ``symbols`` or breaking one
        of ``extra_rules`` (e.g. the table's text lengths) are rejected."""
        schema = self.raw_schema(flavour)
        raw, good, rejects = _raw_frame(self._as_json_text(records, flavour), schema, records)
        if raw.height == 0:
            return MappedBatch(self._empty(constants), rejects)
        constants = dict(constants or {})
        required = [f for f in self.fields if f.required and f.source(flavour)]
        mapped = raw.with_row_index(ROW_INDEX).select(
            ROW_INDEX,
            *[f.expression(flavour) for f in self.fields if f.source(flavour)],
            *[pl.col(f.source(flavour)).is_null().alias(f"_absent_{f.column}") for f in required],
            *[pl.lit(value).alias(name) for name, value in constants.items()],
        )
        for name, expression in self.derived:
            mapped = mapped.with_columns(expression.alias(name))
        checks = [rule for f in required for rule in (
            Rule(f"missing {f.source(flavour)!r}", pl.col(f"_absent_{f.column}")),
            Rule(f"unreadable {f.source(flavour)!r}", pl.col(f.column).is_null()),
        )]
        checks += self.rules
        checks += [rule for rule in extra_rules if all(mapped.schema.get(c) == pl.String for c in rule.columns)]
        if window is not None:
            start, end = window
            t = pl.col(self.time_column)
            checks.append(Rule(f"timestamp outside [{start.isoformat()}, {end.isoformat()})", (t < start) | (t >= end)))
        if symbols is not None and "symbol" in mapped.columns:
            checks.append(Rule("symbol not in the universe", ~pl.col("symbol").is_in(list(symbols))))
        reason = pl.coalesce([pl.when(rule.bad.fill_null(False)).then(pl.lit(rule.reason)) for rule in checks])
        judged = mapped.with_columns(reason.alias("_reason"))
        bad = judged.filter(pl.col("_reason").is_not_null())
        for index, why in bad.select(ROW_INDEX, "_reason").iter_rows():
            rejects.append(Reject(why, records[good[index]]))
        rows = judged.filter(pl.col("_reason").is_null()).drop(
            ROW_INDEX, "_reason", *self.helpers, *[f"_absent_{f.column}" for f in required])
        return MappedBatch(rows, rejects)

    def _empty(self, constants: Mapping[str, Any] | None) -> pl.DataFrame:
        names = dict.fromkeys([f.column for f in self.fields] + [n for n, _ in self.derived] + list(constants or {}))
        return pl.DataFrame(schema={n: pl.Null for n in names if n not in self.helpers})


def _raw_frame(records: Sequence[Any], schema: Mapping[str, pl.DataType], originals: Sequence[Any]
               ) -> tuple[pl.DataFrame, list[int], list[Reject]]:
    """The well-typed records as a frame of ``schema`` (JSON null counts as absent), their indexes, and the
    rest as rejects (carrying the original record). The common case (every record well-typed) costs one
    Polars build; only a page that fails it is checked record by record.
    """
    try:
        return pl.DataFrame(records, schema=schema), list(range(len(records))), []
    except (pl.exceptions.PolarsError, TypeError, ValueError, AttributeError):
        pass
    good, rejects = [], []
    for index, record in enumerate(records):
        problem = _type_problem(record, schema)
        if problem is None:
            good.append(index)
        else:
            rejects.append(Reject(problem, originals[index]))
    return pl.DataFrame([records[i] for i in good], schema=schema), good, rejects


def _type_problem(record: Any, schema: Mapping[str, pl.DataType]) -> str | None:
    if not isinstance(record, Mapping):
        return f"record is a {type(record).__name__}, not an object"
    for name, dtype in schema.items():
        value = record.get(name)
        if value is None:
            continue
        if dtype in _NUMERIC:
            ok = isinstance(value, int | float) and not isinstance(value, bool)
        elif dtype == pl.Boolean:
            ok = isinstance(value, bool)
        elif dtype == pl.String:
            ok = isinstance(value, str)
        elif isinstance(dtype, pl.List):
            inner = str if dtype.inner == pl.String else int
            ok = isinstance(value, list) and all(
                v is None or (isinstance(v, inner) and not isinstance(v, bool)) for v in value)
        elif isinstance(dtype, pl.Struct):
            ok = isinstance(value, Mapping)
        else:
            ok = True
        if not ok:
            return f"field {name!r} has a {type(value).__name__} ({str(value)[:40]!r}), expected {dtype}"
    return None
