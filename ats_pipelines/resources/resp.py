"""Redis commands encoded in bulk: a Polars frame in, RESP bytes out, one command per row.

The encoding runs in Polars' native string kernels, so a refresh of hundreds of thousands of keys spends
its time in Redis, not in a Python loop (``../shared/limits.md``: pre-encoded RESP over one socket reaches
0.63 of redis-benchmark; redis-py pipelines 0.08-0.12).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import polars as pl

BATCH = 10_000  # commands per write-then-read round trip: replies never pile up in the socket


@dataclass(frozen=True)
class Spread:
    """An argument that is a List(String) column, spread into as many arguments as each row's list holds
    (ZADD's score/member pairs, SADD's members)."""

    expr: pl.Expr


def encode(frame: pl.DataFrame, *commands: Sequence[str | pl.Expr | Spread]) -> Iterator[tuple[bytes, int]]:
    """``(bytes, commands)`` batches that send, for each row of ``frame``, every command of ``commands`` in
    order (so ``MULTI``, ``DEL``, ``ZADD``, ``EXEC`` make one atomic replace per row). Each argument is a
    literal (str), an expression over the frame's columns, or a :class:`Spread` list."""
    spreads = {id(a): f"_spread_{i}" for i, a in enumerate(a for c in commands for a in c if isinstance(a, Spread))}
    frame = frame.with_columns(
        pl.int_range(pl.len()).alias("_row"),
        *(a.expr.list.len().alias(f"{spreads[id(a)]}_n") for c in commands for a in c if isinstance(a, Spread)),
    )
    for command in commands:
        for argument in command:
            if isinstance(argument, Spread):
                frame = frame.join(_spread_bulk(frame, argument.expr, spreads[id(argument)]), on="_row", how="left")
    resp = frame.select(pl.concat_str([_command(c, spreads) for c in commands]).alias("resp"))["resp"]
    if resp.null_count():
        raise ValueError("a Redis command argument is NULL")
    rows = max(1, BATCH // len(commands))
    for start in range(0, resp.len(), rows):
        chunk = resp.slice(start, rows)
        yield chunk.str.join("").item().encode(), chunk.len() * len(commands)


def _spread_bulk(frame: pl.DataFrame, items: pl.Expr, name: str) -> pl.DataFrame:
    """``_row`` and ``name``: each row's list as consecutive bulk strings, built on the flattened list (one
    vectorised pass, not one evaluation per row)."""
    flat = frame.select("_row", items.alias("_item")).explode("_item").drop_nulls("_item")
    return flat.group_by("_row", maintain_order=True).agg(_bulk(pl.col("_item").cast(pl.String)).str.join("")
                                                          .alias(name))


def _command(arguments: Sequence[str | pl.Expr | Spread], spreads: dict[int, str]) -> pl.Expr:
    count: pl.Expr = pl.lit(sum(not isinstance(a, Spread) for a in arguments))
    parts: list[pl.Expr] = []
    for argument in arguments:
        if isinstance(argument, Spread):
            name = spreads[id(argument)]
            parts.append(pl.col(name).fill_null(""))
            count = count + pl.col(f"{name}_n")
        else:
            parts.append(_bulk(pl.lit(argument) if isinstance(argument, str) else argument.cast(pl.String)))
    return pl.concat_str([pl.lit("*"), count.cast(pl.String), pl.lit("\r\n"), *parts])


def _bulk(expr: pl.Expr) -> pl.Expr:
    """One RESP bulk string: ``$<bytes>\\r\\n<value>\\r\\n``."""
    return pl.concat_str([pl.lit("$"), expr.str.len_bytes().cast(pl.String), pl.lit("\r\n"), expr, pl.lit("\r\n")])
