"""Resources the monitoring domain uses."""

from ats_pipelines.resources import RedisResource, TimescaleResource

resources = {"timescale": TimescaleResource(), "redis": RedisResource()}
