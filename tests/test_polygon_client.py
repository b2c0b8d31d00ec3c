"""The shared HTTP layer and the Polygon client against the local fake server (real sockets, real HTTP)."""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import orjson
import pytest

from ats_pipelines.resources import PolygonResource
from ats_pipelines.resources.http import ApiAuthError, ApiError, ApiNotFoundError
from ats_pipelines.resources.rate_limit import TokenBucket, shared_limiter


def polygon(server, **kwargs) -> PolygonResource:
    return PolygonResource(**{"api_key": "demo-key", "base_url": server.base_url, "backoff_seconds": 0.01,
                              "requests_per_minute": 6000, **kwargs})


class ScriptedServer(ThreadingHTTPServer):
    """Answers each GET with the next (status, headers, body) of a script; records request times and paths."""

    def __init__(self, script):
        self.script, self.seen = list(script), []

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(handler):
                self.seen.append((time.monotonic(), handler.path, handler.headers.get("Authorization")))
                status, headers, body = self.script.pop(0) if self.script else (200, {}, {"results": []})
                payload = body if isinstance(body, bytes) else orjson.dumps(body)
                handler.send_response(status)
                for name, value in headers.items():
                    handler.send_header(name, value)
                handler.send_header("Content-Length", str(len(payload)))
                handler.end_headers()
                handler.wfile.write(payload)

        super().__init__(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_port}"


@pytest.fixture
def scripted():
    servers = []

    def make(*script):
        servers.append(ScriptedServer(script))
        return servers[-1]

    yield make
    for server in servers:
        server.shutdown()
        server.server_close()


def test_pagination_follows_next_url_with_the_bearer_header_and_stops_on_a_repeated_cursor(scripted):
    server = scripted(
        (200, {}, {"results": [{"n": 1}], "next_url": "https://api.massive.com:443/v3/trades/AAPL?cursor=A"}),
        (200, {}, {"results": [{"n": 2}], "next_url": "https://api.massive.com/v3/trades/AAPL?cursor=B"}),
        (200, {}, {"status": "OK"}),  # no results key: an empty page
    )
    with polygon(server).client() as client:
        pages = list(client.pages("/v3/trades/AAPL", {"limit": 2}))
    assert pages == [[{"n": 1}], [{"n": 2}], []]
    assert [path for _, path, _ in server.seen] == ["/v3/trades/AAPL?limit=2", "/v3/trades/AAPL?cursor=A",
                                                   "/v3/trades/AAPL?cursor=B"]
    assert {auth for _, _, auth in server.seen} == {"Bearer demo-key"}
    assert all("demo-key" not in path for _, path, _ in server.seen)

    cycling = scripted(
        (200, {}, {"results": [1], "next_url": "http://x/v3/quotes/A?cursor=C1"}),
        (200, {}, {"results": [2], "next_url": "http://x/v3/quotes/A?cursor=C2"}),
        (200, {}, {"results": [3], "next_url": "http://x/v3/quotes/A?cursor=C1"}),
    )
    with polygon(cycling).client() as client:
        assert list(client.pages("/v3/quotes/A")) == [[1], [2], [3]]
    assert len(cycling.seen) == 3


def test_retry_after_is_honoured_and_5xx_with_html_bodies_are_retried(scripted):
    server = scripted(
        (429, {"Retry-After": "0.3"}, {"status": "ERROR", "error": "You've exceeded the maximum requests per minute"}),
        (503, {"Content-Type": "text/html"}, b"<html>busy</html>"),
        (200, {}, {"results": [{"ok": True}]}),
    )
    with polygon(server).client() as client:
        assert list(client.pages("/v3/trades/AAPL")) == [[{"ok": True}]]
        assert (client.stats.requests, client.stats.retries) == (3, 2)
    (t0, _, _), (t1, _, _), _ = server.seen
    assert t1 - t0 >= 0.3


def test_a_429_pauses_every_caller_of_the_shared_limiter(scripted):
    server = scripted((429, {"Retry-After": "0.4"}, {"error": "slow down"}))
    resource = polygon(server)
    with resource.client() as first, resource.client() as second:
        assert first.limiter is second.limiter is shared_limiter("Polygon", "demo-key", 6000)
        started = time.monotonic()
        threads = [threading.Thread(target=lambda c=c: list(c.pages("/x"))) for c in (first, second)]
        threads[0].start()
        time.sleep(0.1)
        threads[1].start()
        for t in threads:
            t.join()
    # the second caller waited out the first one's Retry-After before its own request went out
    assert sorted(t for t, _, _ in server.seen)[1] - started >= 0.4


def test_the_token_bucket_spaces_requests_at_the_configured_rate():
    bucket = TokenBucket(rate_per_minute=600, burst=2)  # 10/s after a burst of 2
    started = time.monotonic()
    waits = [bucket.acquire() for _ in range(7)]
    elapsed = time.monotonic() - started
    assert waits[:2] == [0.0, 0.0]
    assert elapsed >= 0.45  # five more tokens at 10/s


@pytest.mark.parametrize(("status", "body", "error", "text"), [
    (401, {"status": "ERROR", "error": "API Key was not provided"}, ApiAuthError, "API Key was not provided"),
    (403, {"status": "NOT_AUTHORIZED", "message": "You are not entitled to this data."}, ApiAuthError,
     "not entitled"),
    (404, {"status": "NOT_FOUND", "message": "not found"}, ApiNotFoundError, "not found"),
    (409, {"status": "ERROR", "error": "parameter is invalid"}, ApiError, "parameter is invalid"),
])
def test_client_errors_are_not_retried_and_carry_the_vendor_message(scripted, status, body, error, text):
    server = scripted((status, {}, body))
    with polygon(server).client() as client, pytest.raises(error, match=text) as raised:
        list(client.pages("/v2/aggs/ticker/ZZZZ/range/1/day/2024-01-01/2024-01-02"))
    assert len(server.seen) == 1
    assert f"HTTP {status}" in str(raised.value) and "demo-key" not in str(raised.value)


def test_giving_up_after_the_retry_budget_names_the_last_status(scripted):
    server = scripted(*[(502, {}, b"")] * 4)
    with polygon(server, max_retries=3).client() as client, pytest.raises(ApiError, match="HTTP 502"):
        list(client.pages("/v3/quotes/AAPL"))
    assert len(server.seen) == 4


def test_timeouts_are_retried(fake_polygon):
    fake_polygon.faults.slow_seconds, fake_polygon.faults.slow_every = 0.5, 2
    with polygon(fake_polygon, timeout_seconds=0.2).client() as client:
        first = list(client.aggregates("SPY", 1, "day", 1709251200000, 1709683199999))  # request 1: prompt
        second = list(client.aggregates("SPY", 1, "day", 1709251200000, 1709683199999))  # 2: slow, 3: retry
        assert client.stats.retries == 1
    assert first == second and [len(p) for p in first] == [3]
