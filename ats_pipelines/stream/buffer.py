"""The stream's rows and rejects on their way to the database: kept until written, never dropped.

A flush takes everything buffered and writes it in a worker thread. A failed write (the database
restarting, a constraint or type the server refuses) gives the whole batch back, ahead of what arrived
since, and the next attempt waits with exponential backoff. After ``isolate_after`` failures in a row that
are not connection failures, the batch is written in halves down to single rows, so one row the server
refuses goes to ``ingest_rejects`` with the server's reason instead of blocking the table. A failure lasting
``alert_after_seconds`` raises one ``stream_write_failing`` alert (recorded as soon as the database takes it).
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime

import polars as pl
import psycopg
import psycopg_pool

from ats_pipelines.db.writer import WriteResult
from ats_pipelines.defs.monitoring.alerts import record_alert
from ats_pipelines.ingest.columns import Reject
from ats_pipelines.ingest.loader import record_rejects
from ats_pipelines.resources import TimescaleResource

log = logging.getLogger("ats_pipelines.stream")
REJECT_SOURCE = "polygon_ws"
CONNECTION_ERRORS = (psycopg.OperationalError, psycopg.InterfaceError, psycopg_pool.PoolTimeout, OSError)


@dataclass
class Batch:
    """What one flush writes: rows per (table, event type) and rejects per table name."""

    rows: dict[tuple[str, str], list[pl.DataFrame]] = field(default_factory=dict)
    rejects: dict[str, list[Reject]] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.rows or self.rejects)

    @property
    def row_count(self) -> int:
        return sum(f.height for frames in self.rows.values() for f in frames)


@dataclass
class WriteStats:
    rows_written: int = 0
    write_failures: int = 0
    rows_refused: int = 0  # rows the server refused alone, kept in ingest_rejects
    rejected: Counter = field(default_factory=Counter)  # per event type ("frame", "unknown" too)


class WriteBuffer:
    """See the module docstring. Not thread-safe: used from the event loop; :meth:`write` runs in a thread."""

    def __init__(self, timescale: TimescaleResource, *, max_backoff_seconds: float = 30.0,
                 alert_after_seconds: float = 60.0, isolate_after: int = 3) -> None:
        self.timescale = timescale
        self.max_backoff_seconds, self.alert_after_seconds = max_backoff_seconds, alert_after_seconds
        self.isolate_after = isolate_after
        self.stats = WriteStats()
        self._batch = Batch()
        self.rows = 0
        self.failing_since: float | None = None
        self._failures_in_a_row = 0
        self._retry_at = 0.0
        self._alert_due: dict | None = None

    @property
    def empty(self) -> bool:
        """Nothing is waiting to be written."""
        return not self._batch

    @property
    def due(self) -> bool:
        """Whether a flush may run now (not inside a failure's backoff)."""
        return time.monotonic() >= self._retry_at

    def add_rows(self, table: str, event: str, rows: pl.DataFrame) -> None:
        self._batch.rows.setdefault((table, event), []).append(rows)
        self.rows += rows.height

    def add_rejects(self, table: str, kind: str, rejects: list[Reject]) -> None:
        """Quarantine ``rejects`` (counted under ``kind``, an event type, ``frame`` or ``unknown``)."""
        self._batch.rejects.setdefault(table, []).extend(rejects)
        self.stats.rejected[kind] += len(rejects)

    def take(self) -> Batch:
        batch, self._batch, self.rows = self._batch, Batch(), 0
        return batch

    def give_back(self, batch: Batch, error: BaseException) -> None:
        """A failed write: its batch goes back ahead of newer rows; the next try waits."""
        for key, frames in batch.rows.items():
            self._batch.rows[key] = frames + self._batch.rows.get(key, [])
        for table, rejects in batch.rejects.items():
            self._batch.rejects[table] = rejects + self._batch.rejects.get(table, [])
        self.rows += batch.row_count
        self.stats.write_failures += 1
        self._failures_in_a_row += 1
        now = time.monotonic()
        self.failing_since = self.failing_since or now
        backoff = min(0.5 * 2 ** (self._failures_in_a_row - 1), self.max_backoff_seconds)
        self._retry_at = now + backoff
        log.warning("database write failed (%s: %s); %d rows kept, retrying in %.1f s", type(error).__name__,
                    str(error).strip().splitlines()[0] if str(error).strip() else "", self.rows, backoff)
        if now - self.failing_since >= self.alert_after_seconds and self._alert_due is None:
            since = datetime.now(UTC).timestamp() - (now - self.failing_since)
            self._alert_due = {"failing_since": datetime.fromtimestamp(since, UTC).isoformat()}
            log.error("the stream has not been able to write to the database for %.0f s (%s); %d rows kept in "
                      "memory", now - self.failing_since, type(error).__name__, self.rows)

    def written(self) -> None:
        """A write succeeded: the failure streak and its backoff end."""
        self._failures_in_a_row, self.failing_since, self._retry_at = 0, None, 0.0

    def write(self, batch: Batch) -> dict[tuple[str, str], pl.DataFrame]:
        """Write a batch (worker thread): rows per table, then rejects. Returns the rows written per (table,
        event type); raises on failure, leaving in ``batch`` only what is unwritten."""
        isolate = self._failures_in_a_row >= self.isolate_after
        written = {}
        for key in list(batch.rows):
            table, event = key
            rows = pl.concat(batch.rows[key], how="diagonal_relaxed")
            if isolate:
                landed = self._write_isolating(table, event, rows)
            else:
                landed = _landed(self.timescale.write(table, rows))
            self.stats.rows_written += landed  # new or changed rows: a resent event that changes nothing is not one
            written[key] = rows
            del batch.rows[key]
        for table in list(batch.rejects):
            record_rejects(self.timescale, table, batch.rejects[table], source=REJECT_SOURCE, partition_key=None,
                           symbol=None)
            del batch.rejects[table]
        if self._alert_due is not None:
            self._record_alert()
        return written

    def _write_isolating(self, table: str, event: str, rows: pl.DataFrame) -> int:
        """Write ``rows`` in halves until the rows the server refuses stand alone; those are quarantined.
        Returns the rows that landed."""
        try:
            return _landed(self.timescale.write(table, rows))
        except CONNECTION_ERRORS:
            raise
        except Exception as exc:  # noqa: BLE001 - the server refused something in these rows
            if rows.height == 1:
                reason = f"database refused the row: {str(exc).strip().splitlines()[0][:300]}"
                record_rejects(self.timescale, table, [Reject(reason, rows.to_dicts()[0])], source=REJECT_SOURCE,
                               partition_key=None, symbol=None)
                self.stats.rows_refused += 1
                self.stats.rejected[event] += 1
                return 0
            half = rows.height // 2
            return (self._write_isolating(table, event, rows.head(half))
                    + self._write_isolating(table, event, rows.tail(rows.height - half)))

    def _record_alert(self) -> None:
        cause = self._alert_due or {}
        record_alert(self.timescale, alert_type="stream_write_failing", severity="error", component="stream",
                     message=f"the stream could not write to the database from {cause.get('failing_since')}; "
                             "its rows were kept in memory and written once it could", cause=cause)
        self._alert_due = None


def _landed(result: WriteResult) -> int:
    return result.inserted + result.updated
