"""Resources: the only way assets touch storage (TimescaleDB, Redis) and external services."""

from ats_pipelines.resources.redis_cache import RedisResource
from ats_pipelines.resources.timescale import TimescaleResource

__all__ = ["RedisResource", "TimescaleResource"]
