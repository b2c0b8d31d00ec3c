"""The rate limit of a vendor API key: a token bucket per key, shared through Redis by every process using it.

A backfill split into runs (``ATS_BACKFILL_RUN_PARTITIONS``: a container or Kubernetes Job each), the stream's
gap filler and the scheduled runs all spend the same vendor key, so the bucket lives in Redis
(:class:`SharedTokenBucket`: one hash per key, taken and paused by Lua scripts, atomic, on Redis's clock) and
``*_REQUESTS_PER_MINUTE`` is the key's rate across all of them. A 429's ``Retry-After`` pauses every process
of the key. The hash is named by :func:`ats_pipelines.resources.redis_keys.rate_limit`, from a digest of
vendor and key: the key itself never reaches Redis.

When Redis fails the client falls back to its process's own :class:`TokenBucket` of the key, with one
warning, and tries Redis again every :data:`REDIS_RETRY_SECONDS`. That is the right way to
fail: a rate limiter cannot place or lose an order, the worst it allows is more requests than the plan, which
the vendor answers with 429s that are retried with backoff (docs/deploy.md). Without a Redis resource (tests,
scripts) the process-local bucket is the limiter, as before.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Protocol

import redis

from ats_pipelines.resources import redis_keys

# A Redis that refuses costs nothing to ask; one that hangs costs the URL's socket timeout (redis-py: 5 s) a try.
REDIS_RETRY_SECONDS = 60.0

logger = logging.getLogger(__name__)


class RateLimiter(Protocol):
    """What :class:`ats_pipelines.resources.http.ApiClient` takes before each request."""

    def acquire(self) -> float:
        """Take one token, sleeping as long as needed; returns the seconds waited."""

    def pause(self, seconds: float) -> None:
        """Hold every caller for ``seconds`` (the server said to slow down)."""


class TokenBucket:
    """Thread-safe token bucket of one process: ``rate_per_minute`` requests a minute with bursts up to ``burst``."""

    def __init__(self, rate_per_minute: float, burst: int | None = None):
        self.rate_per_second = rate_per_minute / 60.0
        self.capacity = float(burst if burst is not None else max(1, min(int(rate_per_minute), 10)))
        self._tokens = self.capacity
        self._updated = time.monotonic()
        self._paused_until = 0.0
        self._lock = threading.Lock()

    def acquire(self) -> float:
        waited = 0.0
        while True:
            with self._lock:
                now = time.monotonic()
                self._tokens = min(self.capacity, self._tokens + (now - self._updated) * self.rate_per_second)
                self._updated = now
                if now < self._paused_until:
                    delay = self._paused_until - now
                elif self._tokens >= 1.0:
                    self._tokens -= 1.0
                    return waited
                else:
                    delay = (1.0 - self._tokens) / self.rate_per_second
            time.sleep(delay)
            waited += delay

    def pause(self, seconds: float) -> None:
        with self._lock:
            self._paused_until = max(self._paused_until, time.monotonic() + seconds)
            self._tokens = 0.0


# The bucket's state as TokenBucket keeps it, in a hash: tokens, updated and paused_until (Redis TIME, seconds).
# Numbers are written with string.format: Lua's own tostring keeps 14 digits, 100 µs of a Unix time.
_STATE = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local rate, capacity = tonumber(ARGV[1]), tonumber(ARGV[2])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'updated', 'paused_until')
local tokens = tonumber(state[1]) or capacity
local paused_until = tonumber(state[3]) or 0
tokens = math.min(capacity, tokens + math.max(0, now - (tonumber(state[2]) or now)) * rate)
"""
# Kept until the bucket would be full again and unpaused: an expired key reads as the same full bucket.
_SAVE = """
redis.call('HSET', KEYS[1], 'tokens', string.format('%.17g', tokens), 'updated', string.format('%.6f', now),
           'paused_until', string.format('%.6f', paused_until))
local idle = math.max(paused_until - now, (capacity - tokens) / rate)
redis.call('PEXPIRE', KEYS[1], math.ceil(idle * 1000) + 1000)
"""
# ARGV: rate per second, capacity. Returns the seconds to wait before asking again, "0" when a token was taken.
TAKE_SCRIPT = _STATE + """
local wait = 0
if now < paused_until then
  wait = paused_until - now
elseif tokens >= 1 then
  tokens = tokens - 1
else
  wait = (1 - tokens) / rate
end
""" + _SAVE + """
return string.format('%.6f', wait)
"""
# ARGV: rate per second, capacity, seconds to pause.
PAUSE_SCRIPT = _STATE + """
paused_until = math.max(paused_until, now + tonumber(ARGV[3]))
tokens = 0
""" + _SAVE


class SharedTokenBucket:
    """The bucket of one vendor key in Redis (:data:`TAKE_SCRIPT`, :data:`PAUSE_SCRIPT`), with the rate and
    burst of ``local``, the process's own bucket of the key, which stands in while Redis cannot be reached."""

    def __init__(self, client: redis.Redis, key: str, local: TokenBucket, vendor: str):
        self.key, self.local, self.vendor = key, local, vendor
        self._take = client.register_script(TAKE_SCRIPT)
        self._pause = client.register_script(PAUSE_SCRIPT)
        self._local_until = 0.0  # monotonic time until which Redis is not asked again
        self._warned = False
        self._lock = threading.Lock()  # the fallback's bookkeeping: a client's threads share the bucket

    def acquire(self) -> float:
        waited = 0.0
        while True:
            wait = self._shared(self._take)
            if wait is None:
                return waited + self.local.acquire()
            if wait <= 0.0:
                return waited
            time.sleep(wait)
            waited += wait

    def pause(self, seconds: float) -> None:
        if self._shared(self._pause, seconds) is None:
            self.local.pause(seconds)

    def _shared(self, script, *extra: float) -> float | None:
        """Run ``script`` on the key; None when Redis failed (now or less than REDIS_RETRY_SECONDS ago)."""
        if self._local_until and time.monotonic() < self._local_until:
            return None
        try:
            reply = script(keys=[self.key], args=[self.local.rate_per_second, self.local.capacity, *extra])
        except redis.RedisError as exc:
            with self._lock:
                self._local_until = time.monotonic() + REDIS_RETRY_SECONDS
                warn, self._warned = not self._warned, True
            if warn:
                logger.warning("%s rate limit: Redis failed (%s: %s); this process keeps its own bucket of the key "
                               "until Redis answers again, so parallel runs may exceed the plan and get 429s "
                               "(retried)", self.vendor, type(exc).__name__, exc)
            return None
        with self._lock:
            recovered, self._local_until = bool(self._local_until), 0.0
        if recovered:
            logger.info("%s rate limit: shared through Redis again", self.vendor)
        return float(reply or 0.0)


_LOCAL: dict[str, TokenBucket] = {}
_LOCAL_LOCK = threading.Lock()


def local_limiter(vendor: str, api_key: str, rate_per_minute: float) -> TokenBucket:
    """The process-wide bucket of a vendor key (created on first use; a new rate replaces the bucket)."""
    key = redis_keys.rate_limit(vendor, api_key)
    with _LOCAL_LOCK:
        bucket = _LOCAL.get(key)
        if bucket is None or bucket.rate_per_second != rate_per_minute / 60.0:
            bucket = _LOCAL[key] = TokenBucket(rate_per_minute)
        return bucket


def shared_limiter(vendor: str, api_key: str, rate_per_minute: float,
                   client: redis.Redis | None = None) -> RateLimiter:
    """The limiter of a vendor key: shared through ``client``'s Redis, or the process's own without one."""
    local = local_limiter(vendor, api_key, rate_per_minute)
    if client is None:
        return local
    return SharedTokenBucket(client, redis_keys.rate_limit(vendor, api_key), local, vendor)
