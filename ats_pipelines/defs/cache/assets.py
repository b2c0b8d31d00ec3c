"""Cache assets: each rebuilds one family of Redis keys from the database (see refresh.py).

They are launched by the sensors in sensors.py when what they mirror changes; run one by hand after a
``FLUSHALL`` and the keys are back.
"""

from datetime import UTC, date, datetime, timedelta

import dagster as dg
from pydantic import Field

from ats_pipelines.defs.cache import refresh
from ats_pipelines.resources import RedisResource, TimescaleResource
from ats_pipelines.sql_files import read_sql_beside

LATEST_FEATURE_TIME_SQL = read_sql_beside(__file__, "latest_feature_time.sql")
CACHE = {"group_name": "cache", "kinds": {"python", "redis"}}


class FeatureCacheConfig(dg.Config):
    """Which features to mirror and how much of them."""

    partitions: list[str] = Field(default=[], description="feature partitions (UTC dates) whose series to refresh; "
                                  "empty: every series with a value in the lookback_days up to the newest feature")
    lookback_days: int = Field(default=7, description="the window of a refresh without partitions")
    history: int = Field(default=100, description="values kept in each feature_history sorted set")
    ttl_seconds: int = Field(default=3 * 86_400, description="expiry of the latest-value keys")

    def window(self, latest: datetime | None) -> tuple[datetime, datetime]:
        """The partitions' days, or the lookback before ``latest`` (the newest stored feature time)."""
        if self.partitions:
            days = sorted(date.fromisoformat(p) for p in self.partitions)
            return (datetime.combine(days[0], datetime.min.time(), UTC),
                    datetime.combine(days[-1] + timedelta(days=1), datetime.min.time(), UTC))
        end = (latest or datetime.now(UTC)) + timedelta(microseconds=1)
        return end - timedelta(days=self.lookback_days), end


@dg.asset(**CACHE, deps=["features"], description="Redis feature:{symbol}:{feature}:{timeframe} (latest value, "
          "with a TTL) and feature_history:* (the newest values, scored by epoch seconds), from the features table.")
def feature_cache(config: FeatureCacheConfig, timescale: TimescaleResource, redis: RedisResource
                  ) -> dg.MaterializeResult:
    window = config.window(None if config.partitions else timescale.read(LATEST_FEATURE_TIME_SQL).item())
    done = refresh.refresh_features(timescale, redis, window, config.history, config.ttl_seconds)
    return dg.MaterializeResult(metadata={**done.as_metadata(), "window": f"{window[0]} .. {window[1]}"})


class ModelCacheConfig(dg.Config):
    history: int = Field(default=100, description="signals kept per model and symbol")


@dg.asset(**CACHE, deps=["models", "trading_signals"], description="Redis model:{id}:metadata of every model and "
          "model:{id}:predictions:{symbol} (the newest signals), from models and trading_signals.")
def model_cache(config: ModelCacheConfig, timescale: TimescaleResource, redis: RedisResource) -> dg.MaterializeResult:
    return dg.MaterializeResult(metadata=refresh.refresh_models(timescale, redis, config.history).as_metadata())


class TradingCacheConfig(dg.Config):
    order_days: int = Field(default=7, description="finished orders stay cached this many days after their update")


@dg.asset(**CACHE, description="Redis active_positions, position:{symbol} (across strategies), each strategy's "
          "strategy:{id}:positions and strategy:{id}:position:{symbol}, order:{order_id}, pending_orders and "
          "emergency:status, from positions, orders and emergency_events.")
def trading_cache(config: TradingCacheConfig, timescale: TimescaleResource, redis: RedisResource
                  ) -> dg.MaterializeResult:
    return dg.MaterializeResult(metadata=refresh.refresh_trading(timescale, redis, config.order_days).as_metadata())


@dg.asset(**CACHE, description="Redis system:status and component:{name}:status from the database, the Dagster "
          "daemon's heartbeats, recent run failures and the emergency stop.")
def status_cache(context: dg.AssetExecutionContext, timescale: TimescaleResource, redis: RedisResource
                 ) -> dg.MaterializeResult:
    return dg.MaterializeResult(metadata=refresh.refresh_status(timescale, redis, context.instance).as_metadata())
