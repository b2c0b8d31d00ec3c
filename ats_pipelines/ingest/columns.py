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
from itertools import chain, repeat
from typing import Any

import orjson
import polars as pl

Convert = Callable[[pl.Expr], pl.Expr]
JSON = pl.Object  # Field.raw of a nested value kept whole, as JSON text for a JSONB column
EXTRA_FIELDS = "__extra__"  # Field.rest/stream meaning "every field no other column takes", as one JSON object
WHOLE_RECORD = "__record__"  # Field.rest/stream meaning "the record as received", as one JSON object


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

    ``raw`` is the JSON type to expect and ``convert`` turns it into the column's value; ``stream_raw``,
    ``stream_convert`` and ``stream_required`` override them where the stream sends the field differently
    (ms instead of ns, always present where REST may omit it, ...).
    """

    column: str
    rest: str | None
    stream: str | None = None
    raw: pl.DataType = pl.Float64
    convert: Convert | None = None
    required: bool = True
    stream_raw: pl.DataType | None = None
    stream_convert: Convert | None = None
    stream_required: bool | None = None

    def source(self, flavour: str) -> str | None:
        return self.rest if flavour == "rest" else self.stream

    def raw_type(self, flavour: str) -> pl.DataType:
        return self.stream_raw if flavour == "stream" and self.stream_raw is not None else self.raw

    def required_in(self, flavour: str) -> bool:
        if flavour == "stream" and self.stream_required is not None:
            return self.stream_required
        return self.required

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
    """The good rows of a page (table columns only), the index in the page of each row's record, and the
    rejected records."""

    rows: pl.DataFrame
    rejects: list[Reject] = field(default_factory=list)
    index: list[int] = field(default_factory=list)


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
        """Map a page of records (see :meth:`mapper`, which a caller mapping many small batches the same way
        builds once)."""
        mapper = self.mapper(flavour=flavour, constants=constants, window=window, symbols=symbols,
                             extra_rules=extra_rules)
        return mapper.map(records)

    def mapper(
        self,
        *,
        flavour: str = "rest",
        constants: Mapping[str, Any] | None = None,
        window: tuple[datetime, datetime] | None = None,
        symbols: frozenset[str] | None = None,
        extra_rules: Sequence[Rule] = (),
    ) -> Mapper:
        """The mapping of records of one flavour into rows, built once. ``constants`` fill columns the records
        do not carry (symbol of the request, timeframe, ...); rows outside ``window``, with a symbol not in
        ``symbols`` or breaking one of ``extra_rules`` (e.g. the table's text lengths) are rejected."""
        constants = dict(constants or {})
        required = [f for f in self.fields if f.required_in(flavour) and f.source(flavour)]
        select = (
            *[f.expression(flavour) for f in self.fields if f.source(flavour)],
            *[pl.lit(value).alias(name) for name, value in constants.items()],
        )
        derived = tuple(expression.alias(name) for name, expression in self.derived)
        mapped_schema = _mapped(pl.DataFrame(schema=self.raw_schema(flavour)), select, derived).schema
        checks = list(self.rules)
        checks += [rule for rule in extra_rules if all(mapped_schema.get(c) == pl.String for c in rule.columns)]
        if window is not None:
            start, end = window
            t = pl.col(self.time_column)
            checks.append(Rule(f"timestamp outside [{start.isoformat()}, {end.isoformat()})", (t < start) | (t >= end)))
        if symbols is not None and "symbol" in mapped_schema:
            checks.append(Rule("symbol not in the universe", ~pl.col("symbol").is_in(list(symbols))))
        # The first broken rule's position (a small integer is cheaper to compute than its reason's text).
        broken = pl.coalesce([pl.when(rule.bad.fill_null(False)).then(pl.lit(i, dtype=pl.UInt16))
                              for i, rule in enumerate(checks)]) if checks else pl.lit(None, dtype=pl.UInt16)
        helpers = {"_reason", *self.helpers}
        return Mapper(self, flavour, constants, select, derived, tuple((f.source(flavour), f.column) for f in required),
                      broken.alias("_reason"), tuple(rule.reason for rule in checks),
                      tuple(c for c in mapped_schema if c not in helpers))

    def _empty(self, constants: Mapping[str, Any] | None) -> pl.DataFrame:
        names = dict.fromkeys([f.column for f in self.fields] + [n for n, _ in self.derived] + list(constants or {}))
        return pl.DataFrame(schema={n: pl.Null for n in names if n not in self.helpers})


def _mapped(raw: pl.DataFrame, select: Sequence[Any], derived: Sequence[pl.Expr]) -> pl.DataFrame:
    mapped = raw.select(*select)
    for expression in derived:
        mapped = mapped.with_columns(expression)
    return mapped


@dataclass(frozen=True)
class Mapper:
    """A column map's mapping of one flavour, with its constants and rules: built by :meth:`ColumnMap.mapper`."""

    column_map: ColumnMap
    flavour: str
    constants: Mapping[str, Any]
    select: tuple[Any, ...]
    derived: tuple[pl.Expr, ...]
    required: tuple[tuple[str, str], ...]  # (record field, column) of each required field, in order
    broken: pl.Expr  # the position in ``reasons`` of the first rule a row breaks, null if none
    reasons: tuple[str, ...]
    columns: tuple[str, ...]  # the row columns, in order

    def map(self, records: Sequence[Mapping[str, Any]]) -> MappedBatch:
        """The good rows of ``records`` and their rejects, each with its reason: a wrong JSON type first, then
        a missing (or unreadable) required field in field order, then the rules in order. A batch costs the
        same few Polars operations whatever it holds (the stream maps hundreds of small batches a second)."""
        cm = self.column_map
        raw, positions, mistyped = _raw_frame(cm._as_json_text(records, self.flavour), cm.raw_schema(self.flavour))
        rejects = [Reject(mistyped[i], records[i]) for i in sorted(mistyped)]
        if raw.height == 0:
            return MappedBatch(cm._empty(self.constants), rejects)
        # row -> reason it fails; None: rejected already for a wrong type
        failed: dict[int, str | None] = {row: None for row, i in enumerate(positions) if i in mistyped}
        judged = _mapped(raw, self.select, self.derived).with_columns(self.broken)
        for source, column in self.required:  # null counts are free: only a column with nulls is read
            absent, converted = raw[source], judged[column]
            if absent.null_count():
                failed.update({row: f"missing {source!r}" for row, value in enumerate(absent.to_list())
                               if value is None and row not in failed})
            if converted.null_count() > absent.null_count():
                failed.update({row: f"unreadable {source!r}" for row, null in enumerate(converted.is_null().to_list())
                               if null and row not in failed})
        broken = judged["_reason"]
        if broken.null_count() < judged.height:
            failed.update({row: self.reasons[rule] for row, rule in enumerate(broken.to_list())
                           if rule is not None and row not in failed})
        rows = judged[list(self.columns)]
        if not failed:  # the common case: every row passed
            return MappedBatch(rows, rejects, positions)
        rejects += [Reject(why, records[positions[row]]) for row, why in sorted(failed.items()) if why is not None]
        passed = [row for row in range(judged.height) if row not in failed]
        return MappedBatch(rows[passed], rejects, [positions[row] for row in passed])


def _raw_frame(records: Sequence[Any], schema: Mapping[str, pl.DataType]
               ) -> tuple[pl.DataFrame, list[int], dict[int, str]]:
    """The records that are objects as a frame of ``schema`` (JSON null counts as absent), the index in
    ``records`` of each of its rows, and {index in ``records``: reason} of the records that are not objects
    or hold a value of the wrong type (null in the frame, whose row the caller drops).

    Types are strict: a boolean, a numeric string or a fractional number where an integer belongs is a
    reject, never coerced (Polars alone would read ``true`` as 1.0 and ``"12.5"`` as 12.5). One pass per
    column over C-level ``type`` checks; only a column that fails it is looked at value by value.
    """
    plain = set(map(type, records)) <= {dict}  # parsed JSON: each column read at C speed
    positions = list(range(len(records))) if plain else [i for i, r in enumerate(records) if isinstance(r, Mapping)]
    objects = records if plain else [records[i] for i in positions]
    problems = {} if plain else {i: f"record is a {type(r).__name__}, not an object" for i, r in enumerate(records)
                                 if not isinstance(r, Mapping)}
    columns = []
    for name, dtype in schema.items():
        values = list(map(dict.get, objects, repeat(name))) if plain else [r.get(name) for r in objects]
        column, bad = _typed_column(name, dtype, values)
        columns.append(column)
        for row, problem in bad.items():
            problems.setdefault(positions[row], problem)
    frame = pl.DataFrame(columns, schema=schema) if columns else pl.DataFrame(schema=schema)
    return frame, positions, problems


def _typed_column(name: str, dtype: pl.DataType, values: list[Any]) -> tuple[pl.Series, dict[int, str]]:
    """``values`` as a Series of ``dtype``, and {index: reason} of those without exactly its JSON type (null in
    the Series)."""
    allowed = _allowed_types(dtype)
    inner = _allowed_types(dtype.inner) if isinstance(dtype, pl.List) else None
    if (allowed is None or set(map(type, values)) <= allowed) and (inner is None or set(
            map(type, chain.from_iterable(v for v in values if v is not None))) <= inner):
        try:
            return pl.Series(name, values, dtype=dtype, strict=True), {}
        except (TypeError, OverflowError, pl.exceptions.PolarsError):
            pass  # an integer beyond 64 bits, a struct of other fields: found value by value
    problems = _column_problems(name, dtype, values)
    values = [None if j in problems else v for j, v in enumerate(values)]
    try:
        return pl.Series(name, values, dtype=dtype, strict=True), problems
    except (TypeError, OverflowError, pl.exceptions.PolarsError):
        return pl.Series(name, values, dtype=dtype, strict=False), problems


_NONE = type(None)
_INT64_RANGE = (-(2**63), 2**63 - 1)


def _allowed_types(dtype: pl.DataType) -> set[type] | None:
    """The Python types (of parsed JSON) a value of ``dtype`` may arrive as; None: not checked by type."""
    if dtype in (pl.Float64, pl.Float32):
        return {int, float, _NONE}
    if dtype.is_integer():
        return {int, _NONE}
    if dtype == pl.String:
        return {str, _NONE}
    if dtype == pl.Boolean:
        return {bool, _NONE}
    if isinstance(dtype, pl.List):
        return {list, _NONE}
    if isinstance(dtype, pl.Struct):
        return {dict, _NONE}
    return None


def _column_problems(name: str, dtype: pl.DataType, values: list[Any]) -> dict[int, str]:
    """{index: reason} of the values of one column that do not have exactly its JSON type."""
    allowed = _allowed_types(dtype)
    if allowed is None:
        return {}
    deep = dtype.is_integer() or isinstance(dtype, (pl.List, pl.Struct))  # a type check alone does not settle it
    return {i: f"field {name!r} has a {type(v).__name__} ({str(v)[:40]!r}), expected {dtype}"
            for i, v in enumerate(values)
            if type(v) not in allowed or (deep and v is not None and not _value_fits(v, dtype))}


def _value_fits(value: Any, dtype: pl.DataType) -> bool:
    """Whether one parsed JSON value has exactly the type ``dtype`` expects (no coercion)."""
    if value is None:
        return True
    allowed = _allowed_types(dtype)
    if allowed is not None and type(value) not in allowed:
        return False
    if type(value) is int and dtype.is_integer():
        return _INT64_RANGE[0] <= value <= _INT64_RANGE[1]
    if isinstance(dtype, pl.List):
        return all(_value_fits(v, dtype.inner) for v in value)
    if isinstance(dtype, pl.Struct):
        return all(_value_fits(value.get(f.name), f.dtype) for f in dtype.fields)
    return True
