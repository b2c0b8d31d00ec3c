"""Reading PostgreSQL's binary COPY output of series: text key columns followed by one-dimensional arrays.

A row such as ``(symbol, feature_name, times timestamptz[], values float8[])`` carries a whole series; its
arrays arrive as fixed-width big-endian elements that NumPy reads in place, so millions of values cost a few
thousand Python steps and no text formatting on either side.
"""

from __future__ import annotations

import struct

import numpy as np

SIGNATURE = b"PGCOPY\n\xff\r\n\x00"
# element type oid -> NumPy dtype of the element; timestamptz counts microseconds from 2000-01-01 UTC.
ELEMENTS = {20: ">i8", 701: ">f8", 1184: ">i8"}
TIMESTAMPTZ = 1184
POSTGRES_EPOCH_US = 946_684_800_000_000


def parse_series(data: bytes, keys: int, arrays: int) -> list[tuple]:
    """Every row of ``data`` as a tuple: ``keys`` str values, then ``arrays`` native NumPy arrays (timestamps in
    Unix microseconds). Arrays must be one-dimensional without NULL elements."""
    if not data.startswith(SIGNATURE):
        raise ValueError("not PostgreSQL binary COPY data")
    (extension,) = struct.unpack_from(">i", data, len(SIGNATURE) + 4)
    pos = len(SIGNATURE) + 8 + extension
    rows = []
    while True:
        (fields,) = struct.unpack_from(">h", data, pos)
        pos += 2
        if fields == -1:
            return rows
        if fields != keys + arrays:
            raise ValueError(f"expected {keys + arrays} columns, got {fields}")
        row: list[object] = []
        for column in range(fields):
            (length,) = struct.unpack_from(">i", data, pos)
            row.append(data[pos + 4: pos + 4 + length].decode() if column < keys else _array(data, pos + 4))
            pos += 4 + length
        rows.append(tuple(row))


def _array(data: bytes, pos: int) -> np.ndarray:
    dims, has_nulls, oid = struct.unpack_from(">iii", data, pos)
    if has_nulls or dims > 1 or oid not in ELEMENTS:
        raise ValueError(f"unsupported array (dimensions {dims}, nulls {has_nulls}, element type {oid})")
    if dims == 0:
        return np.empty(0, ELEMENTS[oid][1:])
    (count,) = struct.unpack_from(">i", data, pos + 12)
    elements = np.frombuffer(data, dtype=[("length", ">i4"), ("value", ELEMENTS[oid])], count=count, offset=pos + 20)
    values = elements["value"].astype(ELEMENTS[oid][1:])
    return values + POSTGRES_EPOCH_US if oid == TIMESTAMPTZ else values
