"""The stream service: one WebSocket connection per Polygon cluster (stocks, crypto), Redis on receipt, rows
batched into TimescaleDB, and every failure a user of a live feed meets handled. No input ends it.

* One task reads frames and queues them with their receipt time; another parses and validates them, writes
  the hot values of the valid events to Redis and buffers their rows, so a slow database never makes a slow
  consumer (lessons.md #4). The queue is bounded (``queue_frames``): when it is full the reader waits, the
  socket's buffers fill and Polygon may end the session as ``slow_consumer`` (the wait is counted in
  ``queue_full_waits``; the reconnect's gap fill recovers the bars).
* Every event is validated by the REST column maps (:mod:`ats_pipelines.stream.routes`) before it touches
  Redis or a batch. An invalid event, a frame that is not a JSON array of events, an empty frame or an event
  of an unknown type is rejected with its reason into ``ingest_rejects`` (source ``polygon_ws``) and counted
  per event type; the rest of its frame lands.
* Rows are flushed every ``flush_seconds``, or as soon as ``flush_rows`` are waiting, by one flush task
  through the REST assets' writer (idempotent upserts), in a worker thread, which also hands the stored bars
  to the live loop: the event loop only parses, validates and writes Redis (it never waits for a write). A
  failed write keeps the batch and retries with backoff (:mod:`ats_pipelines.stream.buffer`); past
  ``max_buffered_rows`` the processor waits for the database (backpressure onto the queue) rather than drop
  what it received.
* A dropped connection reconnects with jittered backoff and resubscribes; the bars missed while it was down,
  or while the process was not running, are fetched from REST per symbol (:mod:`ats_pipelines.stream.gaps`).
* ``auth_failed`` stops the stream with a clear message; ``max_connections`` says that another client holds
  the key and retries slowly. SIGTERM (or Ctrl-C) flushes the buffer before exit.
  ``component:stream:status`` in Redis reports state, last message time, receipt-to-Redis lag and counts.
* Redis being down is counted, not fatal: rows still reach the database.
* Stored minute bars of stocks are handed to the live decision loop (``ats live``) on a Redis Stream right
  after they are written (:func:`ats_pipelines.live.bus.publish_bars`); the stream never waits for trading.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import random
import signal
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import polars as pl
import websockets

from ats_pipelines.defs.monitoring.system_metrics import metric_frame
from ats_pipelines.ingest.columns import Mapper, Reject
from ats_pipelines.ingest.loader import table_length_rules
from ats_pipelines.live.bus import publish_bars
from ats_pipelines.resources import PolygonResource, RedisResource, TimescaleResource, redis_keys
from ats_pipelines.stream.buffer import Batch, WriteBuffer
from ats_pipelines.stream.gaps import GapFiller
from ats_pipelines.stream.routes import BAR_ROUTES, ROUTES, Route, topics

log = logging.getLogger("ats_pipelines.stream")
COALESCE_FRAMES = 200
METRICS_EVERY_SECONDS = 60.0
REJECT_LOG_EVERY_SECONDS = 10.0
DISCONNECT_STATUSES = {"max_connections", "force_disconnect", "slow_consumer"}
FRAME_PREVIEW_CHARS = 2_000


class StreamAuthError(RuntimeError):
    """Polygon refused the API key: retrying cannot help."""


class StreamDisconnect(RuntimeError):
    """The server ended the session with a status (max_connections, force_disconnect, slow_consumer)."""

    def __init__(self, status: str, message: str) -> None:
        super().__init__(f"{status}: {message}")
        self.status = status


@dataclass
class StreamStats:
    """Counters reported in ``component:stream:status`` (rejects and writes live in the write buffer's)."""

    messages: int = 0  # valid events
    frames: int = 0
    reconnects: int = 0
    redis_errors: int = 0
    queue_full_waits: int = 0
    backpressure_waits: int = 0
    last_message_at: float | None = None
    lags: deque = field(default_factory=lambda: deque(maxlen=20_000))

    def lag_ms(self) -> tuple[float | None, float | None]:
        """Receipt-to-Redis lag p50 and p99 (ms) of the last 20,000 frames (one sort: it runs on the event loop)."""
        if not self.lags:
            return None, None
        ordered = sorted(self.lags)
        return tuple(round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 3) for q in (0.5, 0.99))


@dataclass
class StreamSettings:
    """Where to connect and what to subscribe; ``symbols`` per cluster (REST tickers, ``X:`` for crypto)."""

    url: str
    api_key: str
    symbols: dict[str, list[str]]
    flush_seconds: float = 1.0
    flush_rows: int = 50_000
    max_backoff_seconds: float = 30.0
    queue_frames: int = 10_000  # frames read but not yet processed, per connection
    max_buffered_rows: int = 5_000_000  # rows waiting for the database before the processor waits too
    max_frame_bytes: int = 16 * 2**20  # larger frames end the connection (the gap fill recovers the bars)
    write_alert_after_seconds: float = 60.0
    gap_fill_lookback: timedelta = timedelta(days=3)
    shutdown_flush_seconds: float = 10.0


class StreamService:
    """Runs the clusters' connections until :meth:`stop`; see the module docstring."""

    def __init__(self, settings: StreamSettings, timescale: TimescaleResource, redis: RedisResource,
                 polygon: PolygonResource | None = None) -> None:
        self.settings, self.timescale, self.redis, self.polygon = settings, timescale, redis, polygon
        self.stats = StreamStats()
        self.state: dict[str, str] = {}
        self.buffer = WriteBuffer(timescale, max_backoff_seconds=settings.max_backoff_seconds,
                                  alert_after_seconds=settings.write_alert_after_seconds)
        self.gaps = GapFiller(timescale, polygon, settings.gap_fill_lookback, settings.max_backoff_seconds)
        self._mappers: dict[tuple[str, str, bool], Mapper] = {}
        self._table_rules: dict[str, tuple] = {}
        self._hot_newest: dict[str, int] = {}  # Redis key -> event time (ms) of the value it holds
        self._published: dict[str, int] = {}  # symbol -> start (ms) of its newest bar handed to the live loop
        self._rejects_logged = Counter()
        self._last_reject_log = 0.0
        self._stop = asyncio.Event()
        self._flush_lock = asyncio.Lock()
        self._flush_wanted = asyncio.Event()  # set by the processor at ``flush_rows``: the flusher starts at once

    def stop(self) -> None:
        self._stop.set()

    async def run(self) -> None:
        """Connect every cluster with symbols and stream until stopped; a refused key raises StreamAuthError."""
        # What the process holds before it streams (modules, definitions: ~250k objects) is never garbage, but a
        # full collection walks it: ~90 ms of a stalled event loop, a lag spike. Frozen, collections walk only
        # what the stream allocates.
        gc.freeze()
        clusters = [c for c, symbols in self.settings.symbols.items() if symbols]
        tasks = [asyncio.create_task(self._cluster(c)) for c in clusters]
        tasks.append(asyncio.create_task(self._periodic_flush()))
        rules = asyncio.create_task(self._load_table_rules())  # finishes early: not one of the tasks to watch
        stop = asyncio.create_task(self._stop.wait())
        try:
            done, _ = await asyncio.wait([stop, *tasks], return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                if task is not stop and task.exception():
                    raise task.exception()
        finally:
            for task in [*tasks, rules, stop]:
                task.cancel()
            await asyncio.gather(*tasks, rules, stop, return_exceptions=True)
            await self.gaps.stop()
            await self._final_flush()
            ended = "auth_failed" if "auth_failed" in self.state.values() else "stopped"
            self.state = {c: "auth_failed" if v == "auth_failed" else "stopped" for c, v in self.state.items()}
            self._report(ended)

    async def _cluster(self, cluster: str) -> None:
        backoff = 0.5
        first = True
        while not self._stop.is_set():
            url = f"{self.settings.url.rstrip('/')}/{cluster}"
            try:
                async with websockets.connect(url, max_size=self.settings.max_frame_bytes, ping_interval=20) as ws:
                    await self._handshake(ws, cluster)
                    self.stats.reconnects += not first
                    self.gaps.connected(self.settings.symbols[cluster])
                    first, backoff = False, 0.5
                    self.state[cluster] = "connected"
                    self._report("connected")
                    await self._consume(ws, cluster)
            except StreamAuthError:
                self.state[cluster] = "auth_failed"
                self._report("auth_failed")
                raise
            except StreamDisconnect as exc:
                if exc.status == "max_connections":
                    log.error("Polygon refused a %s connection: another client is connected with this API key "
                              "(max_connections; one connection per key and cluster). Retrying.", cluster)
                    backoff = self.settings.max_backoff_seconds
                else:
                    log.warning("Polygon ended the %s session: %s", cluster, exc)
            except (OSError, websockets.ConnectionClosed, websockets.InvalidHandshake, TimeoutError) as exc:
                if isinstance(exc, websockets.ConnectionClosed) and getattr(exc.sent, "code", None) == 1009:
                    self._reject(f"stream:{cluster}", "frame", [Reject(
                        f"frame larger than max_frame_bytes ({self.settings.max_frame_bytes}): the connection "
                        "was closed (the reconnect's gap fill recovers the bars)", {"cluster": cluster,
                                                                                    "at": time.time()})])
                log.warning("%s connection lost (%s); reconnecting in %.1f s", cluster, exc, backoff)
            self.state[cluster] = "reconnecting"
            self._report("reconnecting")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), backoff * (0.5 + random.random()))
            backoff = min(backoff * 2, self.settings.max_backoff_seconds)

    async def _handshake(self, ws: Any, cluster: str) -> None:
        await self._expect(ws, {"connected", "success"})
        await ws.send(orjson.dumps({"action": "auth", "params": self.settings.api_key}).decode())
        await self._expect(ws, {"auth_success"})
        await ws.send(orjson.dumps({"action": "subscribe",
                                    "params": topics(cluster, self.settings.symbols[cluster])}).decode())

    async def _expect(self, ws: Any, statuses: set[str]) -> None:
        """Read frames until a status in ``statuses``; auth failures and disconnect statuses raise."""
        while True:
            try:
                events = _events(await asyncio.wait_for(ws.recv(), 30))
            except ValueError:  # the handshake's statuses come as arrays; nothing else matters here
                continue
            for event in events:
                status = event.get("status") if isinstance(event, dict) and event.get("ev") == "status" else None
                if status in statuses:
                    return
                if status in {"auth_failed", "auth_timeout"}:
                    raise StreamAuthError(f"Polygon rejected the API key ({status}: {event.get('message')}); "
                                          "check POLYGON_API_KEY and the plan's WebSocket access")
                if status in DISCONNECT_STATUSES:
                    raise StreamDisconnect(status, str(event.get("message")))

    async def _consume(self, ws: Any, cluster: str) -> None:
        queue: asyncio.Queue = asyncio.Queue(maxsize=self.settings.queue_frames)

        async def read() -> None:
            try:
                async for frame in ws:
                    item = (time.monotonic(), int(time.time() * 1000), frame)
                    if queue.full():
                        self.stats.queue_full_waits += 1
                    await queue.put(item)
            finally:
                with contextlib.suppress(asyncio.QueueFull):
                    queue.put_nowait(None)  # the processor drains what was read, then reconnects

        reader = asyncio.create_task(read())
        try:
            closed = False
            while not closed and not (reader.done() and queue.empty()):
                batch = [await queue.get()]
                while not queue.empty() and len(batch) < COALESCE_FRAMES:
                    batch.append(queue.get_nowait())  # frames that queued up meanwhile share one Redis round trip
                closed = batch[-1] is None
                await self._process(cluster, [item for item in batch if item is not None])
        finally:
            reader.cancel()
        await asyncio.gather(reader, return_exceptions=True)
        if reader.done() and not reader.cancelled() and reader.exception():
            raise reader.exception()
        raise websockets.ConnectionClosed(None, None)

    async def _process(self, cluster: str, frames: list[tuple[float, int, str | bytes]]) -> None:
        """Parse and validate frames, write the valid events' hot values to Redis in one round trip, buffer
        their rows and quarantine the rest."""
        routes = ROUTES[cluster]
        disconnect: StreamDisconnect | None = None
        events: dict[str, list[dict]] = {ev: [] for ev in routes}  # per event type, in arrival order
        received: dict[str, list[int]] = {ev: [] for ev in routes}
        for _, received_ms, frame in frames:
            self.stats.frames += 1
            try:
                parsed = _events(frame)
            except ValueError as exc:
                self._reject(f"stream:{cluster}", "frame", [Reject(str(exc), _frame_record(frame))])
                continue
            for event in parsed:
                try:
                    ev = event["ev"]
                    events[ev].append(event)
                except (KeyError, TypeError):  # a status, an unknown type, an event that is not an object
                    unrouted = self._unrouted(cluster, event)
                    disconnect = disconnect or unrouted
                    continue
                received[ev].append(received_ms)
        hot: dict[str, bytes] = {}
        for ev, group in events.items():
            if not group:
                continue
            route = routes[ev]
            table = route.column_map.table
            valid = route.validate(group, received[ev], self._mapper(cluster, route))
            if valid.rejects:
                self._reject(table, ev, valid.rejects)
            if not valid.rows.height:
                continue
            self.stats.messages += valid.rows.height
            newest = self._hot_newest
            for key, event_ms, value in valid.hot:
                if event_ms >= newest.get(key, event_ms):  # an older event never replaces a newer one
                    newest[key] = event_ms
                    hot[key] = value
            if route.stored:
                self.buffer.add_rows(table, ev, valid.rows)
            if route.is_bar:
                for symbol, end_ms in zip(valid.symbols, valid.event_ms, strict=True):
                    self.gaps.bar_seen(cluster, symbol, end_ms - route.duration_ms)
        if frames:
            self.stats.last_message_at = time.time()
        if hot:
            try:
                self.redis.set_values(hot)
            except Exception as exc:  # noqa: BLE001 - Redis down must not stop the rows reaching the database
                self.stats.redis_errors += 1
                log.warning("Redis write failed (%s); rows still go to the database", exc)
        done = time.monotonic()
        self.stats.lags.extend(done - received_at for received_at, _, _ in frames)
        self._log_rejects()
        if disconnect is not None:
            raise disconnect
        if self.buffer.rows >= self.settings.flush_rows:
            self._flush_wanted.set()  # the flusher writes them; the processor never waits for a write here
        while self.buffer.rows >= self.settings.max_buffered_rows and not self._stop.is_set():
            self.stats.backpressure_waits += 1  # the database is behind: stop reading until it catches up
            await asyncio.sleep(0.1)
            if self.buffer.due:
                await self.flush()

    def _unrouted(self, cluster: str, event: Any) -> StreamDisconnect | None:
        """An event without a route: a status (a disconnect status is returned, to raise once what came
        with it is kept), else a reject (an unknown type, or not an object)."""
        ev = event.get("ev") if isinstance(event, dict) else None
        if ev == "status":
            status = event.get("status")
            return StreamDisconnect(status, str(event.get("message"))) if status in DISCONNECT_STATUSES else None
        reason = (f"unknown event type {ev!r} on {cluster}" if isinstance(event, dict)
                  else f"event is a {type(event).__name__}, not an object")
        self._reject(f"stream:{cluster}", "unknown", [Reject(reason, event)])
        return None

    def _mapper(self, cluster: str, route: Route) -> Mapper:
        """The route's mapping (symbols of the cluster's universe only), with its table's text-length rules
        once :meth:`_load_table_rules` has read them: the event loop never waits for the database."""
        key = (cluster, route.event, route.column_map.table in self._table_rules)
        if key not in self._mappers:
            self._mappers[key] = route.mapper(frozenset(self.settings.symbols[cluster]),
                                              self._table_rules.get(route.column_map.table, ()))
        return self._mappers[key]

    async def _load_table_rules(self) -> None:
        """Read each routed table's text lengths from the catalog (in a thread, retried while the database is
        down); until then events are validated by everything else, and a row too long for its column is
        quarantined by the write's isolation."""
        tables = sorted({route.column_map.table for routes in ROUTES.values() for route in routes.values()})
        backoff = 0.5
        while tables:
            try:
                for table in list(tables):
                    info = await asyncio.to_thread(self.timescale.table_info, table)
                    self._table_rules[table] = tuple(table_length_rules(info))
                    tables.remove(table)
            except Exception as exc:  # noqa: BLE001 - the database may be down at start: retried
                log.warning("column lengths unknown yet (%s); retrying in %.1f s", exc, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self.settings.max_backoff_seconds)

    def _reject(self, table: str, kind: str, rejects: list[Reject]) -> None:
        self.buffer.add_rejects(table, kind, rejects)
        self._rejects_logged.update(f"{kind}: {r.reason}" for r in rejects)

    def _log_rejects(self) -> None:
        """One warning line every ``REJECT_LOG_EVERY_SECONDS`` with the reasons since the last one."""
        if self._rejects_logged and time.monotonic() - self._last_reject_log >= REJECT_LOG_EVERY_SECONDS:
            log.warning("%d stream item(s) rejected: %s", sum(self._rejects_logged.values()),
                        self._rejects_logged.most_common(3))
            self._rejects_logged.clear()
            self._last_reject_log = time.monotonic()

    async def _periodic_flush(self) -> None:
        last_metrics = time.monotonic()
        while True:
            if self.buffer.due:  # a failed write's backoff is waited out whatever piles up meanwhile
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._flush_wanted.wait(), self.settings.flush_seconds)
            else:
                await asyncio.sleep(self.settings.flush_seconds)
            self._flush_wanted.clear()
            if self.buffer.due:
                await self.flush()
            self._report(None)
            if time.monotonic() - last_metrics >= METRICS_EVERY_SECONDS:
                last_metrics = time.monotonic()
                await asyncio.to_thread(self._write_metrics)

    def _write_metrics(self) -> None:
        """Lag and counters into ``system_metrics`` (component ``stream``), once a minute; best effort."""
        s, w = self.stats, self.buffer.stats
        p50, p99 = s.lag_ms()
        values = {"lag_p50_ms": p50, "lag_p99_ms": p99, "messages_total": s.messages,
                  "rejected_total": sum(w.rejected.values()), "rows_written_total": w.rows_written,
                  "write_failures_total": w.write_failures, "buffered_rows": self.buffer.rows,
                  "reconnects_total": s.reconnects, "redis_errors_total": s.redis_errors}
        try:
            self.timescale.write("system_metrics", metric_frame(
                "stream", datetime.now(UTC), {k: v for k, v in values.items() if v is not None}))
        except Exception as exc:  # noqa: BLE001 - metrics must never stop the stream
            log.warning("stream metrics not written (%s)", exc)

    async def flush(self) -> bool:
        """Write every buffered row and reject (in a worker thread), then the watermarks the written bars
        moved; safe to call at any time. Returns False when a write failed (what failed is kept for the next
        try). A caller cancelled meanwhile (a reconnect, the stop) does not cancel the write in progress."""
        return await asyncio.shield(self._flush())

    async def _flush(self) -> bool:
        async with self._flush_lock:
            batch = self.buffer.take()
            if batch:
                try:
                    newest = await asyncio.to_thread(self._write, batch)
                except Exception as exc:  # noqa: BLE001 - nothing received is dropped: kept and retried
                    self.buffer.give_back(batch, exc)
                    self._report(None)
                    return False
                self.buffer.written()
                self.gaps.bars_stored(newest)
            watermarks = self.gaps.take_watermarks()
            if watermarks:
                try:
                    await asyncio.to_thread(self.gaps.write_watermarks, watermarks)
                except Exception as exc:  # noqa: BLE001 - written with the next flush
                    self.gaps.keep_watermarks(watermarks)
                    log.warning("stream watermarks not written yet (%s)", exc)
                    return False
            return True

    def _write(self, batch: Batch) -> dict[str, int]:
        """In the flush's worker thread, off the event loop: write ``batch``, hand the stored stock bars to the
        live loop, and return each symbol's newest stored bar (start, ms)."""
        written = self.buffer.write(batch)
        self._publish_bars(written)
        return _newest_bars(written)

    def _publish_bars(self, written: dict[tuple[str, str], pl.DataFrame]) -> None:
        """Hand the stored live stock bars to the live decision loop (:mod:`ats_pipelines.live.bus`); they are
        in the database already, as the loop expects. Redis down is counted: trading waits, ingestion never."""
        for (_, event), rows in written.items():
            if event == BAR_ROUTES["stocks"].event:
                newer = self._newer_than_published(rows)
                try:
                    publish_bars(self.redis, newer)
                except Exception as exc:  # noqa: BLE001 - the loop re-reads what it missed from the database
                    self.stats.redis_errors += 1
                    log.warning("bars not handed to the live loop (%s)", exc)

    def _newer_than_published(self, rows: pl.DataFrame) -> pl.DataFrame:
        """Each symbol's bars newer than the newest it handed to the live loop, once each: a resent or late
        bar is stored (the table has one row per key) but never handed on again or out of order."""
        starts = rows.select("symbol", pl.col("timestamp").dt.epoch("ms").alias("_start")).with_row_index("_row")
        newest = pl.DataFrame({"symbol": list(self._published), "_published": list(self._published.values())},
                              schema={"symbol": pl.String, "_published": pl.Int64})
        keep = (starts.join(newest, on="symbol", how="left")
                .filter(pl.col("_published").is_null() | (pl.col("_start") > pl.col("_published")))
                .unique(["symbol", "_start"], keep="last").sort("_row"))
        for symbol, start in keep.group_by("symbol").agg(pl.col("_start").max()).iter_rows():
            self._published[symbol] = start
        return rows[keep["_row"].to_list()]

    async def _final_flush(self) -> None:
        """Flush at shutdown, retrying for ``shutdown_flush_seconds`` while the database refuses."""
        deadline = time.monotonic() + self.settings.shutdown_flush_seconds
        while not await self.flush():
            if time.monotonic() > deadline:
                log.error("stopping with %d rows not written: the database refused them until the end",
                          self.buffer.rows)
                return
            await asyncio.sleep(min(1.0, max(0.0, deadline - time.monotonic())))

    def _report(self, state: str | None) -> None:
        """Mirror the state and counters to ``component:stream:status`` (best effort: Redis may be down)."""
        s, w = self.stats, self.buffer.stats
        last = datetime.fromtimestamp(s.last_message_at, UTC).isoformat() if s.last_message_at else ""
        failing = self.buffer.failing_since
        p50, p99 = s.lag_ms()
        if state is None:
            connected = bool(self.state) and all(v == "connected" for v in self.state.values())
            state = "connected" if connected and failing is None else "degraded"
        fields = {"status": state,
                  **{f"{cluster}_state": value for cluster, value in self.state.items()},
                  "last_message_at": last, "lag_p50_ms": p50 or "", "lag_p99_ms": p99 or "",
                  "messages": s.messages, "frames": s.frames, "rejected": sum(w.rejected.values()),
                  **{f"rejected_{kind}": count for kind, count in w.rejected.items()},
                  "rows_written": w.rows_written, "rows_buffered": self.buffer.rows,
                  "write_failures": w.write_failures, "rows_refused_by_database": w.rows_refused,
                  "database_failing_for_s": round(time.monotonic() - failing, 1) if failing else "",
                  "reconnects": s.reconnects, "gap_fills": self.gaps.stats.fills,
                  "gap_bars_filled": self.gaps.stats.bars_filled, "gaps_pending": self.gaps.pending,
                  "queue_full_waits": s.queue_full_waits, "backpressure_waits": s.backpressure_waits,
                  "redis_errors": s.redis_errors, "updated_at": datetime.now(UTC).isoformat()}
        try:
            self.redis.set_hashes({redis_keys.COMPONENT_STATUS.build(component_name="stream"): fields})
        except Exception:  # noqa: BLE001 - status is best effort; the counters keep going
            self.stats.redis_errors += 1


def _newest_bars(written: dict[tuple[str, str], pl.DataFrame]) -> dict[str, int]:
    """Symbol -> start (ms) of its newest bar among the written rows."""
    bar_events = {route.event for route in BAR_ROUTES.values()}
    newest: dict[str, int] = {}
    for (_, event), rows in written.items():
        if event in bar_events and rows.height:
            for symbol, start in rows.group_by("symbol").agg(pl.col("timestamp").max().dt.epoch("ms")).iter_rows():
                newest[symbol] = max(start, newest.get(symbol, start))
    return newest


def _events(frame: str | bytes) -> list:
    """The events of one frame: a non-empty JSON array (every Polygon frame is one); ValueError otherwise."""
    try:
        payload = orjson.loads(frame)
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"not JSON: {exc}") from None
    if not isinstance(payload, list):
        raise ValueError(f"expected a JSON array of events, got {type(payload).__name__}")
    if not payload:
        raise ValueError("empty frame: no events")
    return payload


def _frame_record(frame: str | bytes) -> dict:
    """A rejected frame as the quarantine keeps it: its size and start (a frame can be megabytes)."""
    text = frame.decode("utf-8", "replace") if isinstance(frame, bytes) else frame
    return {"frame_bytes": len(frame), "frame_start": text[:FRAME_PREVIEW_CHARS]}


DEFAULT_WS_URL = "wss://socket.massive.com"


def settings_from_environment(flush_seconds: float = 1.0) -> StreamSettings:
    """``POLYGON_WS_URL`` (default the real-time feed), ``POLYGON_API_KEY`` and the universe's symbols."""
    from ats_pipelines.resources import UniverseResource

    key = os.environ.get("POLYGON_API_KEY")
    if not key:
        raise StreamAuthError("POLYGON_API_KEY is not set: the stream cannot authenticate")
    universe = UniverseResource()
    return StreamSettings(url=os.environ.get("POLYGON_WS_URL") or DEFAULT_WS_URL, api_key=key,
                          symbols={"stocks": universe.stock_symbols(), "crypto": universe.crypto_symbols()},
                          flush_seconds=flush_seconds)


def run_until_signalled(service: StreamService) -> int:
    """Run ``service`` until SIGTERM or SIGINT, then flush; returns the rows the database did not take by the
    end (0 normally). StreamAuthError propagates."""

    async def main() -> None:
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, service.stop)
        await service.run()

    asyncio.run(main())
    return service.buffer.rows
