"""Resources: the only way assets touch storage (TimescaleDB, Redis) and external services."""

from ats_pipelines.resources.model_store import ModelIntegrityError, ModelStoreResource
from ats_pipelines.resources.polygon import PolygonResource
from ats_pipelines.resources.redis_cache import RedisResource
from ats_pipelines.resources.timescale import TimescaleResource
from ats_pipelines.resources.universe import UniverseResource
from ats_pipelines.resources.unusual_whales import UnusualWhalesResource

__all__ = ["ModelIntegrityError", "ModelStoreResource", "PolygonResource", "RedisResource", "TimescaleResource",
           "UniverseResource", "UnusualWhalesResource"]
