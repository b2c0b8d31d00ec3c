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

import polars as pl

Convert = Callable[[pl.Expr], pl.Expr]
ROW_INDEX = "_record"
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

    def raw_schema(self, flavour: str) -> dict[str, pl.DataType]:
        return {f.source(flavour): f.raw_type(flavour) for f in self.fields if f.source(flavour)}

    def map(
        self,
        records: Sequence[Mapping[str, Any]],
        *,
        flavour: str = "rest",
        constants: Mapping[str, Any] | None = None,
        window: tuple[datetime, datetime] | None = None,
        symbols: frozenset[str] | None = None,
    ) -> MappedBatch:
        """Map a page of records. ``constants`` fill columns the records do not carry (symbol of the
        request, timeframe, ...); rows outside ``window`` or with a symbol not in ``symbols`` are rejected."""
        schema = self.raw_schema(flavour)
        raw, good, rejects = _raw_frame(records, schema)
        if raw.height == 0:
            return MappedBatch(self._empty(constants), rejects)
        constants = dict(constants or {})
        mapped = raw.with_row_index(ROW_INDEX).select(
            ROW_INDEX,
            *[f.expression(flavour) for f in self.fields if f.source(flavour)],
            *[pl.lit(value).alias(name) for name, value in constants.items()],
        )
        checks = [
            Rule(f"missing {f.source(flavour)!r}", pl.col(f.column).is_null())
            for f in self.fields if f.required and f.source(flavour)
        ]
        checks += self.rules
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
            rejects.append(Reject(why, good[index]))
        rows = judged.filter(pl.col("_reason").is_null()).drop(ROW_INDEX, "_reason")
        return MappedBatch(rows, rejects)

    def _empty(self, constants: Mapping[str, Any] | None) -> pl.DataFrame:
        names = dict.fromkeys([f.column for f in self.fields] + list(constants or {}))
        return pl.DataFrame(schema=dict.fromkeys(names, pl.Null))


def _raw_frame(records: Sequence[Any], schema: Mapping[str, pl.DataType]
               ) -> tuple[pl.DataFrame, Sequence[Any], list[Reject]]:
    """The well-typed records as a frame of ``schema`` (JSON null counts as absent), those records, and the
    rest as rejects. The common case (every record well-typed) costs one Polars build; only a page that
    fails it is checked record by record.
    """
    try:
        return pl.DataFrame(records, schema=schema), records, []
    except (pl.exceptions.PolarsError, TypeError, ValueError, AttributeError):
        pass
    good, rejects = [], []
    for record in records:
        problem = _type_problem(record, schema)
        if problem is None:
            good.append(record)
        else:
            rejects.append(Reject(problem, record))
    return pl.DataFrame(good, schema=schema), good, rejects


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
            ok = isinstance(value, list) and all(isinstance(v, int) and not isinstance(v, bool) for v in value)
        else:
            ok = True
        if not ok:
            return f"field {name!r} has a {type(value).__name__} ({str(value)[:40]!r}), expected {dtype}"
    return None
