"""VendorApiResource: the configuration and client lifecycle every paid-API resource shares."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import ClassVar

import dagster as dg
from pydantic import Field

from ats_pipelines.resources.http import ApiClient, ApiError, RetryPolicy


class VendorApiResource(dg.ConfigurableResource):
    """A vendor REST API: key from the environment (via ``EnvVar``), base URL and rate from the
    environment unless configured, and a client per run on the shared HTTP layer."""

    VENDOR: ClassVar[str]
    CLIENT: ClassVar[type[ApiClient]]
    DEFAULT_BASE_URL: ClassVar[str]
    BASE_URL_ENV: ClassVar[str]
    RATE_ENV: ClassVar[str]
    DEFAULT_RATE: ClassVar[float]

    api_key: str = Field(description="API key, sent only as an Authorization header")
    base_url: str | None = Field(default=None, description="defaults to the vendor's *_BASE_URL variable")
    requests_per_minute: float | None = Field(default=None, description="defaults to *_REQUESTS_PER_MINUTE")
    max_retries: int = Field(default=6, description="retries of a 429/5xx/timeout before the request fails")
    backoff_seconds: float = Field(default=0.5, description="first backoff delay; doubles per retry, jittered")
    timeout_seconds: float = Field(default=30.0)

    @property
    def url(self) -> str:
        return self.base_url or os.environ.get(self.BASE_URL_ENV) or self.DEFAULT_BASE_URL

    @property
    def rate(self) -> float:
        return self.requests_per_minute or float(os.environ.get(self.RATE_ENV) or self.DEFAULT_RATE)

    def auth_headers(self) -> dict[str, str] | None:
        """The vendor's own authentication headers; None means ``Authorization: Bearer <api_key>``."""
        return None

    @contextmanager
    def client(self) -> Iterator[ApiClient]:
        """A client for one run; all clients of a vendor in this process share one rate limiter."""
        if not self.api_key:
            raise ApiError(self.VENDOR, None, "-", "the API key is empty")
        client = self.CLIENT(
            self.VENDOR, self.url, self.api_key, requests_per_minute=self.rate,
            retry=RetryPolicy(max_retries=self.max_retries, backoff_seconds=self.backoff_seconds),
            timeout_seconds=self.timeout_seconds, auth_headers=self.auth_headers(),
        )
        try:
            yield client
        finally:
            client.close()
