"""Helpers of the stream tests: run a StreamService on its own event loop, wait for a condition."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from ats_pipelines.resources import PolygonResource
from ats_pipelines.stream.service import StreamService, StreamSettings


def wait_until(predicate, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.02)


@contextmanager
def streaming(service: StreamService) -> Iterator[list[BaseException]]:
    """Run the service on its own event loop in a thread; stop (and flush) on exit."""
    loop, errors = asyncio.new_event_loop(), []

    def run() -> None:
        try:
            loop.run_until_complete(service.run())
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            errors.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    try:
        yield errors
    finally:
        loop.call_soon_threadsafe(service.stop)
        thread.join(30)


def service_for(server, db, cache, fake_polygon=None, key: str = "demo-key", crypto=(), flush_seconds: float = 0.2,
                stocks=("AAPL",), **settings) -> StreamService:
    """A stream of ``stocks`` and ``crypto`` from the fake WebSocket server (gap fills from the fake REST one)."""
    polygon = (PolygonResource(api_key="demo-key", base_url=fake_polygon.base_url, backoff_seconds=0.01,
                               requests_per_minute=6000) if fake_polygon else None)
    stream_settings = StreamSettings(server.url, key, {"stocks": list(stocks), "crypto": list(crypto)},
                                     flush_seconds=flush_seconds, max_backoff_seconds=0.2, **settings)
    return StreamService(stream_settings, db, cache, polygon)
