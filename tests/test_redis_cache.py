"""Redis key builders against the spec's patterns, and RedisResource against the real Redis."""

from __future__ import annotations

import uuid

import pytest

from ats_pipelines.resources import redis_keys
from tests.spec_schema import spec_redis_patterns


def test_builders_cover_exactly_the_spec_patterns():
    assert sorted(p.template for p in redis_keys.ALL_PATTERNS) == sorted(spec_redis_patterns())


@pytest.mark.parametrize("pattern", redis_keys.ALL_PATTERNS, ids=lambda p: p.template)
def test_each_pattern_builds_its_template(pattern):
    """Filling each field with its own name in braces gives back the spec's text."""
    placeholders = {name: f"{{{name}}}" for name in pattern.fields}
    assert pattern.template.format(**placeholders) == pattern.template
    sample = {name: f"v{i}" for i, name in enumerate(pattern.fields)}
    key = pattern.build(**sample)
    assert key == pattern.template.format(**sample)


def test_builder_functions_produce_the_spec_keys():
    model_id = uuid.UUID("12345678-1234-5678-1234-567812345678")
    assert redis_keys.feature("AAPL", "rsi_14", "1m") == "feature:AAPL:rsi_14:1m"
    assert redis_keys.feature_history("X:BTCUSD", "sma_20", "5m") == "feature_history:X:BTCUSD:sma_20:5m"
    assert redis_keys.model_metadata(model_id) == f"model:{model_id}:metadata"
    assert redis_keys.model_predictions(model_id, "MSFT") == f"model:{model_id}:predictions:MSFT"
    assert redis_keys.active_positions() == "active_positions"
    assert redis_keys.position("AAPL") == "position:AAPL"
    assert redis_keys.order("o-1") == "order:o-1"
    assert redis_keys.pending_orders() == "pending_orders"
    assert redis_keys.system_status() == "system:status"
    assert redis_keys.component_status("market_data") == "component:market_data:status"
    assert redis_keys.emergency_status() == "emergency:status"
    assert redis_keys.ws_last_trade("O:SPY251219C00650000") == "ws:last_trade:O:SPY251219C00650000"
    assert redis_keys.ws_last_quote("AAPL") == "ws:last_quote:AAPL"
    assert redis_keys.ws_agg("AAPL", "1m") == "ws:agg:AAPL:1m"


@pytest.mark.parametrize(
    "build",
    [
        lambda: redis_keys.feature("AAPL", "rsi:14", "1m"),  # ':' only allowed in symbols
        lambda: redis_keys.feature("AAPL", "", "1m"),
        lambda: redis_keys.position("AA PL"),
        lambda: redis_keys.component_status("a:b"),
        lambda: redis_keys.FEATURE.build(symbol="AAPL", feature_name="x"),  # missing field
    ],
)
def test_bad_key_parts_are_refused(build):
    with pytest.raises(ValueError):
        build()


def test_bulk_set_with_ttl_and_read_back(cache):
    values = {redis_keys.feature(f"S{i}", "rsi_14", "1m"): f"{i}.5" for i in range(2500)}
    assert cache.set_values(values, ttl_seconds=120) == 2500
    key = redis_keys.feature("S7", "rsi_14", "1m")
    assert cache.get(key) == "7.5"
    assert 0 < cache.ttl(key) <= 120
    assert cache.get_many([key, redis_keys.feature("S2499", "rsi_14", "1m"), "feature:none:x:1m"]) == [
        "7.5", "2499.5", None
    ]
    assert cache.client.dbsize() == 2500


def test_hashes_replace_old_fields(cache):
    key = redis_keys.position("AAPL")
    cache.set_hashes({key: {"quantity": 10, "side": "long", "stale": "x"}})
    cache.set_hashes({key: {"quantity": 12, "side": "long", "open": True}})
    assert cache.get_hash(key) == {"quantity": "12", "side": "long", "open": "true"}
    assert cache.ttl(key) == -1


def test_history_keeps_the_newest_entries_only(cache):
    key = redis_keys.feature_history("AAPL", "close", "1m")
    cache.add_history({key: [(float(t), f"{t}:{t * 2}") for t in range(100)]}, max_len=10, ttl_seconds=60)
    cache.add_history({key: [(100.0, "100:200")]}, max_len=10)
    newest = cache.history(key)
    assert len(newest) == 10
    assert newest[0] == ("100:200", 100.0)
    assert newest[-1] == ("91:182", 91.0)
    assert cache.history(key, count=2) == [("100:200", 100.0), ("99:198", 99.0)]


def test_sets_hold_exactly_the_members_given(cache):
    key = redis_keys.active_positions()
    cache.set_members(key, ["AAPL", "MSFT"])
    cache.add_members(key, "NVDA")
    cache.remove_members(key, "AAPL")
    assert cache.members(key) == {"MSFT", "NVDA"}
    cache.set_members(key, [])
    assert cache.members(key) == set()
