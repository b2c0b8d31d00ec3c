"""PolygonResource: the Polygon.io / Massive REST API (shared/api_formats.md §1), on the shared HTTP layer."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import parse_qs, urlsplit

import dagster as dg
from pydantic import Field

from ats_pipelines.resources.http import ApiClient, ApiError, RetryPolicy

DEFAULT_BASE_URL = "https://api.massive.com"
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


class PolygonResource(dg.ConfigurableResource):
    """Polygon.io / Massive REST with bearer auth, a shared rate limit and retries.

    Configure with ``POLYGON_API_KEY`` (required), ``POLYGON_BASE_URL`` (default ``https://api.massive.com``)
    and ``POLYGON_REQUESTS_PER_MINUTE`` (default 600; the free plan allows 5).
    """

    api_key: str = Field(description="API key, sent only as an Authorization header")
    base_url: str | None = Field(default=None, description="defaults to POLYGON_BASE_URL, then api.massive.com")
    requests_per_minute: float | None = Field(default=None, description="defaults to POLYGON_REQUESTS_PER_MINUTE")
    max_retries: int = Field(default=6, description="retries of a 429/5xx/timeout before the request fails")
    backoff_seconds: float = Field(default=0.5, description="first backoff delay; doubles per retry, jittered")
    timeout_seconds: float = Field(default=30.0)

    @property
    def url(self) -> str:
        return self.base_url or os.environ.get("POLYGON_BASE_URL") or DEFAULT_BASE_URL

    @property
    def rate(self) -> float:
        return self.requests_per_minute or float(os.environ.get("POLYGON_REQUESTS_PER_MINUTE") or 600)

    @contextmanager
    def client(self) -> Iterator[PolygonClient]:
        """A client for one run; all clients of the process share one rate limiter."""
        if not self.api_key:
            raise ApiError("Polygon", None, "-", "POLYGON_API_KEY is empty")
        client = PolygonClient(
            "Polygon", self.url, self.api_key, requests_per_minute=self.rate,
            retry=RetryPolicy(max_retries=self.max_retries, backoff_seconds=self.backoff_seconds),
            timeout_seconds=self.timeout_seconds,
        )
        try:
            yield client
        finally:
            client.close()
