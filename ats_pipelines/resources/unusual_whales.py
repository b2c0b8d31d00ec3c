"""UnusualWhalesResource: the Unusual Whales REST API (shared/api_formats.md §3), on the shared HTTP layer."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar

from ats_pipelines.resources.http import ApiClient, ApiError
from ats_pipelines.resources.vendor import VendorApiResource

FLOW_ALERTS_LIMIT = 200


class UnusualWhalesClient(ApiClient):
    """One session with the Unusual Whales API."""

    def flow_alerts(self, newer_than_ms: int, max_pages: int = 50) -> Iterator[list[dict[str, Any]]]:
        """Flow alerts created after ``newer_than_ms``, newest first, one page per request.

        The API has no cursor: a full page is followed by a request for alerts older than its oldest
        one (``older_than``), until a short page or ``max_pages``.
        """
        params: dict[str, Any] = {"newer_than": newer_than_ms, "limit": FLOW_ALERTS_LIMIT}
        for _ in range(max_pages):
            body = self.get_json("/api/option-trades/flow-alerts", params)
            if not isinstance(body, dict):
                raise ApiError(self.vendor, 200, "/api/option-trades/flow-alerts", "expected a JSON object")
            page = body.get("data") or []
            yield page
            times = [a["start_time"] for a in page if isinstance(a, dict) and isinstance(a.get("start_time"), int)]
            if len(page) < FLOW_ALERTS_LIMIT or not times:
                return
            params = {**params, "older_than": min(times)}


class UnusualWhalesResource(VendorApiResource):
    """Unusual Whales REST with bearer auth, a shared rate limit and retries.

    Configure with ``UNUSUAL_WHALES_API_KEY`` (required), ``UNUSUAL_WHALES_BASE_URL`` and
    ``UNUSUAL_WHALES_REQUESTS_PER_MINUTE`` (default 120, the official MCP server's own throttle).
    """

    VENDOR: ClassVar[str] = "Unusual Whales"
    CLIENT: ClassVar[type[UnusualWhalesClient]] = UnusualWhalesClient
    DEFAULT_BASE_URL: ClassVar[str] = "https://api.unusualwhales.com"
    BASE_URL_ENV: ClassVar[str] = "UNUSUAL_WHALES_BASE_URL"
    RATE_ENV: ClassVar[str] = "UNUSUAL_WHALES_REQUESTS_PER_MINUTE"
    DEFAULT_RATE: ClassVar[float] = 120
