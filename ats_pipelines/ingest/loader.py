"""Stream vendor pages into a table: map, validate, write each page, quarantine the rejects.

Memory stays flat however long the range: one page (at most 50,000 records) is in flight while the
next is fetched on a background thread, so network and database work overlap.
"""

from __future__ import annotations

import hashlib
import queue
import threading
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

import orjson
import polars as pl

from ats_pipelines.db.catalog import TableInfo
from ats_pipelines.db.frames import PreparedFrame
from ats_pipelines.ingest.columns import ColumnMap, Reject, Rule, length_rules
from ats_pipelines.resources.timescale import TimescaleResource

T = TypeVar("T")
REJECTS_TABLE = "ingest_rejects"
BATCH_ROWS = 100_000
MAX_REJECT_BYTES = 64 * 1024
WRITERS = 2
_DONE = object()


@dataclass
class IngestReport:
    """What one ingest did, summed over its pages and symbols; :meth:`as_metadata` feeds Dagster."""

    table: str
    rows_received: int = 0
    rows_inserted: int = 0
    rows_updated: int = 0
    rows_unchanged: int = 0
    pages: int = 0
    stream_rows_superseded: int = 0  # the stream's provisional ticks replaced by the REST ones
    reject_reasons: Counter[str] = field(default_factory=Counter)

    @property
    def rows_rejected(self) -> int:
        return sum(self.reject_reasons.values())

    def absorb(self, other: IngestReport) -> None:
        """Add the counts of another ingest into the same table (a part run alongside this one)."""
        self.rows_received += other.rows_received
        self.rows_inserted += other.rows_inserted
        self.rows_updated += other.rows_updated
        self.rows_unchanged += other.rows_unchanged
        self.pages += other.pages
        self.stream_rows_superseded += other.stream_rows_superseded
        self.reject_reasons.update(other.reject_reasons)

    def as_metadata(self) -> dict[str, Any]:
        return {
            "rows_received": self.rows_received,
            "rows_written": self.rows_inserted + self.rows_updated,
            "rows_inserted": self.rows_inserted,
            "rows_updated": self.rows_updated,
            "rows_unchanged": self.rows_unchanged,
            "rows_rejected": self.rows_rejected,
            "stream_rows_superseded": self.stream_rows_superseded,
            "reject_reasons": dict(self.reject_reasons.most_common(20)),
            "pages": self.pages,
        }


def prefetch(items: Iterable[T], depth: int = 2) -> Iterator[T]:
    """Iterate ``items`` on a background thread, ``depth`` ahead of the consumer; errors re-raise here."""
    buffer: queue.Queue[Any] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in items:
                if stop.is_set():
                    return
                buffer.put(item)
            buffer.put(_DONE)
        except BaseException as exc:  # handed to the consumer
            buffer.put(exc)

    thread = threading.Thread(target=produce, name="prefetch", daemon=True)
    thread.start()
    try:
        while (item := buffer.get()) is not _DONE:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        while thread.is_alive():  # unblock a producer waiting on a full buffer
            try:
                buffer.get_nowait()
            except queue.Empty:
                thread.join(timeout=0.05)


def ingest_pages(
    timescale: TimescaleResource,
    column_map: ColumnMap,
    pages: Iterable[tuple[Mapping[str, Any], Sequence[Mapping[str, Any]]]],
    report: IngestReport,
    *,
    window: tuple[datetime, datetime] | None,
    partition_key: str | None,
    finish: Callable[[pl.DataFrame], pl.DataFrame] | None = None,
    companions: Sequence[tuple[str, Callable[[pl.DataFrame], pl.DataFrame]]] = (),
    source: str = "polygon",
) -> None:
    """Write every page's good rows to ``column_map.table`` and its rejects to the quarantine.

    ``pages`` yields ``(constants, records)``: the columns the records do not carry (the requested symbol,
    timeframe, ...) and one page of records. Pages are gathered into batches of about ``BATCH_ROWS`` rows,
    and three stages overlap: the next page is fetched on one background thread while this one is mapped
    and serialised, and earlier batches are written by ``WRITERS`` threads, each on its own connection, so
    the database parses and indexes on several cores. Batches of one ingest hold disjoint keys (a page is
    never split), and the writer's upsert stays correct should two overlap. An error in any stage stops
    the ingest and is raised here.
    """
    lock = threading.Lock()
    info = timescale.table_info(column_map.table)
    fits = table_length_rules(info)

    def write(rows: PreparedFrame | None, rejects: list[tuple[str | None, list[Reject]]],
              companion_rows: list[tuple[str, PreparedFrame]]) -> None:
        for table, prepared in companion_rows:
            timescale.write_prepared(table, prepared)
        if rows is not None:
            result = timescale.write_prepared(column_map.table, rows)
            with lock:
                report.rows_inserted += result.inserted
                report.rows_updated += result.updated
                report.rows_unchanged += result.unchanged
        for symbol, rejected in rejects:
            record_rejects(timescale, column_map.table, rejected, source=source, partition_key=partition_key,
                           symbol=symbol)
            with lock:
                report.reject_reasons.update(r.reason for r in rejected)

    pending: deque[Future[None]] = deque()
    frames: list[pl.DataFrame] = []
    buffered_rows = 0
    rejects: list[tuple[str | None, list[Reject]]] = []

    def submit() -> None:
        nonlocal buffered_rows
        mapped = pl.concat(frames, how="diagonal_relaxed") if frames else None
        companion_rows = [(table, timescale.prepare(table, rows_of(mapped))) for table, rows_of in companions
                          if mapped is not None]
        rows = finish(mapped) if finish and mapped is not None else mapped
        prepared = (timescale.prepare(column_map.table, rows, column_map.stamp_columns)
                    if rows is not None and rows.height else None)
        pending.append(writer.submit(write, prepared, list(rejects), companion_rows))
        frames.clear()
        buffered_rows = 0
        rejects.clear()
        while len(pending) > WRITERS:
            pending.popleft().result()

    with ThreadPoolExecutor(max_workers=WRITERS, thread_name_prefix="ingest-writer") as writer:
        try:
            for constants, records in prefetch(pages):
                batch = column_map.map(records, constants=constants, window=window, extra_rules=fits)
                report.pages += 1
                report.rows_received += len(records)
                if batch.rows.height:
                    frames.append(batch.rows)
                    buffered_rows += batch.rows.height
                if batch.rejects:
                    rejects.append((constants.get("symbol"), batch.rejects))
                if buffered_rows >= BATCH_ROWS:
                    submit()
            if frames or rejects:
                submit()
            while pending:
                pending.popleft().result()
        finally:
            for future in pending:
                future.cancel()


def table_length_rules(info: TableInfo) -> list[Rule]:
    """A rule per length-limited text column of the table: longer text is rejected per record."""
    return length_rules([(c.name, c.max_length) for c in info.columns if c.max_length and not c.is_array])


def record_rejects(timescale: TimescaleResource, table: str, rejects: Sequence[Reject], *, source: str,
                   partition_key: str | None, symbol: str | None) -> None:
    """Keep rejected records with their reasons in ``ingest_rejects`` (once per distinct record; a record
    larger than ``MAX_REJECT_BYTES`` is kept as its size, hash and start)."""
    encoded = [_bounded(orjson.dumps(r.record, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS))
               for r in rejects]
    frame = pl.DataFrame({
        "table_name": [table] * len(rejects),
        "source": [source] * len(rejects),
        "partition_key": [partition_key] * len(rejects),
        "symbol": [symbol] * len(rejects),
        "reason": [r.reason for r in rejects],
        "record": [e.decode() for e in encoded],
        "record_hash": [hashlib.md5(table.encode() + b"|" + e).hexdigest() for e in encoded],
    }, schema_overrides={"partition_key": pl.String, "symbol": pl.String})
    timescale.write(REJECTS_TABLE, frame)


def _bounded(encoded: bytes) -> bytes:
    if len(encoded) <= MAX_REJECT_BYTES:
        return encoded
    return orjson.dumps({"truncated": True, "bytes": len(encoded), "md5": hashlib.md5(encoded).hexdigest(),
                         "start": encoded[:4096].decode("utf-8", "replace")})
