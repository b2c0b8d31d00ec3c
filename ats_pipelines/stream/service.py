"""The stream service: one WebSocket connection per Polygon cluster (stocks, crypto), Redis on receipt, rows
batched into TimescaleDB, and every failure a user of a live feed meets handled.

* One task reads frames and only queues them with their receipt time; another parses, writes the hot values
  to Redis and buffers rows, so a slow database never makes a slow consumer (lessons.md #4).
* Rows are flushed every ``flush_seconds`` or ``flush_rows`` through the REST assets' column maps and writer
  (idempotent upserts), in a worker thread.
* A dropped connection reconnects with jittered backoff and resubscribes; the bars missed while it was down
  are fetched from REST (from the last bar before the drop to the first bar after it) and upserted, so no
  bar is lost or doubled.
* A malformed frame or event is counted and logged, never fatal; records the column maps refuse go to
  ``ingest_rejects`` with their reason. ``auth_failed`` stops the stream with a clear message;
  ``max_connections`` says that another client holds the key and retries slowly.
* SIGTERM (or Ctrl-C) flushes the buffer before exit. ``component:stream:status`` in Redis reports state,
  last message time, receipt-to-Redis lag, counts.
* Redis being down is counted, not fatal: rows still reach the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import signal
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
import websockets

from ats_pipelines.defs.market_data.loads import load_bars
from ats_pipelines.defs.monitoring.system_metrics import metric_frame
from ats_pipelines.ingest.loader import IngestReport, record_rejects, table_length_rules
from ats_pipelines.ingest.polygon_maps import CRYPTO_AGGS, STOCK_AGGS
from ats_pipelines.resources import PolygonResource, RedisResource, TimescaleResource, redis_keys
from ats_pipelines.stream.routes import BAR_EVENTS, ROUTES, Route, topics

log = logging.getLogger("ats_pipelines.stream")
COALESCE_FRAMES = 200
METRICS_EVERY_SECONDS = 60.0


class StreamAuthError(RuntimeError):
    """Polygon refused the API key: retrying cannot help."""


class StreamDisconnect(RuntimeError):
    """The server ended the session with a status (max_connections, force_disconnect, slow_consumer)."""

    def __init__(self, status: str, message: str) -> None:
        super().__init__(f"{status}: {message}")
        self.status = status


@dataclass
class StreamStats:
    """Counters reported in ``component:stream:status``."""

    messages: int = 0
    frames: int = 0
    malformed: int = 0
    ignored: int = 0
    rejected: int = 0
    rows_written: int = 0
    reconnects: int = 0
    gap_fills: int = 0
    redis_errors: int = 0
    last_message_at: float | None = None
    lags: deque = field(default_factory=lambda: deque(maxlen=20_000))

    def lag_ms(self, quantile: float) -> float | None:
        if not self.lags:
            return None
        ordered = sorted(self.lags)
        return round(ordered[min(len(ordered) - 1, int(quantile * len(ordered)))] * 1000, 3)


@dataclass
class StreamSettings:
    """Where to connect and what to subscribe; ``symbols`` per cluster (REST tickers, ``X:`` for crypto)."""

    url: str
    api_key: str
    symbols: dict[str, list[str]]
    flush_seconds: float = 1.0
    flush_rows: int = 50_000
    max_backoff_seconds: float = 30.0


class StreamService:
    """Runs the clusters' connections until :meth:`stop`; see the module docstring."""

    def __init__(self, settings: StreamSettings, timescale: TimescaleResource, redis: RedisResource,
                 polygon: PolygonResource | None = None) -> None:
        self.settings, self.timescale, self.redis, self.polygon = settings, timescale, redis, polygon
        self.stats = StreamStats()
        self.state: dict[str, str] = {}
        self._buffers: dict[tuple[str, str], list[dict]] = {}
        self._buffered = 0
        self._gap_from: dict[str, int | None] = {}
        self._last_bar_ms: dict[str, int] = {}
        self._stop = asyncio.Event()
        self._flush_lock = asyncio.Lock()

    def stop(self) -> None:
        self._stop.set()

    async def run(self) -> None:
        """Connect every cluster with symbols and stream until stopped; a refused key raises StreamAuthError."""
        clusters = [c for c, symbols in self.settings.symbols.items() if symbols]
        tasks = [asyncio.create_task(self._cluster(c)) for c in clusters]
        tasks.append(asyncio.create_task(self._periodic_flush()))
        stop = asyncio.create_task(self._stop.wait())
        try:
            done, _ = await asyncio.wait([stop, *tasks], return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                if task is not stop and task.exception():
                    raise task.exception()
        finally:
            for task in [*tasks, stop]:
                task.cancel()
            await asyncio.gather(*tasks, stop, return_exceptions=True)
            await self.flush()
            self.state = dict.fromkeys(self.state, "stopped")
            self._report("stopped")

    async def _cluster(self, cluster: str) -> None:
        backoff = 0.5
        first = True
        while not self._stop.is_set():
            url = f"{self.settings.url.rstrip('/')}/{cluster}"
            try:
                async with websockets.connect(url, max_size=None, ping_interval=20) as ws:
                    await self._handshake(ws, cluster)
                    if not first:
                        self.stats.reconnects += 1
                        self._gap_from[cluster] = self._last_bar_ms.get(cluster)
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
            for event in _events(await asyncio.wait_for(ws.recv(), 30)):
                status = event.get("status") if event.get("ev") == "status" else None
                if status in statuses:
                    return
                if status in {"auth_failed", "auth_timeout"}:
                    raise StreamAuthError(f"Polygon rejected the API key ({status}: {event.get('message')}); "
                                          "check POLYGON_API_KEY and the plan's WebSocket access")
                if status in {"max_connections", "force_disconnect", "slow_consumer"}:
                    raise StreamDisconnect(status, str(event.get("message")))

    async def _consume(self, ws: Any, cluster: str) -> None:
        queue: asyncio.Queue = asyncio.Queue()

        async def read() -> None:
            try:
                async for frame in ws:
                    queue.put_nowait((time.monotonic(), frame))
            finally:
                queue.put_nowait(None)  # the processor drains what was read, then reconnects

        reader = asyncio.create_task(read())
        try:
            closed = False
            while not closed:
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

    async def _process(self, cluster: str, frames: list[tuple[float, str | bytes]]) -> None:
        """Parse frames, write their hot values to Redis in one round trip, buffer their rows."""
        hot: dict[str, bytes] = {}
        routes = ROUTES[cluster]
        for _, frame in frames:
            self.stats.frames += 1
            try:
                events = _events(frame)
            except ValueError as exc:
                self.stats.malformed += 1
                log.warning("malformed %s frame ignored (%s): %.200r", cluster, exc, frame)
                continue
            for event in events:
                ev = event.get("ev") if isinstance(event, dict) else None
                if ev == "status":
                    if event.get("status") in {"max_connections", "force_disconnect", "slow_consumer"}:
                        raise StreamDisconnect(event["status"], str(event.get("message")))
                    continue
                route = routes.get(ev)
                if route is None:
                    self.stats.ignored += 1
                    continue
                try:
                    hot[route.redis_key(route.symbol(event))] = orjson.dumps(event)
                except (KeyError, TypeError, ValueError) as exc:
                    self.stats.malformed += 1
                    log.warning("malformed %s event ignored (%s): %.200r", ev, exc, event)
                    continue
                self.stats.messages += 1
                if ev in BAR_EVENTS and isinstance(event.get("s"), int):
                    await self._bar_seen(cluster, event["s"])
                if route.column_map is not None:
                    self._buffers.setdefault((cluster, ev), []).append(route.prepare(event) if route.prepare
                                                                        else event)
                    self._buffered += 1
        if frames:
            self.stats.last_message_at = time.time()
        if hot:
            try:
                self.redis.set_values(hot)
            except Exception as exc:  # noqa: BLE001 - Redis down must not stop the rows reaching the database
                self.stats.redis_errors += 1
                log.warning("Redis write failed (%s); rows still go to the database", exc)
        done = time.monotonic()
        self.stats.lags.extend(done - received for received, _ in frames)
        if self._buffered >= self.settings.flush_rows:
            await self.flush()

    async def _bar_seen(self, cluster: str, start_ms: int) -> None:
        """Track the newest bar; the first bar after a reconnect closes the gap, which REST then fills."""
        gap_from = self._gap_from.pop(cluster, None)
        if gap_from is not None and start_ms > gap_from + 60_000 and self.polygon is not None:
            window = (datetime.fromtimestamp(gap_from / 1000, UTC), datetime.fromtimestamp(start_ms / 1000, UTC))
            await asyncio.to_thread(self._fill_gap, cluster, window)
        self._last_bar_ms[cluster] = max(start_ms, self._last_bar_ms.get(cluster, start_ms))

    def _fill_gap(self, cluster: str, window: tuple[datetime, datetime]) -> None:
        report = IngestReport(STOCK_AGGS.table if cluster == "stocks" else CRYPTO_AGGS.table)
        with self.polygon.client() as client:
            if cluster == "stocks":
                load_bars(self.timescale, client, STOCK_AGGS, self.settings.symbols[cluster], "1m", window, report,
                          "stream-gap", extra=lambda _: {"adjusted": True})
            else:
                load_bars(self.timescale, client, CRYPTO_AGGS, self.settings.symbols[cluster], "1m", window, report,
                          "stream-gap")
        self.stats.gap_fills += 1
        log.info("filled the %s gap %s .. %s from REST: %s rows written", cluster, window[0], window[1],
                 report.rows_inserted + report.rows_updated)

    async def _periodic_flush(self) -> None:
        last_metrics = time.monotonic()
        while True:
            await asyncio.sleep(self.settings.flush_seconds)
            await self.flush()
            self._report(None)
            if time.monotonic() - last_metrics >= METRICS_EVERY_SECONDS:
                last_metrics = time.monotonic()
                await asyncio.to_thread(self._write_metrics)

    def _write_metrics(self) -> None:
        """Lag and counters into ``system_metrics`` (component ``stream``), once a minute; best effort."""
        s = self.stats
        values = {"lag_p50_ms": s.lag_ms(0.5), "lag_p99_ms": s.lag_ms(0.99), "messages_total": s.messages,
                  "malformed_total": s.malformed, "rejected_total": s.rejected, "rows_written_total": s.rows_written,
                  "reconnects_total": s.reconnects, "redis_errors_total": s.redis_errors}
        try:
            self.timescale.write("system_metrics", metric_frame(
                "stream", datetime.now(UTC), {k: v for k, v in values.items() if v is not None}))
        except Exception as exc:  # noqa: BLE001 - metrics must never stop the stream
            log.warning("stream metrics not written (%s)", exc)

    async def flush(self) -> None:
        """Write every buffered row (in a worker thread); safe to call at any time."""
        async with self._flush_lock:
            if not self._buffers:
                return
            batches, self._buffers, self._buffered = self._buffers, {}, 0
            await asyncio.to_thread(self._write, batches)

    def _write(self, batches: dict[tuple[str, str], list[dict]]) -> None:
        for (cluster, ev), events in batches.items():
            route: Route = ROUTES[cluster][ev]
            fits = table_length_rules(self.timescale.table_info(route.column_map.table))
            batch = route.column_map.map(events, flavour="stream", constants=route.constants, extra_rules=fits)
            rows = route.finish(batch.rows) if route.finish and batch.rows.height else batch.rows
            if rows.height:
                result = self.timescale.write(route.column_map.table, rows)
                self.stats.rows_written += result.inserted + result.updated
            if batch.rejects:
                self.stats.rejected += len(batch.rejects)
                record_rejects(self.timescale, route.column_map.table, batch.rejects, source="polygon_ws",
                               partition_key=None, symbol=None)
                log.warning("%d %s event(s) rejected: %s", len(batch.rejects), ev,
                            Counter(r.reason for r in batch.rejects).most_common(3))

    def _report(self, state: str | None) -> None:
        """Mirror the state and counters to ``component:stream:status`` (best effort: Redis may be down)."""
        s = self.stats
        last = datetime.fromtimestamp(s.last_message_at, UTC).isoformat() if s.last_message_at else ""
        fields = {"status": state or ("connected" if all(v == "connected" for v in self.state.values()) and self.state
                                      else "degraded"),
                  **{f"{cluster}_state": value for cluster, value in self.state.items()},
                  "last_message_at": last, "lag_p50_ms": s.lag_ms(0.5) or "", "lag_p99_ms": s.lag_ms(0.99) or "",
                  "messages": s.messages, "frames": s.frames, "malformed": s.malformed, "rejected": s.rejected,
                  "ignored": s.ignored, "rows_written": s.rows_written, "reconnects": s.reconnects,
                  "gap_fills": s.gap_fills, "redis_errors": s.redis_errors,
                  "updated_at": datetime.now(UTC).isoformat()}
        try:
            self.redis.set_hashes({redis_keys.COMPONENT_STATUS.build(component_name="stream"): fields})
        except Exception:  # noqa: BLE001 - status is best effort; the counters keep going
            self.stats.redis_errors += 1


def _events(frame: str | bytes) -> list[dict]:
    """The events of one frame: a JSON array (a lone object is tolerated); ValueError otherwise."""
    try:
        payload = orjson.loads(frame)
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"not JSON: {exc}") from None
    if isinstance(payload, dict):
        return [payload]
    if not isinstance(payload, list):
        raise ValueError(f"expected a JSON array, got {type(payload).__name__}")
    return payload



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


def run_until_signalled(service: StreamService) -> None:
    """Run ``service`` until SIGTERM or SIGINT, then flush and return; StreamAuthError propagates."""

    async def main() -> None:
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, service.stop)
        await service.run()

    asyncio.run(main())
