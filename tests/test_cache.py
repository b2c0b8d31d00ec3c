"""The cache domain against the real Redis and PostgreSQL: refreshes rebuild each key family from rows written
directly, FLUSHALL loses nothing the next refresh does not restore, and the sensors neither skip nor repeat."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import dagster as dg
import polars as pl
import pytest
import redis as redis_py

from ats_pipelines.defs.cache.assets import feature_cache, model_cache, status_cache, trading_cache
from ats_pipelines.defs.cache.sensors import feature_cache_sensor, trading_cache_sensor
from ats_pipelines.defs.features.assets import features
from ats_pipelines.defs.market_data.assets import stock_aggs
from ats_pipelines.resources import RedisResource, redis_keys
from ats_pipelines.resources.resp import encode
from tests.conftest import feature_resources, market_resources, run

T0 = datetime(2024, 3, 7, 14, 30, tzinfo=UTC)


def write_features(db, minutes: int = 150, symbols=("AAPL", "MSFT"), start: datetime = T0) -> pl.DataFrame:
    rows = pl.DataFrame([{"timestamp": start + timedelta(minutes=i), "symbol": s, "feature_name": f,
                          "feature_value": round(i * 0.5 + j + (k * 100), 4), "timeframe": "1m",
                          "feature_group": "trend"}
                         for k, s in enumerate(symbols) for j, f in enumerate(("sma_20", "rsi_14"))
                         for i in range(minutes)])
    db.write("features", rows)
    return rows


def refresh(asset, db, cache, **config):
    return dg.materialize([asset], resources={"timescale": db, "redis": cache},
                          instance=dg.DagsterInstance.ephemeral(),
                          run_config={"ops": {asset.key.path[-1]: {"config": config}}} if config else None)


def snapshot(cache: RedisResource) -> dict[str, object]:
    """Every key with its type and content (TTLs aside)."""
    client, out = cache.client, {}
    for key in client.keys("*"):
        kind = client.type(key)
        out[key] = {"string": client.get, "hash": client.hgetall, "set": client.smembers,
                    "zset": lambda k: client.zrange(k, 0, -1, withscores=True)}[kind](key)
    return out


def test_feature_cache_holds_the_latest_value_and_a_bounded_history_and_survives_flushall(db, cache):
    write_features(db)
    refresh(feature_cache, db, cache, partitions=["2024-03-07"], history=50, ttl_seconds=600)
    last = T0 + timedelta(minutes=149)
    assert cache.get("feature:AAPL:sma_20:1m") == str(149 * 0.5)
    assert 590 < cache.ttl("feature:MSFT:rsi_14:1m") <= 600
    history = cache.history("feature_history:MSFT:rsi_14:1m")
    assert len(history) == 50 and history[0] == (f"{last.timestamp():.1f}:{149 * 0.5 + 1 + 100}", last.timestamp())
    assert [score for _, score in history] == sorted((score for _, score in history), reverse=True)
    before = snapshot(cache)
    assert len(before) == 8
    cache.client.flushall()
    refresh(feature_cache, db, cache, partitions=["2024-03-07"], history=50, ttl_seconds=600)
    assert snapshot(cache) == before


def test_a_changed_value_replaces_its_history_entry(db, cache):
    rows = write_features(db, minutes=10, symbols=("AAPL",))
    refresh(feature_cache, db, cache, partitions=["2024-03-07"])
    db.write("features", rows.tail(1).with_columns(pl.lit(999.0).alias("feature_value")))
    refresh(feature_cache, db, cache, partitions=["2024-03-07"])
    history = cache.history("feature_history:AAPL:rsi_14:1m")
    assert len(history) == 10 and history[0][0].endswith(":999.0")
    assert cache.get("feature:AAPL:rsi_14:1m") == "999.0"


def test_model_cache_mirrors_models_and_recent_predictions(db, cache, sql_conn):
    model_id = str(uuid.uuid4())
    sql_conn.execute(
        "INSERT INTO models VALUES (%s, 'direction', 'xgboost', 'next_bar_direction', '{sig}', %s, %s, now(), now(),"
        " '3', 'active', '/models/x.ubj')",
        (model_id, json.dumps({"training_data": {"end": "2024-03-06T00:00:00+00:00"}}),
         json.dumps({"held_out": {"auc": 0.61}})))
    for i in range(5):
        sql_conn.execute("INSERT INTO trading_signals VALUES (%s, %s, 'AAPL', 'buy', 0.7, %s, '1m', '{}', '{}')",
                         (str(uuid.uuid4()), T0 + timedelta(minutes=i), model_id))
    refresh(model_cache, db, cache, history=3)
    meta = cache.get_hash(f"model:{model_id}:metadata")
    assert (meta["status"], meta["version"], meta["held_out_auc"], meta["features"]) == ("active", "3", "0.61", "sig")
    predictions = cache.history(f"model:{model_id}:predictions:AAPL")
    assert len(predictions) == 3 and predictions[0][1] == (T0 + timedelta(minutes=4)).timestamp()
    assert json.loads(predictions[0][0])["signal_type"] == "buy"


def test_trading_cache_mirrors_positions_orders_and_the_emergency_stop(db, cache, sql_conn):
    now = datetime.now(UTC)

    def position(symbol: str, status: str) -> None:
        sql_conn.execute("INSERT INTO positions VALUES (%s, %s, 10, 100, 101, %s, %s, NULL, %s, 10, 1, NULL)",
                         (str(uuid.uuid4()), symbol, now, now, status))

    position("AAPL", "open")
    position("MSFT", "open")
    pending, filled = str(uuid.uuid4()), str(uuid.uuid4())
    for order_id, status in ((pending, "accepted"), (filled, "filled")):
        sql_conn.execute("INSERT INTO orders (order_id, timestamp, symbol, order_type, side, quantity, status,"
                         " updated_at) VALUES (%s, %s, 'AAPL', 'market', 'buy', 10, %s, %s)",
                         (order_id, now, status, now))
    refresh(trading_cache, db, cache)
    assert cache.members("active_positions") == {"AAPL", "MSFT"}
    assert cache.get_hash("position:AAPL")["quantity"] == "10.000000"
    assert cache.members("pending_orders") == {pending}
    assert cache.get_hash(f"order:{filled}")["status"] == "filled"
    assert json.loads(cache.get("emergency:status"))["active"] is False

    sql_conn.execute("UPDATE positions SET status = 'closed' WHERE symbol = 'MSFT'")
    event = str(uuid.uuid4())
    sql_conn.execute("INSERT INTO emergency_events VALUES (%s, now(), 'manual', 'critical', 'test stop',"
                     " 'cancel_orders', 0, 0, NULL, 'tester', NULL)", (event,))
    refresh(trading_cache, db, cache)
    assert cache.members("active_positions") == {"AAPL"}
    assert cache.get_hash("position:MSFT") == {}
    status = json.loads(cache.get("emergency:status"))
    assert status["active"] is True and status["event_id"] == event and status["description"] == "test stop"


def test_status_cache_reports_components_and_halts_on_an_unresolved_stop(db, cache, sql_conn):
    refresh(status_cache, db, cache)
    assert cache.get_hash("component:timescaledb:status")["status"] == "ok"
    assert cache.get_hash("system:status")["status"] == "ok"
    sql_conn.execute("INSERT INTO emergency_events VALUES (%s, now(), 'manual', 'critical', 'stop', 'none', 0, 0,"
                     " NULL, 'tester', NULL)", (str(uuid.uuid4()),))
    refresh(status_cache, db, cache)
    assert cache.get_hash("system:status")["status"] == "halted"


def test_the_feature_sensor_requests_each_new_partition_once_even_across_a_restart(db, cache, fake_polygon):
    instance = dg.DagsterInstance.ephemeral()
    write_features(db)
    run([features], feature_resources(db), "2024-03-07", instance=instance)
    first = feature_cache_sensor(dg.build_sensor_context(instance=instance))
    [request] = first.run_requests
    assert request.run_config["ops"]["feature_cache"]["config"]["partitions"] == ["2024-03-07"]
    assert isinstance(feature_cache_sensor(dg.build_sensor_context(instance=instance, cursor=first.cursor)),
                      dg.SkipReason)
    run([features], feature_resources(db), "2024-03-08", instance=instance)
    run([features], feature_resources(db), "2024-03-11", "2024-03-12", instance=instance)
    restarted = feature_cache_sensor(dg.build_sensor_context(instance=instance, cursor=first.cursor))
    [request] = restarted.run_requests
    assert request.run_config["ops"]["feature_cache"]["config"]["partitions"] == [
        "2024-03-08", "2024-03-11", "2024-03-12"]
    assert request.run_key != first.run_requests[0].run_key


def test_the_trading_sensor_fires_only_when_the_tables_change(db, sql_conn):
    def evaluate(cursor: str | None):
        with dg.build_sensor_context(cursor=cursor, resources={"timescale": db}) as context:
            return trading_cache_sensor(context)

    first = evaluate(None)
    assert len(first.run_requests) == 1
    assert isinstance(evaluate(first.cursor), dg.SkipReason)
    now = datetime.now(UTC)
    sql_conn.execute("INSERT INTO orders (order_id, timestamp, symbol, order_type, side, quantity, status, updated_at)"
                     " VALUES (%s, %s, 'AAPL', 'market', 'buy', 1, 'new', %s)", (str(uuid.uuid4()), now, now))
    changed = evaluate(first.cursor)
    assert len(changed.run_requests) == 1 and changed.cursor != first.cursor


def test_with_redis_down_the_database_is_still_written_and_the_sensor_catches_up(db, cache, sql_conn,
                                                                                  fake_polygon):
    instance = dg.DagsterInstance.ephemeral()
    run([stock_aggs], market_resources(db, fake_polygon, stocks="AAPL"), "2024-03-07")
    down = RedisResource(redis_url="redis://127.0.0.1:1/0")  # nothing listens there
    result = dg.materialize([features, feature_cache], resources={**feature_resources(db), "redis": down},
                            instance=instance, partition_key="2024-03-07", raise_on_error=False)
    assert not result.success  # the cache refresh failed ...
    assert [e.asset_key.to_user_string() for e in result.get_asset_materialization_events()] == ["features"]
    stored = sql_conn.execute("SELECT count(*) FROM features WHERE symbol = 'AAPL'").fetchone()[0]
    assert stored > 5_000  # ... the features landed all the same
    [request] = feature_cache_sensor(dg.build_sensor_context(instance=instance)).run_requests
    refresh(feature_cache, db, cache, **request.run_config["ops"]["feature_cache"]["config"])
    latest = sql_conn.execute("SELECT feature_value::float8 FROM features WHERE symbol = 'AAPL' AND timeframe = '1m'"
                              " AND feature_name = 'sma_20_vs_close' ORDER BY timestamp DESC LIMIT 1").fetchone()[0]
    assert float(cache.get("feature:AAPL:sma_20_vs_close:1m")) == latest


def test_the_bulk_path_reports_error_replies(cache):
    cache.set_values({"a-string": "x"})
    frame = pl.DataFrame({"key": ["a-string"]})
    with pytest.raises(redis_py.ResponseError, match="WRONGTYPE"):
        cache.send_encoded(encode(frame, ["ZADD", pl.col("key"), "1", "m"]))
    with pytest.raises(ValueError, match="bad symbol"):
        redis_keys.FEATURE.column(pl.DataFrame({"s": ["BAD SYMBOL"], "f": ["x"], "t": ["1m"]}),
                                  symbol="s", feature_name="f", timeframe="t")


def test_each_strategys_positions_have_their_own_keys_and_position_symbol_sums_them(db, cache, sql_conn):
    now = datetime.now(UTC)
    strategies = {}
    for name, quantity, entry in (("alpha", 10, 100), ("beta", 30, 120)):
        strategies[name] = str(uuid.uuid4())
        sql_conn.execute("INSERT INTO strategies (strategy_id, name) VALUES (%s, %s)", (strategies[name], name))
        sql_conn.execute("INSERT INTO positions VALUES (%s, 'AAPL', %s, %s, 130, %s, %s, %s, 'open', 10, 1, NULL)",
                         (str(uuid.uuid4()), quantity, entry, now, now, strategies[name]))
    refresh(trading_cache, db, cache)
    alpha, beta = (f"strategy:{strategies[n]}:position:AAPL" for n in ("alpha", "beta"))
    assert cache.get_hash(alpha)["quantity"] == "10.000000" and cache.get_hash(beta)["quantity"] == "30.000000"
    assert cache.members(f"strategy:{strategies['alpha']}:positions") == {"AAPL"}
    together = cache.get_hash("position:AAPL")  # the spec's key: the symbol across strategies, no longer either
    assert (together["quantity"], together["entry_price"], together["pnl"]) == ("40.000000", "115.000000",
                                                                                "20.000000")
    sql_conn.execute("UPDATE positions SET status = 'closed' WHERE strategy_id = %s", (strategies["alpha"],))
    refresh(trading_cache, db, cache)
    assert cache.get_hash(alpha) == {} and cache.members(f"strategy:{strategies['alpha']}:positions") == set()
    assert cache.get_hash("position:AAPL")["quantity"] == "30.000000"
