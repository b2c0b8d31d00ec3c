"""A local server that speaks Polygon's WebSocket protocol (api_formats.md §2), for tests and benchmarks.

It serves ``/stocks`` and ``/crypto``: the ``connected`` status on connect, ``auth_success`` or
``auth_failed`` for the key, one ``success`` status per subscribed topic, then whatever frames the caller
publishes (or, with ``live_feed``, a synthetic feed on the wall clock or on a :class:`Replay` clock). Faults a
live feed has are one call away: :meth:`drop` closes the connections mid-stream,
``refuse_next = "max_connections"`` turns the next client away, and any text can be published as a frame.
It runs its own event loop in a thread, so a test (or a benchmark) drives it from ordinary code.
"""

from __future__ import annotations

import asyncio
import random
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime

import orjson
import websockets

from ats_pipelines.fakes import polygon_data
from ats_pipelines.live.clock import replay_clock, wall_clock
from ats_pipelines.market_calendar import NEW_YORK

CONNECTED = [{"ev": "status", "status": "connected", "message": "Connected Successfully"}]


@dataclass(frozen=True)
class Replay:
    """The live feed on a replay clock (:func:`~ats_pipelines.live.clock.replay_clock`: ``start`` at wall time
    ``origin``, ``speed`` times wall speed): a stock's minute aggregates are the recorded ones of the fake REST
    server (:func:`minute_bar_events`), each sent once its minute has ended on this clock; trades and quotes
    are stamped on it too; crypto is not replayed. ``ats live`` given the same three values trades the feed on
    the same clock."""

    start: datetime
    speed: float = 1.0
    origin: float | None = None

    def clock(self) -> Callable[[], datetime]:
        return replay_clock(self.start, self.speed, self.origin)


class FakePolygonWebSocket:
    """See the module docstring; ``url`` is the base (append ``/stocks`` or ``/crypto``)."""

    def __init__(self, api_key: str = "demo-key", live_feed: bool = False, replay: Replay | None = None) -> None:
        self.api_key = api_key
        self.live_feed = live_feed  # push a trade, a quote and a minute bar of each subscribed symbol every second
        self.replay = replay  # with live_feed: the recorded bars on a replay clock instead of a walk on the wall clock
        self.refuse_next: str | None = None
        self.subscriptions: list[tuple[str, str]] = []
        self.connections = 0
        self._clients: dict[str, set] = {"stocks": set(), "crypto": set()}
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="fake-polygon-ws", daemon=True)
        self.port = 0

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def start(self, port: int = 0) -> FakePolygonWebSocket:
        self.port = port
        self._thread.start()
        self._ready.wait(10)
        return self

    def close(self) -> None:
        async def shutdown() -> None:
            self._server.close()
            await self._server.wait_closed()

        asyncio.run_coroutine_threadsafe(shutdown(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)

        async def start() -> websockets.Server:
            return await websockets.serve(self._handle, "127.0.0.1", self.port, max_size=None)

        self._server = self._loop.run_until_complete(start())
        self.port = next(iter(self._server.sockets)).getsockname()[1]
        self._ready.set()
        self._loop.run_forever()

    async def _handle(self, ws) -> None:
        cluster = ws.request.path.strip("/")
        await ws.send(orjson.dumps(CONNECTED).decode())
        auth = orjson.loads(await ws.recv())
        if self.refuse_next:  # as Polygon does: the refusal answers the auth message, then the socket closes
            status, self.refuse_next = self.refuse_next, None
            await ws.send(orjson.dumps([{"ev": "status", "status": status, "message": "refused"}]).decode())
            await ws.close()
            return
        if auth.get("action") != "auth" or auth.get("params") != self.api_key:
            await ws.send(orjson.dumps([{"ev": "status", "status": "auth_failed",
                                         "message": "authentication failed"}]).decode())
            await ws.close()
            return
        await ws.send(orjson.dumps([{"ev": "status", "status": "auth_success", "message": "authenticated"}]).decode())
        self.connections += 1
        self._clients.setdefault(cluster, set()).add(ws)
        feeds: list[asyncio.Task] = []
        try:
            async for message in ws:
                request = orjson.loads(message)
                if request.get("action") == "subscribe":
                    self.subscriptions.append((cluster, request["params"]))
                    await ws.send(orjson.dumps([{"ev": "status", "status": "success",
                                                 "message": f"subscribed to: {topic}"}
                                                for topic in request["params"].split(",")]).decode())
                    if self.live_feed:
                        feeds.append(asyncio.create_task(_live_feed(ws, request["params"].split(","), self.replay)))
        except websockets.ConnectionClosed:
            pass
        finally:
            self._clients[cluster].discard(ws)
            for feed in feeds:
                feed.cancel()

    def _call(self, coroutine) -> object:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(30)

    def clients(self, cluster: str) -> int:
        return len(self._clients.get(cluster, ()))

    def publish(self, cluster: str, frames: Iterable[str | list]) -> int:
        """Send ``frames`` (JSON text, or event lists to encode) to every client of ``cluster``, in order."""
        payloads = [f if isinstance(f, str) else orjson.dumps(f).decode() for f in frames]

        async def send() -> int:
            for ws in list(self._clients.get(cluster, ())):
                for payload in payloads:
                    await ws.send(payload)
            return len(payloads)

        return self._call(send())

    def drop(self, cluster: str) -> None:
        """Close every connection of ``cluster`` abruptly (as a network drop would)."""

        async def close() -> None:
            for ws in list(self._clients.get(cluster, ())):
                ws.transport.abort()

        self._call(close())


async def _live_feed(ws, topics: list[str], replay: Replay | None = None) -> None:
    """Every tick (a second of the feed's clock, at most a second of wall time), a trade and a quote of each
    subscribed symbol stamped with the clock's time; as Polygon does, a minute aggregate (``AM``/``XA``) is
    sent once its minute has ended. On the wall clock prices are a random walk; with ``replay`` a stock's
    aggregates are the recorded ones of the replayed day, its trades and quotes walk from their closes, and
    crypto topics stay silent (nothing recorded to replay)."""
    clock = replay.clock() if replay else wall_clock
    tick_seconds = min(1.0, 1.0 / replay.speed) if replay else 1.0
    price: dict[str, float] = {}
    forming: dict[str, dict] = {}  # topic -> the aggregate of the minute in progress
    recorded: dict[str, deque] = {}  # replay: AM topic -> its recorded aggregates not yet sent
    recorded_day: date | None = None
    sequence = 0
    while True:
        now_ms = int(clock().timestamp() * 1000)
        if replay and recorded_day != (day := clock().astimezone(NEW_YORK).date()):
            recorded_day = day  # from the first minute still to end: a live feed sends no past minutes
            recorded = {t: deque(e for e in minute_bar_events(t[3:], day) if e["e"] > now_ms)
                        for t in topics if t.startswith("AM.")}
        minute = now_ms // 60_000 * 60_000
        events = []
        for topic in topics:
            ev, _, name = topic.partition(".")
            side = {"sym": name} if ev in {"T", "Q", "AM"} else {"pair": name}
            if replay and ev not in {"T", "Q", "AM"}:
                continue  # a replay carries the recorded stocks only
            if ev == "AM" and replay:
                while recorded.get(topic) and recorded[topic][0]["e"] <= now_ms:
                    bar = recorded[topic].popleft()
                    events.append(bar)
                    price[name] = bar["c"]
                continue
            sequence += 1
            p = price[name] = round(price.get(name, 100.0) * (1 + random.gauss(0, 0.0005)), 4)
            if ev in {"T", "XT"}:
                events.append({"ev": ev, **side, "x": 4, "i": str(sequence), "p": p, "s": 100, "t": now_ms,
                               "q": sequence})
            elif ev in {"Q", "XQ"}:
                events.append({"ev": ev, **side, "bx": 19, "bp": round(p - 0.01, 4), "bs": 2, "ax": 11,
                               "ap": round(p + 0.01, 4), "as": 3, "t": now_ms, "q": sequence})
            else:
                bar = forming.get(topic)
                if bar is not None and bar["s"] < minute:  # its minute ended: the aggregate goes out now
                    events.append({"ev": ev, **side, **bar, "vw": round((bar["h"] + bar["l"] + bar["c"]) / 3, 4),
                                   "e": bar["s"] + 60_000})
                    bar = None
                if bar is None:
                    bar = forming[topic] = {"o": p, "h": p, "l": p, "c": p, "v": 0, "s": minute}
                bar.update(h=max(bar["h"], p), l=min(bar["l"], p), c=p, v=bar["v"] + 1000)
        if events:
            await ws.send(orjson.dumps(events).decode())
        await asyncio.sleep(tick_seconds)


@contextmanager
def serve(api_key: str = "demo-key", port: int = 0, live_feed: bool = False,
          replay: Replay | None = None) -> Iterator[FakePolygonWebSocket]:
    server = FakePolygonWebSocket(api_key, live_feed, replay).start(port)
    try:
        yield server
    finally:
        server.close()


def minute_bar_events(symbol: str, day: date) -> list[dict]:
    """The AM events of ``symbol`` on ``day``: the same bars the fake REST server serves (polygon_data)."""
    bars = polygon_data.minute_bars(symbol, day)
    return [{"ev": "AM", "sym": symbol, "v": int(v), "av": 0, "op": float(bars.o[0]), "vw": float(vw), "o": float(o),
             "c": float(c), "h": float(h), "l": float(low), "a": float(vw), "z": 1, "s": int(t), "e": int(t) + 60_000}
            for t, o, h, low, c, v, vw in zip(bars.t, bars.o, bars.h, bars.low, bars.c, bars.v, bars.vw, strict=True)]
