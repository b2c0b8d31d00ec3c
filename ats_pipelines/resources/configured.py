"""The resource instances of the code location, configured from the environment. Every domain's
``resources.py`` picks from these, so merged definitions share one instance per key."""

import dagster as dg

from ats_pipelines.resources.brokers import BrokerResource
from ats_pipelines.resources.model_store import ModelStoreResource
from ats_pipelines.resources.polygon import PolygonResource
from ats_pipelines.resources.redis_cache import RedisResource
from ats_pipelines.resources.timescale import TimescaleResource
from ats_pipelines.resources.universe import UniverseResource
from ats_pipelines.resources.unusual_whales import UnusualWhalesResource

timescale = TimescaleResource()
redis = RedisResource()
polygon = PolygonResource(api_key=dg.EnvVar("POLYGON_API_KEY"), redis=redis)  # the key's rate shared by every run
universe = UniverseResource()
model_store = ModelStoreResource()
unusual_whales = UnusualWhalesResource(api_key=dg.EnvVar("UNUSUAL_WHALES_API_KEY"), redis=redis)
broker = BrokerResource(redis=redis)
