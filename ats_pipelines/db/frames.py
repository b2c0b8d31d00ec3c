"""Checking a Polars DataFrame against a table and turning it into COPY input.

Every problem is reported as :class:`FrameValidationError` naming the table and the column, before
anything is sent to the database, so a bad batch writes nothing.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from dataclasses import dataclass

import polars as pl

from ats_pipelines.db.catalog import FLOAT_TYPES, INTEGER_TYPES, TEXT_TYPES, Column, TableInfo

_UUID_PATTERN = r"^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$"


class FrameValidationError(ValueError):
    """A DataFrame does not fit a table; ``table`` and ``column`` say where."""

    def __init__(self, table: str, column: str, reason: str) -> None:
        super().__init__(f"{table}.{column}: {reason}")
        self.table = table
        self.column = column
        self.reason = reason


@dataclass(frozen=True)
class PreparedFrame:
    """A validated, de-duplicated frame ready for COPY, and the facts a writer needs about it. ``data`` holds
    the rows as COPY will send them (UTC microsecond times, JSON and arrays as text)."""

    columns: tuple[str, ...]
    data: pl.DataFrame
    rows: int
    duplicates_dropped: int
    time_range: tuple[object, object] | None  # (min, max) of the time column
    key_values: dict[str, list]  # distinct values of the non-time NOT NULL key columns, to narrow overlap probes
    stamp_columns: frozenset[str] = frozenset()  # written along with a change, never a change by themselves


MAX_PROBE_VALUES = 1000


def prepare_frame(info: TableInfo, df: pl.DataFrame, stamp_columns: frozenset[str] = frozenset()) -> PreparedFrame:
    """Validate ``df`` against ``info``, drop repeated keys (the last row wins) and encode it as CSV.

    ``stamp_columns`` record when we fetched a row rather than what it says (ticker_details.last_updated):
    a merge updates them only together with a real change.
    """
    _check_columns(info, df)
    encoded = df.select([_encode(df[name]) for name in df.columns])
    key_in_frame = [k for k in info.key if k in df.columns]
    deduped = encoded
    if key_in_frame and encoded.select(key_in_frame).is_duplicated().any():
        deduped = encoded.unique(subset=key_in_frame, keep="last", maintain_order=True)
    time_range = None
    if info.time_column and info.time_column in deduped.columns and deduped.height:
        ts = deduped[info.time_column]
        time_range = (ts.min(), ts.max())
    key_values = {
        k: values for k in key_in_frame
        if k != info.time_column and k not in info.nullable_key_columns
        and len(values := deduped[k].unique().to_list()) <= MAX_PROBE_VALUES
    }
    return PreparedFrame(
        columns=tuple(deduped.columns),
        data=deduped,
        rows=deduped.height,
        duplicates_dropped=encoded.height - deduped.height,
        time_range=time_range,
        key_values=key_values,
        stamp_columns=stamp_columns,
    )


def csv_bytes(df: pl.DataFrame) -> memoryview:
    """``df`` as headerless CSV, the input of ``COPY .. (FORMAT csv)``."""
    buffer = io.BytesIO()
    df.write_csv(buffer, include_header=False)
    return buffer.getbuffer()


def parse_copy_csv(data: bytes, schema: Mapping[str, pl.DataType]) -> pl.DataFrame:
    """Polars frame of ``COPY .. TO STDOUT (FORMAT csv)`` output (no header, session time zone UTC) with the
    columns and dtypes of ``schema``."""
    if not data:
        return pl.DataFrame(schema=dict(schema))
    times = [n for n, d in schema.items() if isinstance(d, pl.Datetime)]
    frame = pl.read_csv(data, has_header=False, new_columns=list(schema),
                        schema_overrides={n: pl.String if n in times else d for n, d in schema.items()})
    return frame.with_columns(
        pl.col(n).str.to_datetime("%Y-%m-%d %H:%M:%S%.f%#z", time_unit="us").dt.convert_time_zone("UTC")
        for n in times
    )


def _check_columns(info: TableInfo, df: pl.DataFrame) -> None:
    known = set(info.column_names)
    for name in df.columns:
        if name not in known:
            raise FrameValidationError(info.name, name, f"no such column (columns: {', '.join(info.column_names)})")
    for column in info.columns:
        if column.not_null and not column.has_default and column.name not in df.columns:
            raise FrameValidationError(info.name, column.name, "missing, and the column is NOT NULL without default")
    for name in df.columns:
        column = info.column(name)
        _check_type(info.name, column, df[name])
        nulls = df[name].null_count()
        if column.not_null and nulls:
            first = df[name].is_null().arg_true()[0]
            raise FrameValidationError(
                info.name, name, f"{nulls} NULL value(s) in a NOT NULL column (first at row {first})"
            )


def _check_type(table: str, column: Column, s: pl.Series) -> None:
    dtype = s.dtype
    t = column.type_name

    def fail(reason: str) -> None:
        raise FrameValidationError(table, column.name, f"{reason} (column type {column.sql_type}, frame dtype {dtype})")

    if dtype == pl.Null:
        return
    if t in INTEGER_TYPES:
        if not dtype.is_integer():
            fail("needs an integer dtype")
        bound = INTEGER_TYPES[t]
        lo, hi = s.min(), s.max()
        if lo is not None and (lo < -bound or hi >= bound):
            fail(f"value out of range for {t}")
    elif t == "numeric" or t in FLOAT_TYPES:
        if not dtype.is_numeric():
            fail("needs a numeric dtype")
        if dtype.is_float() and (~s.is_finite()).any():
            fail("NaN or infinite value")
        if t == "numeric" and column.numeric_precision is not None:
            limit = 10 ** (column.numeric_precision - (column.numeric_scale or 0))
            biggest = s.abs().max()
            if biggest is not None and float(biggest) >= limit:
                fail(f"value {biggest} does not fit numeric({column.numeric_precision},{column.numeric_scale})")
    elif t == "bool":
        if dtype != pl.Boolean:
            fail("needs a Boolean dtype")
    elif t in TEXT_TYPES:
        if dtype not in (pl.String, pl.Categorical) and not isinstance(dtype, pl.Enum):
            fail("needs a String dtype")
        if column.max_length is not None:
            longest = s.cast(pl.String).str.len_chars().max()
            if longest is not None and longest > column.max_length:
                fail(f"value of {longest} characters exceeds the limit of {column.max_length}")
    elif t == "timestamptz":
        if not isinstance(dtype, pl.Datetime):
            fail("needs a Datetime dtype")
        if dtype.time_zone is None:
            fail("naive datetimes are ambiguous; give them a time zone (UTC)")
    elif t == "date":
        if dtype != pl.Date:
            fail("needs a Date dtype")
    elif t == "time":
        if dtype != pl.Time:
            fail("needs a Time dtype")
    elif t == "uuid":
        if dtype != pl.String:
            fail("needs UUID text in a String dtype")
        if not s.drop_nulls().str.contains(_UUID_PATTERN).all():
            fail("value is not a UUID")
    elif t in {"jsonb", "json"}:
        if dtype != pl.String and not isinstance(dtype, pl.Struct):
            fail("needs JSON text (String) or a Struct dtype")
    elif column.is_array:
        if not isinstance(dtype, pl.List) or dtype.inner not in (pl.String, pl.Null):
            fail("needs a List(String) dtype")
    else:
        fail(f"writing {t} columns is not supported")


def _encode(s: pl.Series) -> pl.Expr:
    """An expression that renders ``s`` as the text PostgreSQL's CSV COPY reads."""
    expr = pl.col(s.name)
    dtype = s.dtype
    if isinstance(dtype, pl.Datetime):
        return expr.dt.convert_time_zone("UTC").dt.cast_time_unit("us")
    if isinstance(dtype, pl.Struct):
        return expr.struct.json_encode()
    if isinstance(dtype, pl.List):
        return _array_literal(expr).alias(s.name)
    if isinstance(dtype, pl.Categorical | pl.Enum):
        return expr.cast(pl.String)
    return expr


def _array_literal(expr: pl.Expr) -> pl.Expr:
    """Render a List(String) as a PostgreSQL array literal, quoting an element only where PostgreSQL's own
    output does (``{a,"b c","d\\"e",NULL}``), so a stored array read back as text equals the batch's."""
    plain = pl.element()
    needs_quotes = (plain.str.contains(r'[{}",\\\s]') | (plain == "") | (plain.str.to_uppercase() == "NULL"))
    escaped = plain.str.replace_all("\\", "\\\\", literal=True).str.replace_all('"', '\\"', literal=True)
    quoted = pl.when(needs_quotes).then(pl.concat_str([pl.lit('"'), escaped, pl.lit('"')])).otherwise(plain)
    element = pl.when(plain.is_null()).then(pl.lit("NULL")).otherwise(quoted)
    return pl.concat_str([pl.lit("{"), expr.list.eval(element).list.join(","), pl.lit("}")])
