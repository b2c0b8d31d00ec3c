"""The one HTTP layer every vendor client uses: a shared rate limiter, retries, errors and counters.

* **Rate limit** — the vendor key's limiter (:mod:`ats_pipelines.resources.rate_limit`: one token bucket per
  key, shared through Redis by every process spending it), taken by every request, pagination follow-ups
  included (lessons.md #1). A 429 pauses the whole bucket for the server's ``Retry-After``, so concurrent
  callers, in this process and the others, back off together instead of storming.
* **Retries** — 413, 429, 499 and 5xx responses, timeouts and connection errors are retried with
  exponential backoff and full jitter, honouring ``Retry-After`` (seconds or an HTTP date).
* **Errors** — 401/403 raise :class:`ApiAuthError`, 404 :class:`ApiNotFoundError`, anything else
  :class:`ApiError`; messages carry the vendor's own text and the request path, never the credentials.
"""

from __future__ import annotations

import email.utils
import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import orjson

from ats_pipelines.resources.rate_limit import RateLimiter

RETRY_STATUSES = frozenset({413, 429, 499, 500, 502, 503, 504})


class ApiError(RuntimeError):
    """A vendor API answered with an error (or never answered after all retries)."""

    def __init__(self, vendor: str, status: int | None, path: str, message: str):
        self.vendor, self.status, self.path = vendor, status, path
        where = f"HTTP {status}" if status is not None else "no response"
        super().__init__(f"{vendor} API {where} for {path}: {message}")


class ApiUncertainError(ApiError):
    """A request that must not be repeated blindly (an order) got no clear answer: a timeout, a dropped
    connection or a 5xx. The vendor may or may not have acted on it; the caller must find out."""


class ApiAuthError(ApiError):
    """401/403: the key is missing, wrong, or not entitled to this data. Never retried."""


class ApiNotFoundError(ApiError):
    """404: no such resource (unknown ticker, bad path)."""


@dataclass
class RequestStats:
    """Counters of one client, reported as Dagster metadata."""

    requests: int = 0
    retries: int = 0
    throttled_seconds: float = 0.0
    request_seconds: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, *, requests: int = 0, retries: int = 0, throttled: float = 0.0, seconds: float = 0.0) -> None:
        with self._lock:
            self.requests += requests
            self.retries += retries
            self.throttled_seconds += throttled
            self.request_seconds += seconds

    def as_metadata(self) -> dict[str, int | float]:
        return {
            "api_requests": self.requests,
            "api_retries": self.retries,
            "api_throttled_seconds": round(self.throttled_seconds, 3),
            "api_request_seconds": round(self.request_seconds, 3),
        }


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to retry; delays are full-jitter exponential, capped."""

    max_retries: int = 6
    backoff_seconds: float = 0.5
    max_backoff_seconds: float = 60.0

    def delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(retry_after, self.max_backoff_seconds)
        return random.uniform(0, min(self.max_backoff_seconds, self.backoff_seconds * 2**attempt))


def retry_after_seconds(headers: httpx.Headers) -> float | None:
    """``Retry-After`` as seconds (it may be a number or an HTTP date); None when absent or unreadable."""
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def error_message(response: httpx.Response) -> str:
    """The vendor's own error text: ``error`` or ``message`` of a JSON body, else the start of the body."""
    try:
        body = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        return response.text[:200].strip() or response.reason_phrase
    if isinstance(body, dict):
        for key in ("error", "message", "msg"):
            if body.get(key):
                return str(body[key])
    return response.text[:200]


class ApiClient:
    """A JSON-over-HTTPS client of one vendor: bearer auth, the key's rate ``limiter``, retries, counters.

    The key only ever travels in the ``Authorization`` header; paths in errors and logs carry no secret.
    """

    def __init__(self, vendor: str, base_url: str, api_key: str, *, limiter: RateLimiter, retry: RetryPolicy,
                 timeout_seconds: float = 30.0, auth_headers: Mapping[str, str] | None = None):
        self.vendor = vendor
        self.retry = retry
        self.limiter = limiter
        self.stats = RequestStats()
        self._http = httpx.Client(
            base_url=base_url.rstrip("/"),
            headers={**(auth_headers or {"Authorization": f"Bearer {api_key}"}), "Accept-Encoding": "gzip",
                     "User-Agent": "ats-pipelines"},
            timeout=httpx.Timeout(timeout_seconds),
            limits=httpx.Limits(max_connections=16, max_keepalive_connections=16),
        )

    def close(self) -> None:
        self._http.close()

    def get_json(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        """GET ``path`` (relative to the base URL) and decode its JSON body, retrying what may pass."""
        return self.request_json("GET", path, params=params)

    def request_json(self, method: str, path: str, params: Mapping[str, Any] | None = None, json: Any = None,
                     idempotent: bool = True, before_send: Callable[[], None] | None = None) -> Any:
        """Send a request and decode its JSON body (None for an empty one, as 204 has).

        An ``idempotent`` request is retried on timeouts, dropped connections and 413/429/499/5xx. One that
        is not (submitting an order) is retried only on 429, which guarantees it was not processed; any
        other failure to get an answer raises :class:`ApiUncertainError`. ``before_send`` runs right before
        each send, after any wait for the rate limit or a retry (a submit's last read of the emergency stop);
        what it raises ends the request.
        """
        attempt = 0
        while True:
            self.stats.add(throttled=self.limiter.acquire())
            if before_send is not None:
                before_send()
            started = time.monotonic()
            try:
                response = self._http.request(method, path, params=params, json=json)
            except (httpx.TimeoutException, httpx.TransportError) as exc:
                self.stats.add(requests=1, seconds=time.monotonic() - started)
                if not idempotent:
                    raise ApiUncertainError(self.vendor, None, path, f"{type(exc).__name__}: no answer") from None
                if attempt >= self.retry.max_retries:
                    raise ApiError(self.vendor, None, path, f"{type(exc).__name__} after {attempt} retries") from None
                self._wait(attempt, None)
                attempt += 1
                continue
            self.stats.add(requests=1, seconds=time.monotonic() - started)
            if 200 <= response.status_code < 300:
                if not response.content:
                    return None
                try:
                    return orjson.loads(response.content)
                except orjson.JSONDecodeError as exc:
                    raise ApiError(self.vendor, response.status_code, path, f"body is not JSON ({exc})") from None
            retryable = response.status_code == 429 or (idempotent and response.status_code in RETRY_STATUSES)
            if retryable and attempt < self.retry.max_retries:
                retry_after = retry_after_seconds(response.headers)
                if response.status_code == 429:
                    self.limiter.pause(self.retry.delay(attempt, retry_after))
                    self.stats.add(retries=1)
                else:
                    self._wait(attempt, retry_after)
                attempt += 1
                continue
            if not idempotent and response.status_code >= 500:
                raise ApiUncertainError(self.vendor, response.status_code, path, error_message(response))
            raise self._error(response, path)

    def _wait(self, attempt: int, retry_after: float | None) -> None:
        self.stats.add(retries=1)
        time.sleep(self.retry.delay(attempt, retry_after))

    def _error(self, response: httpx.Response, path: str) -> ApiError:
        status, message = response.status_code, error_message(response)
        if status in (401, 403):
            return ApiAuthError(self.vendor, status, path, f"{message} (check the API key and plan)")
        if status == 404:
            return ApiNotFoundError(self.vendor, status, path, message)
        return ApiError(self.vendor, status, path, message)
