"""The resource instances of the code location, configured from the environment. Every domain's
``resources.py`` picks from these, so merged definitions share one instance per key."""

import dagster as dg

from ats_pipelines.resources.polygon import PolygonResource
from ats_pipelines.resources.redis_cache import RedisResource
from ats_pipelines.resources.timescale import TimescaleResource
from ats_pipelines.resources.universe import UniverseResource

timescale = TimescaleResource()
redis = RedisResource()
polygon = PolygonResource(api_key=dg.EnvVar("POLYGON_API_KEY"))
universe = UniverseResource()
