"""A local Polygon-compatible HTTP server for the demo, the tests and the benchmarks.

It answers the endpoints the market-data assets call, in exactly the real response shapes
(api_formats.md §1, checked against shared/polygon_fixtures by the tests), from the deterministic data
of :mod:`ats_pipelines.fakes.polygon_data`, with ``next_url`` pagination. :class:`Faults` injects what
the real service does on a bad day: 429 bursts, 5xx, slow answers and malformed records.

Run it alone with ``ats fake-polygon --port 8765``; in-process with :func:`serve`.
"""

from __future__ import annotations

import base64
import re
import threading
import time
import uuid
from collections import OrderedDict
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import orjson

from ats_pipelines.fakes import polygon_data as data
from ats_pipelines.fakes.json_http import JsonHandler, serve_in_thread

AGGS = re.compile(
    r"^/v2/aggs/ticker/(?P<ticker>[^/]+)/range/(?P<mult>\d+)/(?P<span>minute|day)/(?P<start>[^/]+)/(?P<end>[^/]+)$"
)
TICKS = re.compile(r"^/v3/(?P<kind>trades|quotes)/(?P<ticker>[^/]+)$")
CONTRACTS = "/v3/reference/options/contracts"
SPLITS = "/v3/reference/splits"
DIVIDENDS = "/v3/reference/dividends"
TICKER_DETAILS = re.compile(r"^/v3/reference/tickers/(?P<ticker>[A-Z][A-Z.]{0,9})$")
REFERENCE = Path(__file__).parent / "polygon_reference"
MALFORMED_KINDS = ("o is text", "c missing", "high below low", "negative volume")


@dataclass
class Faults:
    """What to break. Counters are per server; ``malformed_tickers`` get every 50th record malformed."""

    api_key: str = "demo-key"
    rate_limit_first: int = 0
    rate_limit_every: int = 0
    retry_after: str | None = "0"
    server_error_every: int = 0
    slow_seconds: float = 0.0
    slow_every: int = 0
    malformed_tickers: frozenset[str] = frozenset()
    served: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def next_request(self) -> int:
        with self._lock:
            self.served += 1
            return self.served


def _epoch_ms(value: str, end: bool) -> int:
    """``from``/``to`` of the aggregates path: Unix ms, or a New York date (the whole day)."""
    if value.isdigit():
        return int(value)
    day = date.fromisoformat(value) + (timedelta(days=1) if end else timedelta())
    return int(datetime.combine(day, dtime(), tzinfo=data.NEW_YORK).timestamp()) * data.MS - (1 if end else 0)


def _epoch_ns(value: str | None, default: int) -> int:
    if value is None:
        return default
    if value.lstrip("-").isdigit():
        return int(value)
    return int(datetime.combine(date.fromisoformat(value), dtime(), tzinfo=UTC).timestamp()) * data.NS


def _bar_records(found: data.Bars, crypto: bool) -> list[dict[str, Any]]:
    columns = [getattr(found, f).tolist() for f in ("t", "o", "h", "low", "c", "v", "vw", "n")]
    return [
        {"v": v if crypto else float(v), "vw": vw, "o": o, "c": c, "h": h, "l": low, "t": t, "n": n}
        for t, o, h, low, c, v, vw, n in zip(*columns, strict=True)
    ]


def _listed(record: dict[str, Any], query: dict[str, Any], date_field: str) -> bool:
    """Whether a corporate action passes the ``ticker`` and ``<date_field>.gte/.lte`` filters of the query."""
    day = record[date_field]
    return (("ticker" not in query or record["ticker"] == query["ticker"])
            and day >= query.get(f"{date_field}.gte", day) and day <= query.get(f"{date_field}.lte", day))


def recorded(name: str) -> Any:
    """A recorded response from polygon_reference/ (fresh copy: callers may change it)."""
    return orjson.loads((REFERENCE / name).read_bytes())


def ticker_details(ticker: str) -> dict[str, Any]:
    """AAPL as recorded; any other ticker in the same shape, with its own identity and no company text."""
    body = recorded("ticker_details_AAPL.json")
    if ticker != "AAPL":
        results = body["results"]
        for key in ("description", "branding", "address", "phone_number", "homepage_url", "cik",
                    "composite_figi", "share_class_figi"):
            results.pop(key, None)
        results.update(ticker=ticker, name=f"{ticker} Corp.", ticker_root=ticker.split(".")[0],
                       market_cap=float(data.base_price(ticker) * 1e9),
                       total_employees=int(data.base_price(ticker) * 100))
    body["request_id"] = uuid.uuid4().hex
    return body


def malform(record: dict[str, Any], index: int) -> dict[str, Any]:
    """One of the malformations the real feeds have shown, chosen by the record's ``index`` (every 50th)."""
    bad = dict(record)
    kind = MALFORMED_KINDS[(index // 50) % len(MALFORMED_KINDS)]
    if kind == "o is text":
        bad["o"] = "n/a"
    elif kind == "c missing":
        bad.pop("c", None)
    elif kind == "high below low":
        bad["h"] = bad["l"] - 1
    else:
        bad["v"] = -abs(bad.get("v", 1))
    return bad


class _Handler(JsonHandler):
    server: FakePolygonServer

    def do_GET(self) -> None:
        faults = self.server.faults
        n = faults.next_request()
        if self.headers.get("Authorization") != f"Bearer {faults.api_key}":
            error = "API Key was not provided" if not self.headers.get("Authorization") else "Unknown API Key"
            return self.send(401, {"status": "ERROR", "request_id": uuid.uuid4().hex, "error": error})
        if n <= faults.rate_limit_first or (faults.rate_limit_every and n % faults.rate_limit_every == 0):
            return self.send(429, {"status": "ERROR", "request_id": uuid.uuid4().hex,
                                   "error": "You've exceeded the maximum requests per minute, please wait or upgrade "
                                            "your subscription to continue."},
                             {"Retry-After": faults.retry_after} if faults.retry_after is not None else {})
        if faults.server_error_every and n % faults.server_error_every == 0:
            return self.send(502, b"<html><body>502 Bad Gateway</body></html>", content_type="text/html")
        if faults.slow_every and n % faults.slow_every == 0:
            time.sleep(faults.slow_seconds)
        cached = self.server.cached(self.path) if not faults.malformed_tickers else None
        if cached is not None:
            return self.send(200, cached)
        parts = urlsplit(self.path)
        query = dict(parse_qsl(parts.query))
        if "cursor" in query:
            query = orjson.loads(base64.urlsafe_b64decode(query["cursor"]))
        try:
            body = self._route(parts.path, query)
        except ValueError as exc:
            return self.send(400, {"status": "ERROR", "request_id": uuid.uuid4().hex, "error": str(exc)})
        if body is None:
            return self.send(404, {"status": "NOT_FOUND", "request_id": uuid.uuid4().hex,
                                   "message": "The requested resource was not found"})
        payload = orjson.dumps(body)
        if not faults.malformed_tickers:
            self.server.remember(self.path, payload)
        self.send(200, payload)

    def _route(self, path: str, query: dict[str, Any]) -> dict[str, Any] | None:
        if m := AGGS.match(path):
            ticker = m["ticker"]
            start, end = _epoch_ms(m["start"], end=False), _epoch_ms(m["end"], end=True)
            adjusted = query.get("adjusted", "true") == "true"
            found = data.bars(ticker, m["span"], start, end, adjusted, self.server.splits)
            records = _bar_records(found, ticker.startswith("X:"))
            body = self._page(path, query, records, ticker, int(query.get("limit", 5000)))
            body.update(ticker=ticker, adjusted=adjusted,
                        queryCount=len(body.get("results", [])), resultsCount=len(body.get("results", [])))
            return body
        if m := TICKS.match(path):
            start = _epoch_ns(query.get("timestamp.gte"), 0)
            end = _epoch_ns(query.get("timestamp.lt"), 2**63 - 1)
            records = data.ticks(m["kind"], m["ticker"], start, end)
            if query.get("order", "desc") == "desc":
                records = records[::-1]
            return self._page(path, query, records, m["ticker"], int(query.get("limit", 1000)))
        if path == SPLITS:
            records = [s.record() for s in sorted(self.server.splits, key=lambda s: s.execution_date, reverse=True)
                       if _listed(s.record(), query, "execution_date")]
            return self._page(path, query, records, query.get("ticker", ""), int(query.get("limit", 10)))
        if path == DIVIDENDS:
            records = [d for d in data.dividends(query.get("ticker", "")) if _listed(d, query, "ex_dividend_date")]
            return self._page(path, query, records, query.get("ticker", ""), int(query.get("limit", 10)))
        if m := TICKER_DETAILS.match(path):
            return ticker_details(m["ticker"])
        if path == "/v2/reference/news":
            return self._news(query)
        if path == "/v1/marketstatus/now":
            return recorded("marketstatus_now.json")
        if path == "/v1/marketstatus/upcoming":
            return recorded("marketstatus_upcoming.json")
        if path == CONTRACTS:
            as_of = date.fromisoformat(query.get("as_of") or datetime.now(UTC).date().isoformat())
            until = date.fromisoformat(query.get("expiration_date.lte") or (as_of + timedelta(days=30)).isoformat())
            records = data.option_contracts(query["underlying_ticker"], as_of, until)
            return self._page(path, query, records, query["underlying_ticker"], int(query.get("limit", 10)))
        return None

    def _news(self, query: dict[str, Any]) -> dict[str, Any]:
        """Replays the two recorded news pages: the first carries a ``next_url`` to the second."""
        if query.get("page") == 2:
            return recorded("news_page_2.json")
        body = recorded("news_page_1.json")
        cursor = base64.urlsafe_b64encode(orjson.dumps({"page": 2})).decode()
        body["next_url"] = f"http://{self.headers.get('Host')}/v2/reference/news?cursor={cursor}"
        return body

    def _page(self, path: str, query: dict[str, Any], records: list[dict[str, Any]], ticker: str,
              limit: int) -> dict[str, Any]:
        offset = int(query.get("offset", 0))
        page = records[offset: offset + limit]
        if ticker in self.server.faults.malformed_tickers:
            page = [malform(r, offset + i) if (offset + i) % 50 == 7 else r for i, r in enumerate(page)]
        body: dict[str, Any] = {"status": "OK", "request_id": uuid.uuid4().hex}
        if page:
            body["results"] = page
        if offset + limit < len(records):
            cursor = base64.urlsafe_b64encode(orjson.dumps({**query, "offset": offset + limit})).decode()
            host = self.headers.get("Host", f"127.0.0.1:{self.server.server_port}")
            body["next_url"] = f"http://{host}{path}?cursor={cursor}"
        return body


class FakePolygonServer(ThreadingHTTPServer):
    """The fake API on ``127.0.0.1:port`` (0 picks a free port); :attr:`faults` can change at any time.

    Answers are deterministic, so the last ``CACHE_ENTRIES`` response bodies are kept by request path and
    served again as they were (a benchmark then measures the client, not this server's JSON encoding).
    """

    daemon_threads = True
    CACHE_ENTRIES = 512

    def __init__(self, port: int = 0, faults: Faults | None = None):
        super().__init__(("127.0.0.1", port), _Handler)
        self.faults = faults or Faults()
        self.splits: tuple[data.Split, ...] = data.SPLITS
        self._cache: OrderedDict[str, bytes] = OrderedDict()
        self._cache_lock = threading.Lock()

    def set_splits(self, splits: tuple[data.Split, ...]) -> None:
        """The splits the vendor lists from now on (a new one: the adjusted bars before its execution date
        change, so the response cache is dropped)."""
        self.splits = splits
        with self._cache_lock:
            self._cache.clear()

    def cached(self, path: str) -> bytes | None:
        with self._cache_lock:
            if path in self._cache:
                self._cache.move_to_end(path)
                return self._cache[path]
            return None

    def remember(self, path: str, payload: bytes) -> None:
        with self._cache_lock:
            self._cache[path] = payload
            while len(self._cache) > self.CACHE_ENTRIES:
                self._cache.popitem(last=False)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_port}"


def serve(port: int = 0, faults: Faults | None = None) -> AbstractContextManager[FakePolygonServer]:
    """Run the fake server on a background thread for the duration of the block."""
    return serve_in_thread(FakePolygonServer(port, faults))
