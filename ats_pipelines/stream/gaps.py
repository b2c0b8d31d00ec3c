"""Gap fill: the minute bars a stream missed (a reconnect, a restart) come from REST, per symbol, once.

Each symbol has a watermark in ``stream_bar_watermarks``: the newest bar time up to which its bars are
known to be stored. It advances only when every bar before it is in the table (a live bar flushed while no
gap is open, or a completed fill), so a new process finds it and knows where its predecessor stopped.

After every connect, each symbol of the cluster has an open gap. Its first live bar closes it: the bars
from the symbol's last stored bar (the newest live bar this process saw, else its watermark, else its
newest stored bar within ``max_lookback``) up to and including that first live bar are fetched from REST
and upserted. Windows are per symbol, so a bar that arrived before a symbol's subscription took effect is
still inside its window. A fill that fails (REST or the database down) is retried with backoff; the
watermark stays behind until it succeeds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from psycopg import sql

from ats_pipelines.defs.market_data.loads import load_bars
from ats_pipelines.ingest.columns import ColumnMap
from ats_pipelines.ingest.loader import IngestReport
from ats_pipelines.ingest.polygon_maps import CRYPTO_AGGS, STOCK_AGGS
from ats_pipelines.resources import PolygonResource, TimescaleResource
from ats_pipelines.resources.http import ApiClient
from ats_pipelines.sql_files import read_sql_beside

log = logging.getLogger("ats_pipelines.stream")
ADVANCE_WATERMARKS_SQL = read_sql_beside(__file__, "advance_watermarks.sql")
READ_WATERMARK_SQL = read_sql_beside(__file__, "read_watermark.sql")
ASK_THE_DATABASE = -1  # an open gap whose start only the database knows (first connect of a process)
BAR_MAPS: dict[str, ColumnMap] = {"stocks": STOCK_AGGS, "crypto": CRYPTO_AGGS}
T = TypeVar("T")


def ms_time(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


@dataclass
class GapStats:
    fills: int = 0
    bars_filled: int = 0
    failures: int = 0


class GapFiller:
    """Tracks open gaps and watermarks per symbol and fills gaps from REST in worker threads."""

    def __init__(self, timescale: TimescaleResource, polygon: PolygonResource | None,
                 max_lookback: timedelta = timedelta(days=3), max_backoff_seconds: float = 30.0,
                 concurrency: int = 4) -> None:
        self.timescale, self.polygon = timescale, polygon
        self.max_lookback, self.max_backoff_seconds = max_lookback, max_backoff_seconds
        self.stats = GapStats()
        self._open: dict[str, int] = {}  # symbol -> start of its gap (ms) or ASK_THE_DATABASE
        self._filling: set[str] = set()
        self._seen: dict[str, int] = {}  # newest live bar per symbol (ms)
        self._stored: dict[str, int] = {}  # newest live bar per symbol written to the table (ms)
        self._watermark: dict[str, int] = {}  # bars stored through (ms), as known to this process
        self._dirty: set[str] = set()  # watermarks not yet written to the database
        self._tasks: set[asyncio.Task] = set()
        self._slots = asyncio.Semaphore(concurrency)
        self._rest_client: ApiClient | None = None  # one REST client for every fill (see :meth:`_rest`)
        self._rest_stack = contextlib.ExitStack()
        self._rest_lock = threading.Lock()

    @property
    def pending(self) -> int:
        """Gaps open or being filled."""
        return len(self._open) + len(self._filling)

    def connected(self, symbols: list[str]) -> None:
        """A (re)connect: every symbol has an open gap, from its newest bar seen (else the database's)."""
        for symbol in symbols:
            self._open[symbol] = self._seen.get(symbol, ASK_THE_DATABASE)

    def bar_seen(self, cluster: str, symbol: str, start_ms: int) -> None:
        """A validated live bar; the first one after a connect that is newer than the gap's start closes the
        symbol's gap (a bar already stored, resent or late, does not)."""
        self._seen[symbol] = max(start_ms, self._seen.get(symbol, start_ms))
        gap_from = self._open.get(symbol)
        if gap_from is None or self.polygon is None or (gap_from != ASK_THE_DATABASE and start_ms <= gap_from):
            return
        del self._open[symbol]
        self._filling.add(symbol)
        task = asyncio.get_running_loop().create_task(self._fill(cluster, symbol, gap_from, start_ms))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def bars_stored(self, newest: dict[str, int]) -> None:
        """Live bars were written: symbols without an open gap advance their watermark to them."""
        for symbol, start_ms in newest.items():
            self._stored[symbol] = max(start_ms, self._stored.get(symbol, start_ms))
            if symbol not in self._open and symbol not in self._filling:
                self._advance(symbol, start_ms)

    def take_watermarks(self) -> dict[str, int]:
        """The watermarks that moved since the last call, to be written with the next flush."""
        moved = {s: self._watermark[s] for s in self._dirty}
        self._dirty.clear()
        return moved

    def keep_watermarks(self, watermarks: dict[str, int]) -> None:
        """Give back watermarks whose write failed."""
        self._dirty.update(watermarks)

    def write_watermarks(self, watermarks: dict[str, int]) -> None:
        """Persist watermarks (they only move forward); runs in the writer thread."""
        if watermarks:
            self.timescale.execute(ADVANCE_WATERMARKS_SQL, {
                "symbols": list(watermarks), "times": [ms_time(ms) for ms in watermarks.values()]})

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        with self._rest_lock:
            self._rest_stack.close()
            self._rest_client = None

    def _rest(self) -> ApiClient:
        """The REST client every fill of this process shares (thread-safe, its connections kept): a client per
        fill costs ~20 ms of CPU (its TLS context) and new connections, which a restart's fill of every symbol
        would spend per symbol while the live events arrive (the paced stream bench's p99 lag: 15–25 ms with
        one client, 35–60 ms with one per fill)."""
        with self._rest_lock:
            if self._rest_client is None:
                self._rest_client = self._rest_stack.enter_context(self.polygon.client())
            return self._rest_client

    def _advance(self, symbol: str, start_ms: int) -> None:
        if start_ms > self._watermark.get(symbol, -1):
            self._watermark[symbol] = start_ms
            self._dirty.add(symbol)

    async def _fill(self, cluster: str, symbol: str, gap_from: int, first_live: int) -> None:
        backoff = 0.5
        try:
            async with self._slots:
                while True:
                    try:
                        gap_from, filled = await _in_daemon_thread(self._fill_window, cluster, symbol, gap_from,
                                                                   first_live)
                        break
                    except Exception as exc:  # noqa: BLE001 - REST or the database down: retried, never fatal
                        self.stats.failures += 1
                        log.warning("gap fill of %s failed (%s); retrying in %.1f s", symbol, exc, backoff)
                        await asyncio.sleep(backoff)
                        backoff = min(backoff * 2, self.max_backoff_seconds)
        finally:
            self._filling.discard(symbol)
        if filled is None and gap_from is not None and symbol not in self._open:
            # The first bar after the connect was one already stored: the gap stays open from the stored one,
            # and a newer bar seen meanwhile closes it now.
            self._open[symbol] = gap_from
            if self._seen.get(symbol, -1) > gap_from:
                self.bar_seen(cluster, symbol, self._seen[symbol])
            return
        self.stats.fills += filled is not None
        self.stats.bars_filled += filled or 0
        # Live bars stored while the fill ran are contiguous with it, unless the connection dropped meanwhile.
        newest = first_live if symbol in self._open else max(first_live, self._stored.get(symbol, first_live))
        self._advance(symbol, newest)

    def _fill_window(self, cluster: str, symbol: str, gap_from: int, first_live: int) -> tuple[int | None, int | None]:
        """Fetch and upsert ``symbol``'s bars from its last stored bar through ``first_live``. Returns where the
        gap started (None: no stored bar to start from) and the bars written (None: nothing was fetched, as
        ``first_live`` is not newer than the stored bars)."""
        if gap_from == ASK_THE_DATABASE:
            gap_from = self._stored_through(cluster, symbol, first_live)
        if gap_from is None or first_live <= gap_from:
            return gap_from, None
        window = (ms_time(gap_from), ms_time(first_live) + timedelta(minutes=1))
        report = IngestReport(BAR_MAPS[cluster].table)
        load_bars(self.timescale, self._rest(), BAR_MAPS[cluster], [symbol], "1m", window, report, "stream-gap",
                  adjusted=True if cluster == "stocks" else None)
        log.info("filled %s's gap %s .. %s from REST: %d bars written", symbol, window[0], window[1],
                 report.rows_inserted + report.rows_updated)
        return gap_from, report.rows_inserted + report.rows_updated

    def _stored_through(self, cluster: str, symbol: str, first_live: int) -> int | None:
        """Where a new process resumes: the symbol's watermark, else its newest stored bar, within
        ``max_lookback`` of the first live bar (older history is the batch backfill's)."""
        floor = ms_time(first_live) - self.max_lookback
        before = ms_time(first_live)  # the live bar itself may be flushed already: it does not count
        rows = self.timescale.read(sql.SQL(READ_WATERMARK_SQL).format(table=sql.Identifier(BAR_MAPS[cluster].table)),
                                   {"symbol": symbol, "floor": floor, "before": before})
        stored = rows.item(0, 0) if rows.height else None
        start = max(stored, floor) if stored is not None else None
        return int(start.timestamp() * 1000) if start is not None else None


def _in_daemon_thread(function: Callable[..., T], *args: Any) -> asyncio.Future[T]:
    """``function(*args)`` in a daemon thread: a REST call stuck in its retries never holds up the process's
    exit (``asyncio.to_thread``'s executor is joined at exit); cancelling the future abandons the call."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()

    def settle(result: Any, error: BaseException | None) -> None:
        if not future.done():
            if error is None:
                future.set_result(result)
            else:
                future.set_exception(error)

    def work() -> None:
        try:
            result, error = function(*args), None
        except Exception as exc:  # noqa: BLE001 - handed to the awaiting task
            result, error = None, exc
        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile: nobody waits any more
            loop.call_soon_threadsafe(settle, result, error)

    threading.Thread(target=work, name="gap-fill", daemon=True).start()
    return future
