"""PolygonResource: the Polygon.io / Massive REST API (shared/api_formats.md §1), on the shared HTTP layer."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlsplit

from ats_pipelines.resources.http import ApiClient, ApiError
from ats_pipelines.resources.vendor import VendorApiResource

MAX_AGGREGATES_LIMIT = 50_000
MAX_TICKS_LIMIT = 50_000


class PolygonClient(ApiClient):
    """One session with the Polygon REST API; its :attr:`stats` count requests, retries and waits."""

    def pages(self, path: str, params: dict[str, Any] | None = None) -> Iterator[list[dict[str, Any]]]:
        """Yield ``results`` of each page, following ``next_url`` (path and query only, as the official
        client does) until it is absent. A missing ``results`` is an empty page; a cursor seen before
        stops the walk (``next_url`` has been seen to cycle)."""
        seen_cursors: set[str] = set()
        while True:
            body = self.get_json(path, params)
            if not isinstance(body, dict):
                raise ApiError(self.vendor, 200, path, f"expected a JSON object, got {type(body).__name__}")
            yield body.get("results") or []
            next_url = body.get("next_url")
            if not next_url:
                return
            parts = urlsplit(next_url)
            cursor = ",".join(parse_qs(parts.query).get("cursor", [parts.query]))
            if cursor in seen_cursors:
                return
            seen_cursors.add(cursor)
            path, params = parts.path + (f"?{parts.query}" if parts.query else ""), None

    def aggregates(self, ticker: str, multiplier: int, timespan: str, start_ms: int, end_ms: int,
                   adjusted: bool = True) -> Iterator[list[dict[str, Any]]]:
        """Bars of ``ticker`` starting in ``[start_ms, end_ms]`` (Unix ms, both inclusive), oldest first."""
        path = f"/v2/aggs/ticker/{ticker}/range/{multiplier}/{timespan}/{start_ms}/{end_ms}"
        params = {"adjusted": str(adjusted).lower(), "sort": "asc", "limit": MAX_AGGREGATES_LIMIT}
        return self.pages(path, params)

    def ticks(self, kind: str, ticker: str, start_ns: int, end_ns: int) -> Iterator[list[dict[str, Any]]]:
        """Trades or quotes (``kind``) of ``ticker`` with ``start_ns <= sip_timestamp < end_ns``, oldest first."""
        if kind not in ("trades", "quotes"):
            raise ValueError(f"kind must be trades or quotes, not {kind!r}")
        params = {"timestamp.gte": start_ns, "timestamp.lt": end_ns, "order": "asc", "sort": "timestamp",
                  "limit": MAX_TICKS_LIMIT}
        return self.pages(f"/v3/{kind}/{ticker}", params)

    def option_contracts(self, underlying: str, as_of: str, expiration_lte: str) -> Iterator[list[dict[str, Any]]]:
        """Option contracts of ``underlying`` listed on ``as_of`` that expire between then and ``expiration_lte``."""
        params = {"underlying_ticker": underlying, "as_of": as_of, "expiration_date.gte": as_of,
                  "expiration_date.lte": expiration_lte, "expired": "true", "limit": 1000}
        return self.pages("/v3/reference/options/contracts", params)


    def splits(self, ticker: str) -> Iterator[list[dict[str, Any]]]:
        """Every split of ``ticker`` (/v3/reference/splits), all pages."""
        return self.pages("/v3/reference/splits", {"ticker": ticker, "limit": 1000})

    def dividends(self, ticker: str) -> Iterator[list[dict[str, Any]]]:
        """Every dividend of ``ticker`` (/v3/reference/dividends), all pages."""
        return self.pages("/v3/reference/dividends", {"ticker": ticker, "limit": 1000})

    def ticker_details(self, ticker: str) -> dict[str, Any]:
        """``results`` of /v3/reference/tickers/{ticker} (raises ApiNotFoundError for an unknown ticker)."""
        body = self.get_json(f"/v3/reference/tickers/{ticker}")
        return body.get("results") or {} if isinstance(body, dict) else {}

    def news(self, published_gte: str, limit: int = 1000) -> Iterator[list[dict[str, Any]]]:
        """News published at or after ``published_gte`` (RFC 3339), oldest first, all pages."""
        params = {"published_utc.gte": published_gte, "order": "asc", "sort": "published_utc", "limit": limit}
        return self.pages("/v2/reference/news", params)

    def market_status(self) -> dict[str, Any]:
        """/v1/marketstatus/now: a bare object."""
        return self.get_json("/v1/marketstatus/now")

    def upcoming_holidays(self) -> list[dict[str, Any]]:
        """/v1/marketstatus/upcoming: a bare array, one row per exchange and holiday."""
        return self.get_json("/v1/marketstatus/upcoming")


class PolygonResource(VendorApiResource):
    """Polygon.io / Massive REST with bearer auth, a shared rate limit and retries.

    Configure with ``POLYGON_API_KEY`` (required), ``POLYGON_BASE_URL`` (default ``https://api.massive.com``)
    and ``POLYGON_REQUESTS_PER_MINUTE`` (default 600; the free plan allows 5).
    """

    VENDOR: ClassVar[str] = "Polygon"
    CLIENT: ClassVar[type[PolygonClient]] = PolygonClient
    DEFAULT_BASE_URL: ClassVar[str] = "https://api.massive.com"
    BASE_URL_ENV: ClassVar[str] = "POLYGON_BASE_URL"
    RATE_ENV: ClassVar[str] = "POLYGON_REQUESTS_PER_MINUTE"
    DEFAULT_RATE: ClassVar[float] = 600
