"""VendorApiResource: the configuration and client lifecycle every paid-API resource shares."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import ClassVar

import dagster as dg
from pydantic import Field

from ats_pipelines.resources.http import ApiClient, ApiError, RetryPolicy
from ats_pipelines.resources.rate_limit import shared_limiter
from ats_pipelines.resources.redis_cache import RedisResource


class VendorApiResource(dg.ConfigurableResource):
    """A vendor REST API: key from the environment (via ``EnvVar``), base URL and rate from the
    environment unless configured, and a client per run on the shared HTTP layer. With ``redis`` the rate is
    the key's across every process (:mod:`ats_pipelines.resources.rate_limit`); without it, this process's."""

    VENDOR: ClassVar[str]
    CLIENT: ClassVar[type[ApiClient]]
    DEFAULT_BASE_URL: ClassVar[str]
    BASE_URL_ENV: ClassVar[str]
    RATE_ENV: ClassVar[str]
    DEFAULT_RATE: ClassVar[float]

    api_key: str = Field(description="API key, sent only as an Authorization header")
    base_url: str | None = Field(default=None, description="defaults to the vendor's *_BASE_URL variable")
    requests_per_minute: float | None = Field(default=None, description="defaults to *_REQUESTS_PER_MINUTE")
    redis: RedisResource | None = Field(default=None, description="where the key's token bucket is shared "
                                        "between processes; None keeps it in this process")
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
        """A client for one run; every client of the key shares its rate limit (in Redis, or in this process)."""
        if not self.api_key:
            raise ApiError(self.VENDOR, None, "-", "the API key is empty")
        limiter = shared_limiter(self.VENDOR, self.api_key, self.rate, self.redis.client if self.redis else None)
        client = self.CLIENT(
            self.VENDOR, self.url, self.api_key, limiter=limiter,
            retry=RetryPolicy(max_retries=self.max_retries, backoff_seconds=self.backoff_seconds),
            timeout_seconds=self.timeout_seconds, auth_headers=self.auth_headers(),
        )
        try:
            yield client
        finally:
            client.close()
