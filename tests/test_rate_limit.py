"""The rate limit of a vendor key shared through Redis (real Redis, the fake Polygon server).

Each ``client()`` of a resource gets its own :class:`SharedTokenBucket`, whose only state is in Redis: two
clients here are two processes there (runs of a backfill, the stream's gap filler). Counts are checked against
the bucket's own clock (Redis TIME) and the fake server's request counter, never against a speed limit.
"""

from __future__ import annotations

import logging
import threading
import time

from ats_pipelines.resources import PolygonResource, RedisResource, redis_keys
from ats_pipelines.resources.rate_limit import SharedTokenBucket, TokenBucket, shared_limiter


def polygon(server, redis: RedisResource, **kwargs) -> PolygonResource:
    return PolygonResource(**{"api_key": "demo-key", "base_url": server.base_url, "backoff_seconds": 0.01,
                              "requests_per_minute": 1200, "redis": redis, **kwargs})


def redis_seconds(cache: RedisResource) -> float:
    seconds, micros = cache.client.time()
    return seconds + micros / 1e6


def test_two_processes_on_one_key_stay_within_the_keys_rate_together(cache, fake_polygon):
    resource = polygon(fake_polygon, cache)  # 1200/min: 20 a second after a burst of 10
    per_process = 20
    with resource.client() as first, resource.client() as second:
        assert isinstance(first.limiter, SharedTokenBucket) and first.limiter is not second.limiter
        rate, burst = first.limiter.local.rate_per_second, first.limiter.local.capacity
        started = redis_seconds(cache)
        threads = [threading.Thread(target=lambda c=c: [c.market_status() for _ in range(per_process)])
                   for c in (first, second)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        window = redis_seconds(cache) - started
        assert first.stats.requests == second.stats.requests == per_process
    # Every request was granted inside the window by one bucket: its burst plus its rate over the window. Two
    # buckets of their own would have granted up to twice that (and these 40 requests in about 0.5 s).
    assert fake_polygon.faults.served == 2 * per_process
    assert fake_polygon.faults.served <= burst + rate * window


def test_different_keys_and_vendors_have_their_own_buckets_and_the_key_stays_out_of_redis(cache):
    key_a = shared_limiter("Polygon", "key-a", 3, cache.client)  # 3/min: a token every 20 s, a burst of 3
    key_b = shared_limiter("Polygon", "key-b", 3, cache.client)
    vendor_b = shared_limiter("Unusual Whales", "key-a", 3, cache.client)
    assert [key_a.acquire() for _ in range(3)] == [0.0] * 3
    key_a.pause(60)
    assert [key_b.acquire() for _ in range(3)] == [0.0] * 3  # a full bucket of its own, not paused
    assert [vendor_b.acquire() for _ in range(3)] == [0.0] * 3

    paused = cache.get_hash(key_a.key)
    assert float(paused["tokens"]) == 0.0 and float(paused["paused_until"]) > redis_seconds(cache) + 50
    assert 0 < cache.ttl(key_a.key) <= 62  # gone once it would read as a full bucket again
    assert float(cache.get_hash(key_b.key)["tokens"]) < 1.0
    keys = sorted(cache.client.keys("*"))
    assert keys == sorted({key_a.key, key_b.key, vendor_b.key}) and len(keys) == 3
    assert keys[0].startswith("rate_limit:polygon:") and keys[2].startswith("rate_limit:unusual_whales:")
    assert not any("key-a" in k or "key-b" in k for k in keys)
    assert key_a.key == redis_keys.rate_limit("Polygon", "key-a")


def test_a_429_seen_by_one_process_pauses_the_others_until_its_retry_after(cache, fake_polygon):
    fake_polygon.faults.rate_limit_first, fake_polygon.faults.retry_after = 1, "1"
    resource = polygon(fake_polygon, cache)
    with resource.client() as first, resource.client() as second:
        started = time.monotonic()
        throttled = threading.Thread(target=first.market_status)
        throttled.start()
        deadline = time.monotonic() + 60  # a hang guard, not a speed limit

        def paused_until() -> float:
            return float(cache.client.hget(first.limiter.key, "paused_until") or 0)

        while not paused_until() and time.monotonic() < deadline:
            time.sleep(0.005)
        assert paused_until() > 0, "the 429 paused nothing"
        second.market_status()  # sent only after the first one's Retry-After (1 s after its 429 at the earliest)
        held = time.monotonic() - started
        throttled.join()
        assert (first.stats.retries, second.stats.retries) == (1, 0)
    assert fake_polygon.faults.served == 3
    assert held >= 1.0 - 0.01  # Redis's clock and the monotonic one run at the same rate, not to the µs


def test_without_redis_each_process_falls_back_to_its_own_bucket_with_one_warning(fake_polygon, caplog):
    fake_polygon.faults.rate_limit_first = 1  # the 429's pause goes to the local bucket too
    unreachable = RedisResource(redis_url="redis://127.0.0.1:1/0")
    with (caplog.at_level(logging.WARNING, logger="ats_pipelines.resources.rate_limit"),
          polygon(fake_polygon, unreachable, requests_per_minute=6000).client() as client):
        statuses = [client.market_status() for _ in range(5)]
        assert client.limiter.local is shared_limiter("Polygon", "demo-key", 6000)
        assert isinstance(client.limiter.local, TokenBucket)
        assert client.stats.retries == 1
    assert len(statuses) == 5 and fake_polygon.faults.served == 6
    warnings = [r for r in caplog.records if r.name == "ats_pipelines.resources.rate_limit"]
    assert len(warnings) == 1 and "Redis failed" in warnings[0].getMessage()
    assert "demo-key" not in warnings[0].getMessage()


def test_without_a_redis_resource_the_limiter_is_the_process_bucket(fake_polygon):
    with polygon(fake_polygon, None).client() as client:
        assert client.limiter is shared_limiter("Polygon", "demo-key", 1200)
        assert client.market_status()
